"""The command line shared by ``scripts/train_<detector>.py``: make the samples, run the
shipped recipe (``graphreco.train.config.train_from_config``), score the pipeline.

    --quick        5 % of the samples and ``quick_epochs`` epochs, for a smoke run
    --stages a,b   the recipe's stages to train (default: all it trains)
    --epochs N     epochs of every trained stage (default: the recipe's)
    --rescore      train nothing: score the pipeline already in --out
    --recalibrate  fit the chosen stages' calibration again (weights kept), then score
    --data DIR     where the samples are made and read
    --out DIR      the pipeline folder (default: the one shipped with the package)
    --threads N    torch threads
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from graphreco.train.config import train_from_config


def parse_arguments(description: str, recipe: Path, data: Path, quick_epochs: int, threads: int = 1
                    ) -> argparse.Namespace:
    """The parsed command line of a training script; sets torch's threads."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help=f"5 %% of the samples and {quick_epochs} epoch(s), for a smoke run")
    parser.add_argument("--stages", help="stages to train (comma separated; default: all the recipe trains); "
                                         "the others keep their artifacts in --out")
    parser.add_argument("--epochs", type=int, help="epochs of every trained stage (default: the recipe's)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--rescore", action="store_true",
                        help="score the stages already in --out on the test samples again (no training)")
    action.add_argument("--recalibrate", action="store_true",
                        help="calibrate the chosen stages again on their validation sample (weights kept), then score")
    parser.add_argument("--data", type=Path, default=data)
    parser.add_argument("--out", type=Path, default=recipe.parent,
                        help="pipeline folder (default: the one shipped with the package)")
    parser.add_argument("--threads", type=int, default=threads, help="torch threads")
    args = parser.parse_args()
    args.recipe, args.quick_epochs = recipe, quick_epochs
    args.chosen = args.stages.split(",") if args.stages else None
    torch.set_num_threads(args.threads)
    return args


def run_recipe(args: argparse.Namespace, samples: dict) -> None:
    """Train (or recalibrate) the chosen stages of the recipe on the samples in ``args.data``
    into ``args.out``, recording ``samples`` (what was simulated) in their artifacts;
    nothing with ``--rescore``."""
    if not args.rescore:
        train_from_config(args.recipe, data=args.data, out=args.out, stages=args.chosen,
                          epochs=args.quick_epochs if args.quick else args.epochs, recalibrate=args.recalibrate,
                          description={"samples": samples})


def scored(args: argparse.Namespace, stage: str) -> bool:
    """Whether the metrics of ``stage`` are (re)written: it was chosen, or all were."""
    return args.chosen is None or stage in args.chosen
