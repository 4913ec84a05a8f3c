"""Background rejection at fixed signal efficiency, and the reverse, with their statistics."""

from __future__ import annotations

import numpy as np

from .measured import UPPER_LIMIT, fraction

POISSON_90_ZERO = 2.303
"""90 % CL upper limit on a Poisson mean when no event is observed (Feldman & Cousins:
2.44; the classical one-sided limit used here: -ln 0.1)."""


def _cut_keeping(scores: np.ndarray, fraction: float) -> float | None:
    """The cut ``score >= cut`` that keeps ``fraction`` of all ``scores`` (quantile of the
    scored ones, linear between neighbours); -inf when that keeps every scored one and
    more is asked, None when ``fraction`` is more than the scored share of the sample
    (NaN: not scored, never kept)."""
    scored = scores[~np.isnan(scores)]
    if fraction * scores.size > scored.size:
        return None
    return float(np.quantile(scored, 1.0 - fraction * scores.size / scored.size)) if scored.size else -np.inf


def rejection_at_efficiency(signal: np.ndarray, background: np.ndarray, efficiency: float) -> dict:
    """Cut on the score keeping ``efficiency`` of the signal; the background rejection
    (background events / background events passing), how many passed and their
    ``passing_fraction`` with its error. With none passing, the rejection is a lower
    limit at 90 % CL, and the passing fraction an upper limit. Events without a score (NaN)
    pass no cut: when fewer than ``efficiency`` of the signal has one, the efficiency is
    out of reach and there is no rejection (``threshold`` None, with a ``note``)."""
    signal, background = np.asarray(signal, dtype=np.float64), np.asarray(background, dtype=np.float64)
    threshold = _cut_keeping(signal, efficiency)
    result = {"efficiency": efficiency, "threshold": threshold, "background_events": int(background.size)}
    if threshold is None:
        scored = int(np.sum(~np.isnan(signal)))
        return result | {"note": f"only {scored} of {signal.size} signal events have a score"}
    passing = int(np.sum(background >= threshold))
    result["background_passing"] = passing
    if passing:
        result["rejection"] = background.size / passing
        result |= fraction("passing_fraction", passing / background.size, background.size, 6)
    else:
        result["rejection_lower_limit_90cl"] = background.size / POISSON_90_ZERO
        if background.size:
            result["passing_fraction" + UPPER_LIMIT] = round(POISSON_90_ZERO / background.size, 6)
    return result


def efficiency_at_rejection(signal: np.ndarray, background: np.ndarray, rejection: float) -> dict:
    """Signal efficiency of the cut letting ``1 / rejection`` of the background through;
    not measurable when the background sample is smaller than ``rejection``. Events
    without a score (NaN) pass no cut."""
    signal, background = np.asarray(signal, dtype=np.float64), np.asarray(background, dtype=np.float64)
    result = {"rejection": rejection, "background_events": int(background.size)}
    if background.size < rejection:
        result["efficiency"] = None
        result["note"] = f"needs at least {int(rejection)} background events"
        return result
    threshold = _cut_keeping(background, 1.0 / rejection)
    threshold = -np.inf if threshold is None else threshold  # fewer scored than let through: every scored one
    result["efficiency"] = float(np.mean(signal > threshold))
    result["background_passing"] = int(np.sum(background > threshold))
    return result
