"""Train the shipped Baikal-GVD models and measure them on held-out simulated events.

    python scripts/train_baikal.py [--quick] [--stages ...] [--epochs N] [--data data/baikal-gvd] [--out DIR]

1. Simulates independent train, validation and test samples (different seeds) at the
   nominal conditions (40 kHz noise, 22 m absorption), plus test samples at doubled noise
   and 15 m absorption for the shifted-condition figures.
2. Trains the background-suppression stage (neutrino vs atmospheric-muon bundle, binary
   cross entropy) and the hit-selection stage (cross entropy over noise / muon light /
   cascade light); ``--stages`` picks some.
3. Scores them on the test samples beside the classical chain on the same events (hits:
   the causality cleaning; events: the up-going-track score, on a dedicated sample of
   100,000 atmospheric-muon events for the rejection),
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
from graphreco.detectors.baikal_gvd.baseline import causality_clean, reconstruct_classically
from graphreco.detectors.baikal_gvd.simulation import Conditions, simulate_events
from graphreco.evaluate import efficiency_at_rejection, precision_recall, rejection_at_efficiency, roc_auc
from graphreco.graph import build_graph
from graphreco.io import event_table, read_events, write_events
from graphreco.stages import BackgroundSuppression, HitSelection
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
BACKGROUND_SAMPLE = (100_000, 606)
"""Atmospheric-muon bundles alone, enough to measure rejections up to ~10^4 with statistics."""


def sample_specs(scale: float) -> dict[str, dict]:
    """Every sample: events, seed, conditions and kind mix (``scale`` shrinks them)."""
    specs = {name: {"events": max(200, int(events * scale)), "seed": seed, "conditions": conditions, "mix": MIX}
             for name, (events, seed, conditions) in SAMPLES.items()}
    specs["test_eas"] = {"events": max(200, int(BACKGROUND_SAMPLE[0] * scale)), "seed": BACKGROUND_SAMPLE[1],
                         "conditions": Conditions(), "mix": {"eas": 1.0}}
    return specs


def simulate_samples(folder: Path, specs: dict[str, dict]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, spec in specs.items():
        path = folder / f"{name}.parquet"
        if not path.exists():
            simulated = simulate_events(spec["events"], seed=spec["seed"], mix=spec["mix"], conditions=spec["conditions"])
            write_events(path, event_table(**vars(simulated)), "baikal-gvd")
        paths[name] = path
    return paths


def hit_selection_loss(model: HitSelection, graph) -> torch.Tensor:
    return model.loss(model(graph.x, graph.edge_index), graph.true_label)


def background_loss(model: BackgroundSuppression, graph) -> torch.Tensor:
    return model.loss(model(graph.x, graph.edge_index, graph.ptr), graph.is_signal)


def targets(batch) -> dict:
    """Truth of every stage: hit classes and whether the event is a neutrino."""
    return {"true_label": batch.hits["true_label"], "is_signal": batch.events["true_kind"].astype(str) != "eas"}


def event_scores(model: BackgroundSuppression, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GNN event score, the classical up-going-track score and the kind of every event."""
    detector = detectors.get("baikal-gvd")
    gnn, classical, kinds = [], [], []
    for batch in read_events(path, batch_size=2048):
        graph = build_graph(batch, detector)
        with torch.inference_mode():
            gnn.append(model.event_score(model(graph.x, graph.edge_index, graph.ptr)).numpy())
        classical.append(reconstruct_classically(batch.offsets, batch.hits)["event_score"])
        kinds.append(batch.events["true_kind"].astype(str))
    return np.concatenate(gnn), np.concatenate(classical), np.concatenate(kinds)


def score_events(model: BackgroundSuppression, test: Path, background: Path) -> dict:
    """numu CC efficiency against atmospheric-muon rejection, GNN and classical."""
    gnn, classical, kinds = event_scores(model, test)
    gnn_eas, classical_eas, _ = event_scores(model, background)
    result = {"numu_cc_events": int(np.sum(kinds == "numu_cc")), "eas_events": int(gnn_eas.size)}
    for name, signal, eas in (("gnn", gnn[kinds == "numu_cc"], gnn_eas),
                              ("upgoing_track_fit", classical[kinds == "numu_cc"], classical_eas)):
        result[name] = {"rejection_at_efficiency": [rejection_at_efficiency(signal, eas, e) for e in (0.5, 0.7, 0.9)],
                        "efficiency_at_rejection": [efficiency_at_rejection(signal, eas, r) for r in (1e3, 1e4)],
                        "auc_numu_vs_eas": round(roc_auc(np.r_[np.ones(signal.size), np.zeros(eas.size)],
                                                         np.r_[signal, eas]), 5)}
    return result

def score_hits(model: HitSelection, path: Path) -> dict:
    """Hit-selection metrics of the GNN and the causality cleaning on one test sample."""
    detector = detectors.get("baikal-gvd")
    labels, gnn, cleaning, kinds = [], [], [], []
    model.eval()
    for batch in read_events(path, batch_size=512):
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


def describe(detector, history: dict, specs: dict[str, dict]) -> dict:
    """What an artifact records about its training."""
    samples = {name: {**spec, "conditions": vars(spec["conditions"])} for name, spec in specs.items()}
    return {"detector": detector.name, "node_features": detector.feature_names, "training": history,
            "samples": samples, "versions": {"graphreco": graphreco.__version__, "torch": torch.__version__,
                                             "python": platform.python_version()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 % of the samples and 2 epochs, for a smoke run")
    parser.add_argument("--stages", default="background_suppression,hit_selection",
                        help="stages to train (comma separated); the others keep their shipped artifacts")
    parser.add_argument("--epochs", type=int, default=12, help="training epochs per stage (2 with --quick)")
    parser.add_argument("--data", type=Path, default=Path("data/baikal-gvd"))
    parser.add_argument("--out", type=Path, default=Path("detectors/baikal_gvd/artifacts"),
                        help="pipeline folder (default: the one shipped with the package)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    specs = sample_specs(0.05 if args.quick else 1.0)
    paths = simulate_samples(args.data, specs)
    config = TrainConfig(epochs=2 if args.quick else args.epochs)
    detector = detectors.get("baikal-gvd")
    train_graphs = load_graphs(paths["train"], config.batch_events, targets)
    val_graphs = load_graphs(paths["validation"], 512, targets)
    report = {}
    for name in (name for name in args.stages.split(",") if name):
        if name == "hit_selection":
            model, loss = HitSelection(len(detector.feature_names), detector.relative_features), hit_selection_loss
        elif name == "background_suppression":
            model, loss = BackgroundSuppression(len(detector.feature_names), detector.relative_features), background_loss
        else:
            raise SystemExit(f"unknown stage {name!r}")
        history = train(model, loss, train_graphs, val_graphs, config, args.data / "checkpoints" / name)
        model.eval()
        if name == "hit_selection":
            metrics = {sample: score_hits(model, paths[sample])
                       for sample in ("test", "test_noise80khz", "test_absorption15m")}
        else:
            metrics = {"test": score_events(model, paths["test"], paths["test_eas"])}
        save_stage(args.out / name, name, model, describe(detector, history, specs), metrics)
        report[name] = metrics
    shipped = [name for name in ("background_suppression", "hit_selection") if (args.out / name).exists()]
    (args.out / "pipeline.json").write_text(json.dumps({"detector": detector.name, "stages": shipped}, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
