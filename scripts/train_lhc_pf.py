"""Train the shipped LHC particle-flow pile-up model and measure it beside CHS, SoftKiller
and PUPPI on held-out crossings.

    python scripts/train_lhc_pf.py [--quick] [--epochs N] [--rescore] [--data data/lhc-pf] [--out DIR]

1. Simulates independent samples (different seeds for the hard events and for the
   minimum-bias pools): training and validation on Z -> nu nu + jet at 140 pile-up, and
   held-out tests on Z -> nu nu + jet at 140, 80 and 200 pile-up and on ttbar at 140.
2. Trains the hit-selection stage (per-candidate probability of the leading interaction;
   cross entropy over all candidates) with validation and early stopping.
3. Scores it with ``graphreco.evaluate.pileup.pileup_figures`` on every test
   sample beside the classical algorithms on the same crossings, writes the artifact
   (weights, config with checksum, metrics) and pipeline.json into the shipped pipeline
   folder, and prints the metrics as JSON. ``--rescore`` measures the shipped stage again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from graphreco import detectors
from graphreco.artifacts import save_stage
from graphreco.detectors.lhc_pf.simulation import simulate_events
from graphreco.evaluate.jets import jet_membership
from graphreco.evaluate.pileup import concatenated, pileup_figures
from graphreco.io import event_table, read_events, write_events
from graphreco.pipeline import Pipeline
from graphreco.trainer import new_stage, train_stage
from graphreco.training import TrainConfig

SAMPLES = {  # name: (crossings, seed, process, mean pile-up)
    "train": (1500, 11, "znunu_jet", 140),
    "validation": (300, 12, "znunu_jet", 140),
    "test": (600, 13, "znunu_jet", 140),
    "test_ttbar": (300, 14, "ttbar", 140),
    "test_pu200": (300, 15, "znunu_jet", 200),
    "test_pu80": (300, 16, "znunu_jet", 80),
}
TEST_SAMPLES = ("test", "test_ttbar", "test_pu200", "test_pu80")
MODEL = {"n_classes": 2, "hidden": 32, "layers": 2, "loss_weight_column": "pt", "loss_weight_cap": 20.0,
         "group_loss_column": "true_jet", "group_sum_column": "pt", "group_loss_weight": 3.0}
TRAINING = {"batch_events": 4, "learning_rate": 3e-3, "patience": 3}
"""A 140 pile-up crossing is ~7,500 candidates: four make a training batch."""
STAGE = "hit_selection"


def simulate_samples(folder: Path, scale: float) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (crossings, seed, process, pileup) in SAMPLES.items():
        paths[name] = folder / f"{name}.parquet"
        if not paths[name].exists():
            simulated = simulate_events(max(20, int(crossings * scale)), seed=seed, process=process,
                                        mean_pileup=pileup, cache=folder / "pool")
            hits = simulated.hits
            hits["true_jet"] = jet_membership(simulated.offsets, hits["pt"], hits["eta"], hits["phi"],
                                              hits["energy"], hits["true_label"])
            write_events(paths[name], event_table(**vars(simulated)), "lhc-pf")
    return paths


def score(pipeline: Pipeline, path: Path) -> dict:
    """Every method's figures on the crossings of ``path``, the GNN run as in production."""
    batches = list(read_events(path, batch_size=64))
    gnn = np.concatenate([pipeline.reconstruct(batch)[0]["hit_score"] for batch in batches])
    return pileup_figures(pipeline.detector, *concatenated(batches), gnn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 %% of the samples and 1 epoch, for a smoke run")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--rescore", action="store_true", help="score the stage already in --out again")
    parser.add_argument("--data", type=Path, default=Path("data/lhc-pf"))
    parser.add_argument("--out", type=Path, default=Path("detectors/lhc_pf/artifacts"),
                        help="pipeline folder (default: the one shipped with the package)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--jet-loss-weight", type=float, default=MODEL["group_loss_weight"],
                        help="weight of the jet-pT term of the loss (default %(default)s)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    detector = detectors.get("lhc-pf")
    paths = simulate_samples(args.data, 0.05 if args.quick else 1.0)
    config = TrainConfig(epochs=1 if args.quick else args.epochs, **TRAINING)
    if args.rescore:
        model = Pipeline.load_stages(args.out, detector, [STAGE]).stages[STAGE]
    else:
        model = new_stage(STAGE, detector, MODEL | {"group_loss_weight": args.jet_loss_weight}, config.seed)
        record = train_stage(model, detector, [paths["train"]], [paths["validation"]], Pipeline(detector, {}),
                             config, args.data / "checkpoints" / STAGE)
    pipeline = Pipeline(detector, {STAGE: model})
    metrics = {name: score(pipeline, paths[name]) for name in TEST_SAMPLES}
    metrics["summary"] = {name: figures["summary"] for name, figures in metrics.items()}
    if args.rescore:
        (args.out / STAGE / "metrics.json").write_text(json.dumps(metrics, indent=2))
    else:
        samples = {name: dict(zip(("crossings", "seed", "process", "mean_pileup"), spec))
                   for name, spec in SAMPLES.items()}
        save_stage(args.out / STAGE, STAGE, model, {**record, "samples": samples}, metrics)
    (args.out / "pipeline.json").write_text(json.dumps({"detector": detector.name, "stages": [STAGE]}, indent=2) + "\n")
    print(json.dumps(metrics["summary"], indent=2))


if __name__ == "__main__":
    main()
