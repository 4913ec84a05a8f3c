"""The ``neutrino_events`` evaluation kind: a reconstruction and the detector's classical
baseline scored on the same events of a neutrino telescope.

Hits: precision, recall (score >= 0.5) and ROC AUC of ``hit_score`` against
``true_label > 0`` (``hits.hit_figures``), over neutrino events (``true_kind`` other than
``eas`` and ``noise``). Events: numu CC efficiency against atmospheric-muon (``eas``)
rejection of ``event_score``. Directions and energies, per neutrino kind: angular error
(overall and versus the number of signal hits), log10-energy bias and resolution, and
the coverage of the reported uncertainties (``neutrino_metrics``). Each figure for the
GNN output and for the baseline the detector declares, computed here on the truth file's
hits; ``evaluate(..., plots=FOLDER)`` also draws them as PNG (``neutrino_plots``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import detectors, progress
from ..io import EventFormatError, read_events
from .hits import hit_figures
from .matching import hit_values, read_reco, reco_rows
from .neutrino_metrics import (
    BACKGROUND_KINDS,
    DIRECTION_COLUMNS,
    REGRESSION_COLUMNS,
    TRUTH_COLUMNS,
    event_figures,
    regression_figures,
)
from .neutrino_plots import FIGURES as COMPARISON_FIGURES
from .neutrino_plots import draw_comparison
from .posterior_plots import NAME, NOTE, draw_posterior_examples
from .posteriors import population_figures, read_samples
from .resolution import signal_hits

__all__ = ["FIGURES", "evaluate"]

FIGURES = COMPARISON_FIGURES | {NAME: NOTE}


def evaluate(truth_path: str | Path, reco_path: str | Path, plots: str | Path | None = None,
             geometry: str | Path | None = None) -> dict:
    """Figures of the reconstruction in ``reco_path`` and of the baseline, against the
    truth in ``truth_path`` (the input that was reconstructed, with its ``true_*``); with
    ``plots`` also ``plots``, the PNGs drawn into that folder."""
    reco = read_reco(reco_path)
    reco_ids = reco.column("event_id").to_numpy()
    hit_score = reco.column("hit_score") if "hit_score" in reco.column_names else None
    event_score = reco.column("event_score").to_numpy() if "event_score" in reco.column_names else None
    regression = {name: reco.column(name).to_numpy() for name in REGRESSION_COLUMNS if name in reco.column_names}
    regression |= read_samples(reco)
    columns = {name: [] for name in ("signal", "gnn_hit", "base_hit", "hit_kind", "kind", "gnn_event", "base_event",
                                     "signal_hits", *TRUTH_COLUMNS, *(f"gnn_{n}" for n in regression),
                                     *(f"base_{n}" for n in DIRECTION_COLUMNS))}
    for batch in read_events(truth_path, geometry=geometry):
        if "true_label" not in batch.hits or "true_kind" not in batch.events:
            raise EventFormatError(str(truth_path), "truth columns true_label and true_kind are needed to evaluate")
        rows = reco_rows(reco_ids, batch.event_id, reco_path)
        detector = detectors.get(batch.detector)
        baseline = detector.baseline(batch.offsets, batch.hits, configuration=batch.configuration)
        kinds = batch.events["true_kind"].astype(str)
        columns["signal"].append(batch.hits["true_label"] > 0)
        columns["hit_kind"].append(np.repeat(kinds, batch.hits_per_event))
        columns["kind"].append(kinds)
        columns["base_hit"].append(baseline["hit_score"])
        columns["base_event"].append(baseline["event_score"])
        if hit_score is not None:
            columns["gnn_hit"].append(hit_values(hit_score, rows, batch.hits_per_event, batch.event_id, reco_path,
                                                 "hit_score"))
        if event_score is not None:
            columns["gnn_event"].append(event_score[rows])
        columns["signal_hits"].append(signal_hits(batch.offsets, batch.hits["true_label"]))
        for name in TRUTH_COLUMNS:
            if name in batch.events:
                columns[name].append(batch.events[name])
        for name, values in regression.items():
            columns[f"gnn_{name}"].append(values[rows])
        for name in DIRECTION_COLUMNS:
            if name in baseline:
                columns[f"base_{name}"].append(baseline[name])
        progress.advance(batch.n_events)
    c = {name: np.concatenate(values) for name, values in columns.items() if values}
    neutrino = ~np.isin(c["hit_kind"], BACKGROUND_KINDS)
    report = {"events": int(c["kind"].size), "hits": {}, "events_numu_cc_vs_eas": {}}
    for name, hit_key, event_key in (("gnn", "gnn_hit", "gnn_event"), ("baseline", "base_hit", "base_event")):
        if hit_key in c:
            report["hits"][name] = hit_figures(c["signal"][neutrino], c[hit_key][neutrino])
        if event_key in c:
            report["events_numu_cc_vs_eas"][name] = event_figures(c["kind"], c[event_key])
    if set(TRUTH_COLUMNS) <= set(c):
        report |= regression_figures(c)
        if "gnn_reco_posterior_zenith" in c:
            report["posterior"] = population_figures(c, posterior_populations(c))
    if plots is not None:
        drawn = draw_comparison(c, Path(plots))
        if "posterior" in report:
            drawn += draw_posterior_examples(c, posterior_populations(c)["numu_cc_10_signal_hits"], Path(plots))
        report["plots"] = [str(path) for path in drawn]
    return report


def posterior_populations(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The events whose posteriors are scored: numu CC with >= 10 signal hits, and nue CC."""
    return {"numu_cc_10_signal_hits": (c["kind"] == "numu_cc") & (c["signal_hits"] >= 10),
            "nue_cc": c["kind"] == "nue_cc"}
