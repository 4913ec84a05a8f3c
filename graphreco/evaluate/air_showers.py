"""The ``air_showers`` evaluation kind: the GNN and the detector's standard fit on the
same showers of a surface array, on the events that pass the detector's truth-level
quality cuts (``Detector.shower_cuts``).

Per method, overall and in bins of log10(E/eV): direction, energy and core figures and the
fraction reconstructed (``shower_metrics``). Counters: precision, recall and AUC of
``hit_score`` against ``true_label`` over all events. Composition, where the
reconstruction has ``reco_p_<class>`` columns and the truth ``true_primary``
(``shower_metrics.composition_report``, classes from ``Detector.primaries``).
``evaluate(..., plots=FOLDER)`` draws resolution and coverage versus energy, pulls and the
counter-selection ROC (the GNN's ``hit_score`` beside the counters the standard fit kept;
``shower_plots``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import progress
from ..detectors.base import Detector
from ..io import EventFormatError, read_events
from ..io.reader import open_event_file
from .matching import hit_values, read_reco, reco_rows
from .metrics import WORKING_POINT, precision_recall, roc_auc
from .posterior_plots import NAME, NOTE, draw_posterior_examples
from .posteriors import population_figures, read_samples
from .shower_metrics import (
    RECO_COLUMNS,
    TRUTH_COLUMNS,
    composition_report,
    energy_bins,
    selected,
    shower_figures,
)
from .shower_plots import FIGURES as COMPARISON_FIGURES
from .shower_plots import draw_shower_comparison

__all__ = ["FIGURES", "evaluate"]

FIGURES = COMPARISON_FIGURES | {NAME: NOTE}

PROBABILITY_PREFIX = "reco_p_"
"""Columns of the reconstruction that hold a composition class's probability."""


def _air_shower_array(truth_path: str | Path) -> Detector:
    """The detector of the event file ``truth_path``, which must declare its ``shower_cuts``."""
    detector = open_event_file(truth_path)[1]
    if detector.shower_cuts is None:
        raise ValueError(f"detector {detector.name!r}: an air_showers evaluation needs its shower_cuts "
                         "(Detector.shower_cuts)")
    return detector


def evaluate(truth_path: str | Path, reco_path: str | Path, plots: str | Path | None = None,
             geometry: str | Path | None = None) -> dict:
    """Figures of the reconstruction in ``reco_path`` and of the detector's standard fit,
    run here on the hits of ``truth_path`` (which carries the ``true_*`` columns); with
    ``plots`` also ``plots``, the PNGs drawn into that folder."""
    detector = _air_shower_array(truth_path)
    cuts, primaries = detector.shower_cuts, dict(detector.primaries)
    reco = read_reco(reco_path)
    reco_ids = reco.column("event_id").to_numpy()
    gnn_columns = {name: reco.column(name).to_numpy() for name in reco.column_names
                   if name in RECO_COLUMNS or name.startswith(PROBABILITY_PREFIX)} | read_samples(reco)
    hit_score = reco.column("hit_score") if "hit_score" in reco.column_names else None
    pieces: dict[str, list[np.ndarray]] = {}
    counter_pieces: dict[str, list[np.ndarray]] = {}
    for batch in read_events(truth_path, geometry=geometry):
        missing = [name for name in TRUTH_COLUMNS if name not in batch.events] + \
            (["true_label"] if "true_label" not in batch.hits else [])
        if missing:
            raise EventFormatError(str(truth_path), f"truth columns {missing} are needed to evaluate")
        rows = reco_rows(reco_ids, batch.event_id, reco_path)
        sizes = np.diff(batch.offsets)
        event_of_hit = np.repeat(np.arange(sizes.size), sizes)
        columns = {name: batch.events[name] for name in TRUTH_COLUMNS}
        columns["shower_counters"] = np.bincount(event_of_hit, batch.hits["true_label"] == 1, minlength=sizes.size)
        columns["edge_distance"] = cuts.distance_to_edge(batch.events["true_core_x"], batch.events["true_core_y"],
                                                         batch.configuration)
        columns |= {f"gnn_{name}": values[rows] for name, values in gnn_columns.items()}
        if "true_primary" in batch.events:
            columns["true_primary"] = batch.events["true_primary"]
        baseline = detector.baseline(batch.offsets, batch.hits, configuration=batch.configuration)
        columns |= {f"baseline_{name}": baseline[name] for name in RECO_COLUMNS if name in baseline}
        counters = {"shower_counter": batch.hits["true_label"] == 1, "baseline": baseline["hit_score"]}
        if hit_score is not None:
            counters["gnn"] = hit_values(hit_score, rows, sizes, batch.event_id, reco_path, "hit_score")
        for collected, batch_columns in ((pieces, columns), (counter_pieces, counters)):
            for name, values in batch_columns.items():
                collected.setdefault(name, []).append(np.asarray(values))
        progress.advance(batch.n_events)
    c = {name: np.concatenate(values) for name, values in pieces.items()}
    counter_scores = {name: np.concatenate(values) for name, values in counter_pieces.items()}
    signal = counter_scores.pop("shower_counter")
    report = shower_figures(c, cuts)
    if "gnn_reco_posterior_zenith" in c:
        report["posterior"] = population_figures(c, {"standard_cuts": selected(c, cuts)})
    if "true_primary" in c and any(name.startswith("gnn_reco_p_") for name in c):
        report["composition"] = composition_report(c, energy_bins(c, cuts)["all"], primaries)
    if "gnn" in counter_scores:
        score = counter_scores["gnn"]
        precision, recall = precision_recall(signal, score >= WORKING_POINT)
        report["counters"] = {"counters": int(signal.size), "shower_fraction": round(float(signal.mean()), 4),
                              "precision": round(precision, 5), "recall": round(recall, 5),
                              "auc": round(roc_auc(signal, score), 5)}
    if plots is not None:
        drawn = draw_shower_comparison(c, Path(plots), signal, counter_scores, cuts, primaries)
        if "posterior" in report:
            drawn += draw_posterior_examples(c, selected(c, cuts), Path(plots))
        report["plots"] = [str(path) for path in drawn]
    return report
