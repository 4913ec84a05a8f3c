"""Train the shipped LHC particle-flow pile-up model from its recipe and measure it beside
CHS, SoftKiller and PUPPI on held-out crossings.

    python scripts/train_lhc_pf.py [--quick] [--epochs N] [--rescore | --recalibrate] [--data data/lhc-pf] [--out DIR]

1. Simulates independent samples (different seeds for the hard events and for the
   minimum-bias pools): training and validation on Z -> nu nu + jet at 140 pile-up, and
   held-out tests on Z -> nu nu + jet at 140, 80 and 200 pile-up and on ttbar at 140.
2. Trains the hit-selection stage of ``detectors/lhc_pf/artifacts/recipe.json`` on them,
   as ``graphreco train RECIPE --data DIR --out DIR [--epochs N]`` does; ``--recalibrate``
   instead fits its calibration again on the validation sample, weights kept;
   ``--rescore`` trains nothing.
3. Scores it with ``graphreco.evaluate.pileup.pileup_figures`` on every test
   sample beside the classical algorithms on the same crossings, writes the scores as the
   stage's metrics.json and prints their summary as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from recipe_command import parse_arguments, run_recipe, scored

from graphreco.detectors.lhc_pf.simulation import simulate_events
from graphreco.evaluate.jets import jet_membership
from graphreco.evaluate.pileup import concatenated, pileup_figures
from graphreco.io import event_table, read_events, write_events
from graphreco.pipeline import Pipeline

RECIPE = Path(__file__).resolve().parents[1] / "detectors" / "lhc_pf" / "artifacts" / "recipe.json"
SAMPLES = {  # name: (crossings, seed, process, mean pile-up)
    "train": (1500, 11, "znunu_jet", 140),
    "validation": (300, 12, "znunu_jet", 140),
    "test": (600, 13, "znunu_jet", 140),
    "test_ttbar": (300, 14, "ttbar", 140),
    "test_pu200": (300, 15, "znunu_jet", 200),
    "test_pu80": (300, 16, "znunu_jet", 80),
}
TEST_SAMPLES = ("test", "test_ttbar", "test_pu200", "test_pu80")


def simulate_samples(folder: Path, scale: float, names: tuple[str, ...] = tuple(SAMPLES)) -> dict[str, Path]:
    """Write each sample of ``names`` (``scale`` times its crossings, at least 20, with the
    candidates' jet membership as ``true_jet``) to ``folder/<name>.parquet`` unless it is there."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
        crossings, seed, process, pileup = SAMPLES[name]
        paths[name] = folder / f"{name}.parquet"
        if not paths[name].exists():
            simulated = simulate_events(max(20, int(crossings * scale)), seed=seed, process=process,
                                        mean_pileup=pileup, cache=folder / "pool")
            hits = simulated.hits
            hits["true_jet"] = jet_membership(simulated.offsets, hits["pt"], hits["eta"], hits["phi"],
                                              hits["energy"], hits["true_label"])
            write_events(paths[name], event_table(**simulated.columns()), "lhc-pf")
    return paths


def score(pipeline: Pipeline, path: Path) -> dict:
    """Every method's figures on the crossings of ``path``, the GNN run as in production."""
    batches = list(read_events(path, batch_size=64))
    gnn = np.concatenate([pipeline.reconstruct(batch)[0]["hit_score"] for batch in batches])
    return pileup_figures(pipeline.detector, *concatenated(batches), gnn)


def main() -> None:
    args = parse_arguments(__doc__.splitlines()[0], RECIPE, Path("data/lhc-pf"), quick_epochs=1)
    paths = simulate_samples(args.data, 0.05 if args.quick else 1.0, TEST_SAMPLES if args.rescore else tuple(SAMPLES))
    run_recipe(args, {name: dict(zip(("crossings", "seed", "process", "mean_pileup"), spec))
                      for name, spec in SAMPLES.items()})
    pipeline = Pipeline.load(args.out)
    metrics = {name: score(pipeline, paths[name]) for name in TEST_SAMPLES}
    metrics["summary"] = {name: figures["summary"] for name, figures in metrics.items()}
    for name in filter(lambda stage: scored(args, stage), pipeline.stages):
        (args.out / name / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(json.dumps(metrics["summary"], indent=2))


if __name__ == "__main__":
    main()
