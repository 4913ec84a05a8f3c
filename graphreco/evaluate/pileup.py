"""The ``pileup`` evaluation kind: pile-up mitigation scored on crossings, the GNN's
``hit_score`` beside the detector's classical methods (``Detector.classical_scores``;
LHC PF: CHS, SoftKiller and PUPPI) computed here on the same candidates.

Per particle (``particles.particle_report``): ROC AUC and signal efficiency at 10 % and 1 %
pile-up efficiency, per population. Physics (``jets.jet_report``): anti-kT R = 0.4 jets
and missing transverse momentum from weighted candidates against those of the
leading-interaction candidates. Weights: the GNN's probability and PUPPI's weight scale
each candidate's four-momentum (a calibrated probability makes the expected sum
unbiased); the methods the detector names in ``Detector.keep_or_drop`` (CHS, SoftKiller)
keep (1) or drop (0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import detectors, progress
from ..detectors.base import Detector
from ..io import EventBatch, EventFormatError, read_events
from .jets import jet_report
from .matching import hit_values, read_reco, reco_rows
from .metrics import WORKING_POINT
from .particles import particle_report
from .pileup_plots import FIGURES, draw_pileup_comparison

__all__ = ["FIGURES", "concatenated", "evaluate", "pileup_figures", "summary"]


def pileup_figures(detector: Detector, offsets: np.ndarray, hits: dict[str, np.ndarray],
                   events: dict[str, np.ndarray], gnn_score: np.ndarray | None,
                   plots: str | Path | None = None) -> dict:
    """Particle and physics figures of every method (the GNN's ``gnn_score``, one per
    candidate, where given; the ``detector``'s classical methods) on the candidates of
    CSR ``offsets`` with ``true_label``; with ``plots`` also ``plots``, the PNGs drawn
    into that folder."""
    if detector.classical_scores is None:
        raise ValueError(f"detector {detector.name!r}: a pileup evaluation needs its classical_scores")
    scores = detector.classical_scores(offsets, hits, events)
    if gnn_score is not None:
        scores = {"gnn": np.asarray(gnn_score, dtype=np.float32), **scores}
    weights = {name: (score >= WORKING_POINT).astype(np.float32) if name in detector.keep_or_drop else score
               for name, score in scores.items()}
    labels = hits["true_label"] == 1
    report = {"crossings": int(offsets.size - 1), "candidates": int(offsets[-1]),
              "mean_pileup": round(float(np.mean(events["true_npu"])), 1) if "true_npu" in events else None,
              "particles": particle_report(labels, hits["pt"], hits["charge"], scores),
              "jets_and_met": jet_report(offsets, hits["pt"], hits["eta"], hits["phi"], hits["energy"],
                                         hits["true_label"], weights)}
    report = {"summary": summary(report), **report}
    if plots is not None:
        report["plots"] = [str(path) for path in draw_pileup_comparison(
            labels, hits["pt"], hits["charge"], scores, report["jets_and_met"], Path(plots))]
    return report


def summary(figures: dict) -> dict:
    """Per method, the figures the pile-up targets name: AUC over all candidates and over
    neutrals above 1 GeV (None for 0/1 methods), jet pT response and resolution, jet mass
    and missing-pT resolutions (GeV)."""
    particles, physics = figures["particles"], figures["jets_and_met"]["methods"]
    return {method: {"auc_all": particles["all"].get("methods", {}).get(method, {}).get("auc"),
                     "auc_neutral_pt1": particles["neutral_pt1"].get("methods", {}).get(method, {}).get("auc"),
                     "jet_pt_response": physics[method]["jets"].get("response_median"),
                     "jet_pt_resolution": physics[method]["jets"].get("response_resolution"),
                     "jet_mass_resolution_gev": physics[method]["jets"].get("mass_resolution_gev"),
                     "met_resolution_gev": physics[method]["met"].get("resolution_gev")}
            for method in physics}


def concatenated(batches: list[EventBatch]) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One CSR view of several batches: offsets, hit columns and event columns."""
    sizes = np.concatenate([np.diff(batch.offsets) for batch in batches])
    return (np.concatenate([[0], np.cumsum(sizes)]),
            {name: np.concatenate([batch.hits[name] for batch in batches]) for name in batches[0].hits},
            {name: np.concatenate([batch.events[name] for batch in batches]) for name in batches[0].events})


def evaluate(truth_path: str | Path, reco_path: str | Path | None, plots: str | Path | None = None,
             geometry: str | Path | None = None) -> dict:
    """``pileup_figures`` of the crossings in ``truth_path`` (with ``true_label``), the GNN's
    scores read from the reconstruction ``reco_path`` (matched by ``event_id``)."""
    batches = list(read_events(truth_path, geometry=geometry))
    if not batches or "true_label" not in batches[0].hits:
        raise EventFormatError(str(truth_path), "the truth column true_label is needed to evaluate")
    offsets, hits, events = concatenated(batches)
    gnn = None
    if reco_path is not None:
        reco = read_reco(reco_path, columns=["event_id", "hit_score"])
        event_ids = np.concatenate([batch.event_id for batch in batches])
        rows = reco_rows(reco.column("event_id").to_numpy(), event_ids, reco_path)
        gnn = hit_values(reco.column("hit_score"), rows, np.diff(offsets), event_ids, reco_path, "hit_score")
    figures = pileup_figures(detectors.get(batches[0].detector), offsets, hits, events, gnn, plots)
    progress.advance(offsets.size - 1)  # the crossings are scored all at once
    return figures
