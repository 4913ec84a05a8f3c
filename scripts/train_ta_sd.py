"""Train the shipped Telescope Array SD models from their recipe and measure them on held-out showers.

    python scripts/train_ta_sd.py [--quick] [--stages ...] [--epochs N] [--rescore | --recalibrate]
                                  [--data data/ta-sd] [--out DIR]

1. Simulates independent samples (different seeds) of proton, iron and photon showers,
   10^18 - 10^20.5 eV, zenith < 60 deg (``detectors/ta_sd/simulation.py``): training,
   validation and test at nominal conditions, and a test sample with twice the
   accidental-muon rate and 40 ns timing for the shifted-condition figures.
2. Trains the stages of ``detectors/ta_sd/artifacts/recipe.json`` on them, as
   ``graphreco train RECIPE --data DIR --out DIR [--stages ...] [--epochs N]`` does;
   ``--recalibrate`` instead fits the chosen stages' calibration again on the validation
   sample, weights kept; ``--rescore`` trains nothing.
3. Reconstructs every test sample with the pipeline as a user would (``reconstruct_file``)
   and scores it with ``graphreco.evaluate.air_showers`` beside the standard fit on the
   same events; writes the scores as the chosen stages' metrics.json and prints them as JSON.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from recipe_command import parse_arguments, run_recipe, scored

from graphreco.detectors.ta_sd.simulation import Conditions, simulate_events
from graphreco.evaluate.air_showers import evaluate as compare_showers
from graphreco.io import event_table, write_events
from graphreco.pipeline import Pipeline
from graphreco.run.file import reconstruct_file

RECIPE = Path(__file__).resolve().parents[1] / "detectors" / "ta_sd" / "artifacts" / "recipe.json"
SAMPLES = {  # name: (events, seed, conditions)
    "train": (60_000, 1101, Conditions()),
    "validation": (8_000, 1202, Conditions()),
    "test": (20_000, 1303, Conditions()),
    "test_shifted": (8_000, 1404, Conditions(accidental_rate_scale=2.0, timing_resolution_ns=40.0)),
    "train_posterior": (90_000, 1505, Conditions()),
    "validation_posterior": (5_000, 1606, Conditions()),
}
TEST_SAMPLES = ("test", "test_shifted")


def simulate_samples(folder: Path, scale: float) -> dict[str, Path]:
    """Write each sample (``scale`` times its events, at least 200) to ``folder/<name>.parquet``
    unless it is there; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (events, seed, conditions) in SAMPLES.items():
        paths[name] = folder / f"{name}.parquet"
        if not paths[name].exists():
            simulated = simulate_events(max(200, int(events * scale)), seed=seed, conditions=conditions)
            write_events(paths[name], event_table(**simulated.columns()), "ta-sd")
    return paths


def score(pipeline: Pipeline, path: Path) -> dict:
    """The comparison of ``pipeline`` and the standard fit on the events of ``path``."""
    with tempfile.TemporaryDirectory() as folder:
        reco = Path(folder) / "reco.parquet"
        timing = reconstruct_file(pipeline, path, reco)
        report = compare_showers(path, reco)
    return {"reconstruction": {key: timing[key] for key in ("events", "seconds") if key in timing}, **report}


def main() -> None:
    args = parse_arguments(__doc__.splitlines()[0], RECIPE, Path("data/ta-sd"), quick_epochs=2)
    paths = simulate_samples(args.data, 0.05 if args.quick else 1.0)
    run_recipe(args, {name: {"events": spec[0], "seed": spec[1], "conditions": vars(spec[2])}
                      for name, spec in SAMPLES.items()})
    pipeline = Pipeline.load(args.out)
    metrics = {name: score(pipeline, paths[name]) for name in TEST_SAMPLES}
    for name in filter(lambda stage: scored(args, stage), pipeline.stages):
        (args.out / name / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
