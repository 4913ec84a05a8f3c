"""Directions on the sphere, the coverage of reported uncertainties and the statistical
errors of measured figures: the statistics that stages (calibration) and evaluation
(scores) both need.

A 1-sigma (or 68 % cone) uncertainty covers when 68.27 % (68 %) of true values fall
within it. ``calibration_scale`` is the factor that makes a validation sample cover
exactly; applied to new events it is the standard recalibration of an uncertainty.
Directions are where the particle comes from (the event format's convention).

Errors are one standard deviation: ``binomial_error`` for fractions (efficiencies,
coverages), ``quantile_error`` from order statistics for medians and quantiles,
``bootstrap_error`` for anything else computed from a sample (resolutions, ratios).
``rounded_error`` keeps the two significant digits a quoted error needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

ONE_SIGMA = 0.6827
"""Probability content of +-1 sigma of a Gaussian."""
BOOTSTRAP_RESAMPLES = 200
"""Resamples of ``bootstrap_error``: its own relative error is about 1 / sqrt(2 * 200) = 5 %."""


def coverage(errors: np.ndarray, uncertainties: np.ndarray) -> float:
    """Fraction of events whose error (absolute residual, or angle) lies within their
    reported uncertainty (1 sigma, or the radius of the 68 % cone); shapes (n,)."""
    return float(np.mean(np.abs(errors) <= uncertainties))


def calibration_scale(errors: np.ndarray, uncertainties: np.ndarray, target: float = ONE_SIGMA) -> float:
    """Factor s such that ``coverage(errors, s * uncertainties) == target`` on this sample."""
    return float(np.quantile(np.abs(errors) / uncertainties, target))


def unit_vectors(zenith: np.ndarray, azimuth: np.ndarray) -> np.ndarray:
    """(..., 3) unit vectors pointing where the particle comes from; zenith and azimuth
    (...) in rad."""
    zenith, azimuth = np.asarray(zenith, dtype=np.float64), np.asarray(azimuth, dtype=np.float64)
    sin_zenith = np.sin(zenith)
    return np.stack([sin_zenith * np.cos(azimuth), sin_zenith * np.sin(azimuth), np.cos(zenith)], axis=-1)


def zenith_azimuth(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zenith in [0, pi] and azimuth in [0, 2 pi) (rad) of (..., 3) vectors of any norm."""
    norm = np.maximum(np.linalg.norm(vectors, axis=-1), 1e-30)
    zenith = np.arccos(np.clip(vectors[..., 2] / norm, -1.0, 1.0))
    return zenith, np.mod(np.arctan2(vectors[..., 1], vectors[..., 0]), 2 * np.pi)


def opening_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (rad) between the unit vectors of two (..., 3) arrays (broadcast)."""
    return np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0))


def half_width(values: np.ndarray) -> float:
    """Half the central ``ONE_SIGMA`` interval of ``values`` (n,): a Gaussian's sigma, robust to tails."""
    low, high = np.quantile(values, [0.5 - ONE_SIGMA / 2, 0.5 + ONE_SIGMA / 2])
    return float((high - low) / 2)


def binomial_error(fraction: float, trials: int) -> float:
    """Error of a ``fraction`` of ``trials`` (an efficiency, a coverage): the standard
    deviation of its posterior with a uniform prior, Beta(k + 1, n - k + 1) for k = fraction
    * n. It is sqrt(p (1 - p) / n) for 0 << k << n and not zero at k = 0 or n."""
    k, n = fraction * trials, trials
    return math.sqrt((k + 1) * (n - k + 1) / ((n + 2) ** 2 * (n + 3)))


def quantile_error(values: np.ndarray, q: float) -> float:
    """Error of the ``q`` quantile of ``values`` (n,), free of any assumed distribution: half
    the distance between the quantiles q -+ sqrt(q (1 - q) / n), where the binomial
    spread of the number of values below the quantile puts them (order statistics)."""
    spread = math.sqrt(q * (1 - q) / max(np.size(values), 1))
    low, high = np.quantile(values, [max(q - spread, 0.0), min(q + spread, 1.0)])
    return float((high - low) / 2)


def bootstrap_error(statistic: Callable[[np.ndarray], float], values: np.ndarray,
                    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> float:
    """Error of ``statistic(values)``: its standard deviation over ``resamples`` samples of
    ``values`` (n, ...) drawn with replacement along the first axis (fixed ``seed``: the
    same sample gives the same error)."""
    values = np.asarray(values)
    rng = np.random.default_rng(seed)
    return float(np.std([statistic(values[rng.integers(0, len(values), len(values))]) for _ in range(resamples)],
                        ddof=1))


def rounded_error(error: float) -> float:
    """``error`` to two significant digits, all that quoting it needs; 0 stays 0."""
    return float(f"{error:.2g}")


def prior_under_shift(probability: np.ndarray, source_prior: float, tolerance: float = 1e-7,
                      iterations: int = 1000) -> float:
    """The fraction of a class among unlabelled samples whose class probabilities
    ``probability`` (n,) a classifier gives that was trained where the class made up
    ``source_prior``, for a prior shift (the class-conditional densities unchanged, only
    the class fractions moved): the EM estimate of Saerens, Latinne & Decaestecker
    (Neural Computation 14 (2002) 21), iterating ``prior = mean(posterior)`` with each
    posterior reweighted by the ratio of the new prior to the source's."""
    probability = np.clip(np.asarray(probability, dtype=np.float64), 0.0, 1.0)
    prior = source_prior
    for _ in range(iterations):
        up, down = prior / source_prior, (1.0 - prior) / (1.0 - source_prior)
        updated = float(np.mean(up * probability / (up * probability + down * (1.0 - probability))))
        if abs(updated - prior) < tolerance:
            return updated
        prior = updated
    return prior


def central_levels(samples: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(events,) the probability of the smallest central interval of each event's samples
    (events, n) that holds its truth (events,): 2 |F(truth) - 1/2|, F the samples'
    distribution function."""
    return np.abs(2 * np.mean(samples < truth[:, None], axis=1) - 1)
