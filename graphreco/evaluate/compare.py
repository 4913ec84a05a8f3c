"""Score a reconstruction and the detector's classical baseline on the same events.

Hits: precision, recall (score >= 0.5) and ROC AUC of ``hit_score`` against
``true_label > 0``, over neutrino events (``true_kind`` other than ``eas`` and
``noise``). Events: numu CC efficiency against atmospheric-muon (``eas``) rejection of
``event_score``. Directions and energies, per neutrino kind: angular error (overall and
versus the number of signal hits), log10-energy bias and resolution, and the coverage
of the reported uncertainties (``graphreco.evaluate.resolution``). Each figure for the
GNN output and for the baseline the detector declares, computed here on the truth
file's hits; ``compare_with_baseline(..., plots=FOLDER)`` also draws them as PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from .. import detectors
from ..io import EventFormatError, read_events
from ..io.reader import open_event_file
from .matching import hit_values, reco_rows
from .metrics import precision_recall, roc_auc
from .rejection import efficiency_at_rejection, rejection_at_efficiency
from .resolution import direction_report, energy_report, signal_hits

BACKGROUND_KINDS = ("eas", "noise")
"""Event kinds that are not signal; neutrino hits are those of ``NEUTRINO_KINDS``."""
NEUTRINO_KINDS = ("numu_cc", "nue_cc", "nc")
TRUTH_COLUMNS = ("true_zenith", "true_azimuth", "true_energy")
DIRECTION_COLUMNS = ("reco_zenith", "reco_azimuth", "reco_angle_sigma")
REGRESSION_COLUMNS = ("reco_log10_energy", "reco_log10_energy_sigma", *DIRECTION_COLUMNS)


def _hit_figures(signal: np.ndarray, score: np.ndarray) -> dict:
    precision, recall = precision_recall(signal, score >= 0.5)
    figures = {"precision": round(precision, 4), "recall": round(recall, 4)}
    if np.unique(score).size > 2:
        figures["auc"] = round(roc_auc(signal, score), 5)
    return figures


def _event_figures(kinds: np.ndarray, score: np.ndarray) -> dict:
    numu, eas = score[kinds == "numu_cc"], score[kinds == "eas"]
    if not numu.size or not eas.size:
        return {"note": "needs numu_cc and eas events"}
    return {"numu_cc_events": int(numu.size), "eas_events": int(eas.size),
            "rejection_at_efficiency": [rejection_at_efficiency(numu, eas, e) for e in (0.5, 0.7, 0.9)],
            "efficiency_at_rejection": [efficiency_at_rejection(numu, eas, r) for r in (1e2, 1e3)]}


def compare_with_baseline(truth_path: str | Path, reco_path: str | Path, plots: str | Path | None = None) -> dict:
    """Figures of the reconstruction in ``reco_path`` and of the baseline, against the
    truth in ``truth_path`` (the input that was reconstructed, with its ``true_*``).
    LHC crossings are scored by ``pileup_compare`` (CHS, SoftKiller and PUPPI beside), air
    showers by ``shower_compare`` (the standard fit beside)."""
    detector = open_event_file(truth_path)[1].name
    if detector == "lhc-pf":
        from .pileup_compare import compare_pileup

        return compare_pileup(truth_path, reco_path, plots)
    if detector == "ta-sd":
        from .shower_compare import compare_showers

        return compare_showers(truth_path, reco_path, plots)
    reco = pq.read_table(reco_path)
    reco_ids = reco.column("event_id").to_numpy()
    hit_score = reco.column("hit_score") if "hit_score" in reco.column_names else None
    event_score = reco.column("event_score").to_numpy() if "event_score" in reco.column_names else None
    regression = {name: reco.column(name).to_numpy() for name in REGRESSION_COLUMNS if name in reco.column_names}
    columns = {name: [] for name in ("signal", "gnn_hit", "base_hit", "hit_kind", "kind", "gnn_event", "base_event",
                                     "signal_hits", *TRUTH_COLUMNS, *(f"gnn_{n}" for n in regression),
                                     *(f"base_{n}" for n in DIRECTION_COLUMNS))}
    for batch in read_events(truth_path):
        if "true_label" not in batch.hits or "true_kind" not in batch.events:
            raise EventFormatError(str(truth_path), "truth columns true_label and true_kind are needed to evaluate")
        rows = reco_rows(reco_ids, batch.event_id, reco_path)
        detector = detectors.get(batch.detector)
        baseline = detector.baseline(batch.offsets, batch.hits)
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
    c = {name: np.concatenate(values) for name, values in columns.items() if values}
    neutrino = ~np.isin(c["hit_kind"], BACKGROUND_KINDS)
    report = {"events": int(c["kind"].size), "hits": {}, "events_numu_cc_vs_eas": {}}
    for name, hit_key, event_key in (("gnn", "gnn_hit", "gnn_event"), ("baseline", "base_hit", "base_event")):
        if hit_key in c:
            report["hits"][name] = _hit_figures(c["signal"][neutrino], c[hit_key][neutrino])
        if event_key in c:
            report["events_numu_cc_vs_eas"][name] = _event_figures(c["kind"], c[event_key])
    if set(TRUTH_COLUMNS) <= set(c):
        report |= _regression_figures(c)
    if plots is not None:
        from .plots import draw_comparison

        report["plots"] = [str(path) for path in draw_comparison(c, Path(plots))]
    return report


def _regression_figures(c: dict[str, np.ndarray]) -> dict:
    """Direction and energy figures per neutrino kind, GNN and baseline."""
    figures = {"direction": {}, "energy": {}}
    for kind in NEUTRINO_KINDS:
        mask = c["kind"] == kind
        if not mask.any():
            continue
        truth = {name: c[name][mask] for name in (*TRUTH_COLUMNS, "signal_hits")}
        for method in ("gnn", "base"):
            reco = {name[len(method) + 1:]: values[mask] for name, values in c.items() if name.startswith(method + "_reco")}
            label = "gnn" if method == "gnn" else "baseline"
            if {"reco_zenith", "reco_azimuth"} <= set(reco):
                figures["direction"].setdefault(kind, {})[label] = direction_report(truth, reco)
            if {"reco_log10_energy", "reco_log10_energy_sigma"} <= set(reco):
                figures["energy"].setdefault(kind, {})[label] = energy_report(truth, reco)
    return {key: value for key, value in figures.items() if value}
