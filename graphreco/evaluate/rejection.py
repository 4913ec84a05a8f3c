"""Background rejection at fixed signal efficiency, and the reverse, with their statistics."""

from __future__ import annotations

import numpy as np

POISSON_90_ZERO = 2.303
"""90 % CL upper limit on a Poisson mean when no event is observed (Feldman & Cousins:
2.44; the classical one-sided limit used here: -ln 0.1)."""


def rejection_at_efficiency(signal: np.ndarray, background: np.ndarray, efficiency: float) -> dict:
    """Cut on the score keeping ``efficiency`` of the signal; the background rejection
    (background events / background events passing) and how many passed. With none
    passing, the rejection is a lower limit at 90 % CL."""
    threshold = float(np.quantile(signal, 1.0 - efficiency))
    passing = int(np.sum(background >= threshold))
    result = {"efficiency": efficiency, "threshold": threshold, "background_events": int(background.size),
              "background_passing": passing}
    if passing:
        result["rejection"] = background.size / passing
    else:
        result["rejection_lower_limit_90cl"] = background.size / POISSON_90_ZERO
    return result


def efficiency_at_rejection(signal: np.ndarray, background: np.ndarray, rejection: float) -> dict:
    """Signal efficiency of the cut letting ``1 / rejection`` of the background through;
    not measurable when the background sample is smaller than ``rejection``."""
    result = {"rejection": rejection, "background_events": int(background.size)}
    if background.size < rejection:
        result["efficiency"] = None
        result["note"] = f"needs at least {int(rejection)} background events"
        return result
    threshold = float(np.quantile(background, 1.0 - 1.0 / rejection))
    result["efficiency"] = float(np.mean(signal > threshold))
    result["background_passing"] = int(np.sum(background > threshold))
    return result
