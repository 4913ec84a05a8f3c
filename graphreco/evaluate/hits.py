"""The ``hits`` evaluation kind, for any detector whose truth has ``true_label``: how well
the GNN's ``hit_score`` picks the signal hits (``true_label > 0``), beside the hits the
detector's classical baseline keeps where it declares one.

Figures per method (``hit_figures``): precision and recall of ``score >= 0.5`` and, for a
score of more than two values, the ROC AUC. ``evaluate(..., plots=FOLDER)`` draws their
ROC (``FIGURES``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import detectors, progress
from ..io import EventFormatError, read_events
from .matching import hit_values, read_reco, reco_rows
from .measured import fraction, measured
from .metrics import WORKING_POINT, auc_error, precision_recall, roc_auc
from .plotting import FigureFolder, FigureNote, draw_roc

LABELS = {"gnn": "GNN", "baseline": "baseline"}
"""Each method's name in the figures."""
FIGURES = {
    "hits_roc.png": FigureNote("roc", "Signal hits kept against background hits kept, all events: the GNN's "
                                      "hit_score as a curve (with its AUC), the baseline's kept hits as a point."),
}


def hit_figures(signal: np.ndarray, score: np.ndarray) -> dict:
    """``precision`` and ``recall`` of ``score >= 0.5`` against the bool ``signal`` (one
    per hit) and, for a score of more than two values, ``auc``; each with its ``_error``
    (hits counted as independent)."""
    kept = score >= WORKING_POINT
    precision, recall = precision_recall(signal, kept)
    figures = {**fraction("precision", precision, int(kept.sum()), 5),
               **fraction("recall", recall, int(signal.sum()), 5)}
    if np.unique(score).size > 2:
        auc = roc_auc(signal, score)
        figures |= measured("auc", auc, auc_error(auc, int(signal.sum()), int((~signal).sum())), 5)
    return figures


def draw_hits(signal: np.ndarray, scores: dict[str, np.ndarray], folder: Path) -> list[Path]:
    """The ROC of each method's ``scores`` (one per hit; ``gnn``, ``baseline``) against the
    bool ``signal`` into ``folder``, when there are signal and background hits; returns
    the files written."""
    output = FigureFolder(folder)
    if signal.any() and not signal.all():
        background = int((~signal).sum())
        named = {LABELS[method]: score for method, score in scores.items()}
        colours = {label: f"C{index}" for index, label in enumerate(LABELS.values())}
        figure, axis = output.plt.subplots(figsize=(5, 4))
        draw_roc(axis, signal, named, colours, dict.fromkeys(colours, "o"), "background hits kept",
                 "signal hits kept", f"{int(signal.sum())} signal, {background} background hits",
                 min_background=10.0 ** np.floor(np.log10(1 / background)))
        output.save(figure, "hits_roc.png")
    return output.written


def evaluate(truth_path: str | Path, reco_path: str | Path, plots: str | Path | None = None,
             geometry: str | Path | None = None) -> dict:
    """``events`` and, per method (``gnn``: the ``hit_score`` of ``reco_path``, matched by
    ``event_id``; ``baseline``: the detector's, run here on the hits of ``truth_path``),
    the ``hit_figures`` against ``true_label > 0`` of ``truth_path``; with ``plots`` also
    ``plots``, the PNGs drawn into that folder."""
    reco = read_reco(reco_path)
    if "hit_score" not in reco.column_names:
        raise EventFormatError(str(reco_path), "the reconstruction has no hit score to evaluate", column="hit_score")
    reco_ids = reco.column("event_id").to_numpy()
    events, signal = 0, []
    scores: dict[str, list[np.ndarray]] = {"gnn": [], "baseline": []}
    for batch in read_events(truth_path, geometry=geometry):
        if "true_label" not in batch.hits:
            raise EventFormatError(str(truth_path), "the truth column true_label is needed to evaluate")
        rows = reco_rows(reco_ids, batch.event_id, reco_path)
        events += batch.event_id.size
        signal.append(batch.hits["true_label"] > 0)
        scores["gnn"].append(hit_values(reco.column("hit_score"), rows, batch.hits_per_event, batch.event_id,
                                        reco_path, "hit_score"))
        detector = detectors.get(batch.detector)
        baseline = {} if detector.baseline is None \
            else detector.baseline(batch.offsets, batch.hits, configuration=batch.configuration)
        if "hit_score" in baseline:
            scores["baseline"].append(np.asarray(baseline["hit_score"]))
        progress.advance(batch.n_events)
    truth = np.concatenate(signal) if signal else np.zeros(0, dtype=bool)
    joined = {method: np.concatenate(pieces) for method, pieces in scores.items() if pieces}
    report = {"events": events, "hits": {method: hit_figures(truth, score) for method, score in joined.items()}}
    if plots is not None:
        report["plots"] = [str(path) for path in draw_hits(truth, joined, Path(plots))]
    return report
