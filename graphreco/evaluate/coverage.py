"""Do reported uncertainties mean what they say? Coverage and its recalibration.

A 1-sigma (or 68 % cone) uncertainty covers when 68.27 % (68 %) of true values fall
within it. ``calibration_scale`` is the factor that makes a validation sample cover
exactly; applied to new events it is the standard recalibration of an uncertainty.
"""

from __future__ import annotations

import numpy as np

ONE_SIGMA = 0.6827


def coverage(errors: np.ndarray, uncertainties: np.ndarray) -> float:
    """Fraction of events whose error (absolute residual, or angle) lies within their
    reported uncertainty (1 sigma, or the radius of the 68 % cone)."""
    return float(np.mean(np.abs(errors) <= uncertainties))


def calibration_scale(errors: np.ndarray, uncertainties: np.ndarray, target: float = ONE_SIGMA) -> float:
    """Factor s such that ``coverage(errors, s * uncertainties) == target`` on this sample."""
    return float(np.quantile(np.abs(errors) / uncertainties, target))
