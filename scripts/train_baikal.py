"""Train the shipped Baikal-GVD models and measure them on held-out simulated events.

    python scripts/train_baikal.py [--quick] [--data data/baikal-gvd] [--out models/baikal-gvd]

1. Simulates independent train, validation and test samples (different seeds) at the
   nominal conditions (40 kHz noise, 22 m absorption), plus test samples at doubled noise
   and 15 m absorption for the shifted-condition figures.
2. Trains the hit-selection stage (cross entropy over noise / muon light / cascade light).
3. Scores it on the test samples beside the causality cleaning, on the same events,
   writes the artifact (weights, config with checksum, metrics) and the pipeline.json
   into the shipped pipeline folder, and prints the metrics as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import torch

import graphreco
from graphreco import detectors
from graphreco.artifacts import save_stage
from graphreco.detectors.baikal_gvd.baseline import causality_clean
from graphreco.detectors.baikal_gvd.simulation import Conditions, simulate_events
from graphreco.evaluate import precision_recall, roc_auc
from graphreco.io import event_table, read_events, write_events
from graphreco.stages import HitSelection
from graphreco.training import TrainConfig, load_graphs, train

MIX = {"numu_cc": 3.0, "nue_cc": 1.0, "nc": 1.0, "eas": 8.0}
"""Kinds before the trigger: muons trigger less often than cascades, so they are drawn more."""
NEUTRINO_KINDS = ("numu_cc", "nue_cc", "nc")
SAMPLES = {  # name: (events, seed, conditions)
    "train": (40_000, 101, Conditions()),
    "validation": (5_000, 202, Conditions()),
    "test": (20_000, 303, Conditions()),
    "test_noise80khz": (10_000, 404, Conditions(noise_rate_hz=80e3)),
    "test_absorption15m": (10_000, 505, Conditions(absorption_length=15.0)),
}


def simulate_samples(folder: Path, scale: float) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (events, seed, conditions) in SAMPLES.items():
        path = folder / f"{name}.parquet"
        if not path.exists():
            simulated = simulate_events(max(200, int(events * scale)), seed=seed, mix=MIX, conditions=conditions)
            write_events(path, event_table(**vars(simulated)), "baikal-gvd")
        paths[name] = path
    return paths


def hit_selection_loss(model: HitSelection, graph) -> torch.Tensor:
    return model.loss(model(graph.x, graph.edge_index), graph.true_label)


def score_hits(model: HitSelection, path: Path) -> dict:
    """Hit-selection metrics of the GNN and the causality cleaning on one test sample."""
    detector = detectors.get("baikal-gvd")
    labels, gnn, cleaning, kinds = [], [], [], []
    model.eval()
    for batch in read_events(path, batch_size=512):
        from graphreco.graph import build_graph

        graph = build_graph(batch, detector)
        with torch.inference_mode():
            gnn.append(model.hit_score(model(graph.x, graph.edge_index)).numpy())
        kept = np.zeros(batch.n_hits, dtype=np.bool_)
        causality_clean(batch.offsets.astype(np.int64), *(np.asarray(batch.hits[c], dtype=np.float64)
                                                          for c in ("x", "y", "z", "t", "charge")), kept)
        cleaning.append(kept)
        labels.append(batch.hits["true_label"] > 0)
        kinds.append(np.repeat(batch.events["true_kind"].astype(str), batch.hits_per_event))
    labels, gnn, cleaning, kinds = (np.concatenate(a) for a in (labels, gnn, cleaning, kinds))
    result = {}
    for population, mask in (("neutrino", np.isin(kinds, NEUTRINO_KINDS)), ("numu_cc", kinds == "numu_cc"),
                             ("eas", kinds == "eas")):
        y, s = labels[mask], gnn[mask]
        precision, recall = precision_recall(y, s >= 0.5)
        base_precision, base_recall = precision_recall(y, cleaning[mask])
        order = np.argsort(-s)
        cumulative_precision = np.cumsum(y[order]) / np.arange(1, y.size + 1)
        at_99 = np.flatnonzero(cumulative_precision >= 0.99)
        recall_at_99 = float(np.sum(y[order][: at_99[-1] + 1]) / max(y.sum(), 1)) if at_99.size else 0.0
        result[population] = {
            "hits": int(y.size), "signal_fraction": round(float(y.mean()), 4),
            "gnn": {"precision": round(precision, 4), "recall": round(recall, 4), "auc": round(roc_auc(y, s), 5),
                    "recall_at_99_precision": round(recall_at_99, 4)},
            "causality_cleaning": {"precision": round(base_precision, 4), "recall": round(base_recall, 4)},
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 % of the samples and 2 epochs, for a smoke run")
    parser.add_argument("--data", type=Path, default=Path("data/baikal-gvd"))
    parser.add_argument("--out", type=Path, default=Path("detectors/baikal_gvd/artifacts"),
                        help="pipeline folder (default: the one shipped with the package)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    paths = simulate_samples(args.data, 0.05 if args.quick else 1.0)
    config = TrainConfig(epochs=2 if args.quick else 12)
    detector = detectors.get("baikal-gvd")
    train_graphs = load_graphs(paths["train"], config.batch_events, hit_columns=("true_label",))
    val_graphs = load_graphs(paths["validation"], 512, hit_columns=("true_label",))
    model = HitSelection(len(detector.feature_names), detector.relative_features)
    folder = args.out / "hit_selection"
    history = train(model, hit_selection_loss, train_graphs, val_graphs, config, args.data / "checkpoints" / "hit_selection")
    metrics = {name: score_hits(model, paths[name]) for name in ("test", "test_noise80khz", "test_absorption15m")}
    description = {
        "detector": detector.name, "node_features": detector.feature_names, "training": history,
        "samples": {name: {"events": int(max(200, SAMPLES[name][0] * (0.05 if args.quick else 1.0))),
                           "seed": SAMPLES[name][1], "conditions": vars(SAMPLES[name][2]), "mix": MIX}
                    for name in SAMPLES},
        "versions": {"graphreco": graphreco.__version__, "torch": torch.__version__, "python": platform.python_version()},
    }
    save_stage(folder, "hit_selection", model, description, metrics)
    (args.out / "pipeline.json").write_text(json.dumps({"detector": detector.name, "stages": ["hit_selection"]},
                                                       indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
