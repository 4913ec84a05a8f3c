"""Score a reconstruction and the detector's classical baseline on the same events.

Hits: precision, recall (score >= 0.5) and ROC AUC of ``hit_score`` against
``true_label > 0``, over neutrino events (``true_kind`` other than ``eas`` and
``noise``). Events: numu CC efficiency against atmospheric-muon (``eas``) rejection of
``event_score``. Each figure for the GNN output and for the baseline the detector
declares, computed here on the truth file's hits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from .. import detectors
from ..io import EventFormatError, read_events
from .metrics import precision_recall, roc_auc
from .rejection import efficiency_at_rejection, rejection_at_efficiency

BACKGROUND_KINDS = ("eas", "noise")


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


def compare_with_baseline(truth_path: str | Path, reco_path: str | Path) -> dict:
    """Figures of the reconstruction in ``reco_path`` and of the baseline, against the
    truth in ``truth_path`` (the input that was reconstructed, with its ``true_*``)."""
    reco = pq.read_table(reco_path)
    by_id = {int(i): n for n, i in enumerate(reco.column("event_id").to_numpy())}
    hit_score = reco.column("hit_score") if "hit_score" in reco.column_names else None
    event_score = reco.column("event_score").to_numpy() if "event_score" in reco.column_names else None
    columns = {name: [] for name in ("signal", "gnn_hit", "base_hit", "hit_kind", "kind", "gnn_event", "base_event")}
    for batch in read_events(truth_path):
        if "true_label" not in batch.hits or "true_kind" not in batch.events:
            raise EventFormatError(str(truth_path), "truth columns true_label and true_kind are needed to evaluate")
        rows = np.array([by_id.get(int(i), -1) for i in batch.event_id])
        if np.any(rows < 0):
            raise EventFormatError(str(reco_path), "event missing from the reconstruction", column="event_id",
                                   event_id=int(batch.event_id[np.argmax(rows < 0)]))
        detector = detectors.get(batch.detector)
        baseline = detector.baseline(batch.offsets, batch.hits)
        kinds = batch.events["true_kind"].astype(str)
        columns["signal"].append(batch.hits["true_label"] > 0)
        columns["hit_kind"].append(np.repeat(kinds, batch.hits_per_event))
        columns["kind"].append(kinds)
        columns["base_hit"].append(baseline["hit_score"])
        columns["base_event"].append(baseline["event_score"])
        if hit_score is not None:
            columns["gnn_hit"].append(np.concatenate([np.asarray(hit_score[int(r)].as_py(), dtype=np.float32)
                                                      for r in rows]) if rows.size else np.empty(0))
        if event_score is not None:
            columns["gnn_event"].append(event_score[rows])
    c = {name: np.concatenate(values) for name, values in columns.items() if values}
    neutrino = ~np.isin(c["hit_kind"], BACKGROUND_KINDS)
    report = {"events": int(c["kind"].size), "hits": {}, "events_numu_cc_vs_eas": {}}
    for name, hit_key, event_key in (("gnn", "gnn_hit", "gnn_event"), ("baseline", "base_hit", "base_event")):
        if hit_key in c:
            report["hits"][name] = _hit_figures(c["signal"][neutrino], c[hit_key][neutrino])
        if event_key in c:
            report["events_numu_cc_vs_eas"][name] = _event_figures(c["kind"], c[event_key])
    return report
