"""Per-candidate pile-up identification: how well a method's score separates the
candidates of the leading interaction (``true_label == 1``, signal) from pile-up (0).
The figures of the ``pileup`` evaluation kind.

Each method gives a score per candidate, higher meaning more signal-like (the GNN's
``hit_score``, the PUPPI weight, 0/1 for SoftKiller and CHS). Figures per population of
candidates (``POPULATIONS``): the ROC AUC with its error (``metrics.auc_error``), the
signal efficiency at 10 % and 1 % background efficiency (linear interpolation between
ROC points), and the working point ``score >= 0.5``. A method whose score takes at most
two values has only that working point; its AUC and fixed-background efficiencies are
not reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .measured import measured
from .metrics import auc_error, efficiency_at_background, roc_auc, roc_curve, working_point

BACKGROUND_EFFICIENCIES = (0.1, 0.01)
"""Background efficiencies at which the signal efficiency is reported."""


@dataclass(frozen=True)
class Population:
    """Candidates with ``pT > min_pt`` (GeV) and the given charge: ``charged`` True
    (charge != 0), False (charge == 0) or None (any)."""

    description: str
    min_pt: float
    charged: bool | None = None

    def select(self, pt: np.ndarray, charge: np.ndarray) -> np.ndarray:
        """Boolean mask of the candidates in the population (pT in GeV)."""
        mask = np.asarray(pt) > self.min_pt
        if self.charged is not None:
            mask &= (np.asarray(charge) != 0) == self.charged
        return mask


POPULATIONS = {
    "all": Population("all candidates, pT > 0.5 GeV", 0.5),
    "charged": Population("charged candidates, pT > 0.5 GeV", 0.5, charged=True),
    "neutral": Population("neutral candidates, pT > 0.5 GeV", 0.5, charged=False),
    "neutral_pt1": Population("neutral candidates, pT > 1 GeV", 1.0, charged=False),
    "neutral_pt2": Population("neutral candidates, pT > 2 GeV", 2.0, charged=False),
}
"""Candidate selections of ``particle_report``: ``all``, ``charged``, ``neutral`` (each
pT > 0.5 GeV), ``neutral_pt1`` (neutral, pT > 1 GeV), ``neutral_pt2`` (neutral, pT > 2 GeV)."""


def _method_figures(labels: np.ndarray, score: np.ndarray) -> dict:
    figures = {"working_point": working_point(labels, score)}
    if np.unique(score).size < 2:
        return figures
    fpr, tpr, _ = roc_curve(labels, score)
    auc, background = roc_auc(labels, score), int((~labels).sum())
    figures |= measured("auc", auc, auc_error(auc, int(labels.sum()), background), 5)
    for target in BACKGROUND_EFFICIENCIES:
        # fewer than 1 / target background candidates: no cut lets exactly that fraction through
        value = float(efficiency_at_background(fpr, tpr, target)) if background * target >= 1 else None
        figures[f"signal_efficiency_at_background_{target:g}"] = round(value, 5) if value is not None else None
    return figures


def particle_report(labels: np.ndarray, pt: np.ndarray, charge: np.ndarray,
                    scores: dict[str, np.ndarray]) -> dict:
    """Per population (keys of ``POPULATIONS``): ``description``, ``candidates``,
    ``signal_fraction`` and, per method of ``scores`` (one score per candidate),
    ``working_point`` (``threshold``, ``signal_efficiency``, ``background_efficiency``)
    and, for scores with two values or more, ``auc`` and
    ``signal_efficiency_at_background_0.1`` / ``_0.01`` (None when the population has
    fewer than 10 / 100 background candidates). A keep-or-drop score (CHS) has two
    values: its ROC curve is its one working point joined to (0, 0) and (1, 1), and its
    efficiencies at a background level are those of keeping a random part of what it keeps.
    pT in GeV; labels 1 = leading interaction."""
    labels = np.asarray(labels) == 1
    for name, score in scores.items():
        if np.shape(score) != labels.shape:
            raise ValueError(f"score {name!r} has shape {np.shape(score)}, expected one per candidate {labels.shape}")
    report = {}
    for key, population in POPULATIONS.items():
        mask = population.select(pt, charge)
        entry = {"description": population.description, "candidates": int(mask.sum()),
                 "signal_fraction": round(float(labels[mask].mean()), 5) if mask.any() else None}
        if labels[mask].any() and not labels[mask].all():
            entry["methods"] = {name: _method_figures(labels[mask], np.asarray(score)[mask])
                                for name, score in scores.items()}
        else:
            entry["note"] = "needs signal and pile-up candidates"
        report[key] = entry
    return report
