"""Classification metrics on plain arrays (labels 0/1, scores any real)."""

from __future__ import annotations

import numpy as np


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct score threshold (descending), and
    those thresholds. Ties in score move together."""
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    scores, labels = np.asarray(scores)[order], labels[order]
    distinct = np.flatnonzero(np.diff(scores)) if scores.size else np.array([], dtype=int)
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


def precision_recall(labels: np.ndarray, selected: np.ndarray) -> tuple[float, float]:
    """Precision and recall of a boolean selection against boolean labels."""
    labels, selected = np.asarray(labels, dtype=bool), np.asarray(selected, dtype=bool)
    hits = np.sum(labels & selected)
    return float(hits / max(selected.sum(), 1)), float(hits / max(labels.sum(), 1))
