"""Directions on the sphere and the coverage of reported uncertainties: the statistics
that stages (calibration) and evaluation (scores) both need.

A 1-sigma (or 68 % cone) uncertainty covers when 68.27 % (68 %) of true values fall
within it. ``calibration_scale`` is the factor that makes a validation sample cover
exactly; applied to new events it is the standard recalibration of an uncertainty.
Directions are where the particle comes from (the event format's convention).
"""

from __future__ import annotations

import numpy as np

ONE_SIGMA = 0.6827
"""Probability content of +-1 sigma of a Gaussian."""


def coverage(errors: np.ndarray, uncertainties: np.ndarray) -> float:
    """Fraction of events whose error (absolute residual, or angle) lies within their
    reported uncertainty (1 sigma, or the radius of the 68 % cone); shapes (n,)."""
    return float(np.mean(np.abs(errors) <= uncertainties))


def calibration_scale(errors: np.ndarray, uncertainties: np.ndarray, target: float = ONE_SIGMA) -> float:
    """Factor s such that ``coverage(errors, s * uncertainties) == target`` on this sample."""
    return float(np.quantile(np.abs(errors) / uncertainties, target))


def unit_vectors(zenith: np.ndarray, azimuth: np.ndarray) -> np.ndarray:
    """(n, 3) unit vectors pointing where the particle comes from; zenith and azimuth (n,) in rad."""
    zenith, azimuth = np.asarray(zenith, dtype=np.float64), np.asarray(azimuth, dtype=np.float64)
    sin_zenith = np.sin(zenith)
    return np.stack([sin_zenith * np.cos(azimuth), sin_zenith * np.sin(azimuth), np.cos(zenith)], axis=1)


def zenith_azimuth(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zenith in [0, pi] and azimuth in [0, 2 pi) (rad) of (n, 3) vectors of any norm."""
    norm = np.maximum(np.linalg.norm(vectors, axis=1), 1e-30)
    zenith = np.arccos(np.clip(vectors[:, 2] / norm, -1.0, 1.0))
    return zenith, np.mod(np.arctan2(vectors[:, 1], vectors[:, 0]), 2 * np.pi)


def opening_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (rad) between rows of two (n, 3) arrays of unit vectors."""
    return np.arccos(np.clip(np.sum(a * b, axis=1), -1.0, 1.0))
