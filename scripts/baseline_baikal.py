"""Figures of the classical Baikal-GVD chain on a simulated sample; prints JSON.

    python scripts/baseline_baikal.py [SAMPLE.parquet]    (default: data/baikal-gvd/test.parquet,
                                                            made by scripts/train_baikal.py)

Causality cleaning precision and recall per event kind; track-fit success and angular
error (median and 68 % quantile) for up-going muons versus their number of signal hits;
events per second of the whole chain.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from graphreco.detectors.baikal_gvd.baseline import reconstruct_classically
from graphreco.evaluate import precision_recall
from graphreco.evaluate.resolution import angular_error, signal_hits
from graphreco.io import read_events


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("data/baikal-gvd/test.parquet")
    columns = {name: [] for name in ("kind", "error", "signal", "hit_kind", "hit_signal", "kept")}
    seconds = 0.0
    for batch in read_events(path, batch_size=4096):
        start = time.perf_counter()
        reco = reconstruct_classically(batch.offsets, batch.hits)
        seconds += time.perf_counter() - start
        kinds = batch.events["true_kind"].astype(str)
        hit_signal = batch.hits["true_label"] > 0
        per_event = signal_hits(batch.offsets, batch.hits["true_label"])
        for name, values in (("kind", kinds), ("error", np.degrees(angular_error(batch.events, reco))),
                             ("signal", per_event),
                             ("hit_kind", np.repeat(kinds, batch.hits_per_event)), ("hit_signal", hit_signal),
                             ("kept", reco["hit_score"] > 0.5)):
            columns[name].append(values)
    c = {name: np.concatenate(values) for name, values in columns.items()}
    report = {"sample": str(path), "events": int(c["kind"].size), "events_per_s": round(c["kind"].size / seconds),
              "cleaning": {}, "track_fit_numu_cc": {}}
    for kind in np.unique(c["kind"]):
        precision, recall = precision_recall(c["hit_signal"][c["hit_kind"] == kind], c["kept"][c["hit_kind"] == kind])
        report["cleaning"][kind] = {"precision": round(precision, 4), "recall": round(recall, 4)}
    for low, high in ((1, 10), (10, 20), (20, 10**9), (10, 10**9)):
        muons = (c["kind"] == "numu_cc") & (c["signal"] >= low) & (c["signal"] < high)
        fitted = muons & np.isfinite(c["error"])
        label = f"{low}-{high - 1} signal hits" if high < 10**9 else f">={low} signal hits"
        report["track_fit_numu_cc"][label] = {
            "events": int(muons.sum()), "fitted_fraction": round(float(fitted.sum() / max(muons.sum(), 1)), 3),
            "median_deg": round(float(np.median(c["error"][fitted])), 2) if fitted.any() else None,
            "q68_deg": round(float(np.percentile(c["error"][fitted], 68)), 2) if fitted.any() else None}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
