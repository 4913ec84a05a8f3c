"""Classification metrics on plain arrays (labels 0/1, scores any real).

A NaN score is an event or hit that was not scored (``reconstruct`` writes NaN for an
event without hits): it passes no cut on the score, and on a ROC curve it ranks below
every scored one (``ranked``), so it counts in every efficiency's denominator and in no
numerator until the curve's last point, where everything is kept."""

from __future__ import annotations

import numpy as np

WORKING_POINT = 0.5
"""A hit or candidate is kept when its score is at least this."""


def ranked(scores: np.ndarray) -> np.ndarray:
    """``scores`` as float64 with NaN (not scored) made -inf: below every scored entry."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.where(np.isnan(scores), -np.inf, scores)


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct score threshold (descending), and
    those thresholds. Ties in score move together; NaN scores rank lowest (``ranked``)."""
    labels, scores = np.asarray(labels, dtype=bool), ranked(scores)
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    distinct = np.flatnonzero(scores[1:] != scores[:-1])  # not np.diff: -inf - -inf is NaN
    last = np.concatenate([distinct, [scores.size - 1]]) if scores.size else np.array([], dtype=int)
    true_positive = np.cumsum(labels)[last]
    false_positive = (last + 1) - true_positive
    tpr = np.concatenate([[0.0], true_positive / max(labels.sum(), 1)])
    fpr = np.concatenate([[0.0], false_positive / max((~labels).sum(), 1)])
    return fpr, tpr, np.concatenate([[np.inf], scores[last]])


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids; ties count one half)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.trapezoid(tpr, fpr))


def auc_error(auc: float, positives: int, negatives: int) -> float:
    """Standard error of a ROC AUC from ``positives`` signal and ``negatives`` background
    entries (Hanley & McNeil 1982, Radiology 143, 29: exact for exponential scores, close
    for others; entries treated as independent)."""
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc ** 2)
                + (negatives - 1) * (q2 - auc ** 2)) / max(positives * negatives, 1)
    return float(np.sqrt(max(variance, 0.0)))


def precision_recall(labels: np.ndarray, selected: np.ndarray) -> tuple[float, float]:
    """Precision and recall of a boolean selection against boolean labels."""
    labels, selected = np.asarray(labels, dtype=bool), np.asarray(selected, dtype=bool)
    hits = np.sum(labels & selected)
    return float(hits / max(selected.sum(), 1)), float(hits / max(labels.sum(), 1))


def efficiency_at_background(fpr: np.ndarray, tpr: np.ndarray, background: np.ndarray | float) -> np.ndarray:
    """Signal efficiency of a ROC curve (``roc_curve``'s non-decreasing ``fpr``, ``tpr``)
    at background efficiency ``background``: the highest ``tpr`` where ``fpr`` equals
    it, else linear between the two neighbouring points (a random mix of the two cuts)."""
    fpr, tpr = np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    below = np.clip(np.searchsorted(fpr, background, side="right") - 1, 0, fpr.size - 1)
    above = np.minimum(below + 1, fpr.size - 1)
    span = fpr[above] - fpr[below]
    step = np.divide(background - fpr[below], span, out=np.zeros_like(span), where=span > 0)
    return tpr[below] + (tpr[above] - tpr[below]) * np.clip(step, 0.0, 1.0)


def working_point(labels: np.ndarray, score: np.ndarray) -> dict:
    """Signal and background efficiency of ``score >= WORKING_POINT``."""
    labels, kept = np.asarray(labels, dtype=bool), np.asarray(score) >= WORKING_POINT
    return {"threshold": WORKING_POINT, "signal_efficiency": round(float(kept[labels].mean()), 5),
            "background_efficiency": round(float(kept[~labels].mean()), 5)}
