"""Latency of pile-up mitigation per bunch crossing on one thread: the graph (edges and
node features, PUPPI's local shapes included) and the GNN of the shipped LHC pipeline,
beside PUPPI, SoftKiller and CHS on the same crossings in the same run; prints JSON.

    python scripts/bench_lhc_pf.py [EVENTS.parquet] [--crossings 50]

Default input: data/lhc-pf/test.parquet (140 pile-up, scripts/train_lhc_pf.py makes it).
Each crossing is reconstructed alone, as an experiment's framework would call it; the
figures are medians over crossings after one warm-up crossing compiles the kernels.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numba
import numpy as np
import torch

from graphreco.detectors.lhc_pf.baseline import charged_hadron_subtraction, puppi, soft_killer
from graphreco.io import read_events
from graphreco.pipeline import Pipeline


def _milliseconds(function) -> float:
    start = time.perf_counter()
    function()
    return 1e3 * (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", nargs="?", type=Path, default=Path("data/lhc-pf/test.parquet"))
    parser.add_argument("--crossings", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    pipeline = Pipeline.shipped("lhc-pf")
    batch = next(iter(read_events(args.events, batch_size=args.crossings + 1)))
    figures = {name: [] for name in ("graph", "gnn", "total", "puppi", "softkiller", "chs")}
    candidates = []
    for index in range(batch.n_events):
        crossing = batch.slice(index, index + 1)
        timings: dict[str, float] = {}
        total = _milliseconds(lambda: pipeline.reconstruct(crossing, timings))
        puppi_ms = _milliseconds(lambda: puppi(crossing.offsets, crossing.hits, crossing.events["npv"]))
        softkiller_ms = _milliseconds(lambda: soft_killer(crossing.offsets, crossing.hits))
        chs_ms = _milliseconds(lambda: charged_hadron_subtraction(crossing.offsets, crossing.hits))
        if index == 0:  # warm-up: numba compilation and torch's first call
            continue
        candidates.append(crossing.n_hits)
        figures["graph"].append(1e3 * timings["graph"])
        figures["gnn"].append(1e3 * sum(seconds for step, seconds in timings.items() if step != "graph"))
        figures["total"].append(total)
        figures["puppi"].append(puppi_ms)
        figures["softkiller"].append(softkiller_ms)
        figures["chs"].append(chs_ms)
    report = {"input": str(args.events), "crossings": len(candidates), "threads": 1,
              "candidates_per_crossing": round(float(np.mean(candidates))),
              "median_ms": {name: round(float(np.median(values)), 2) for name, values in figures.items()},
              "note": "graph = edges + node features (PUPPI's alphas and weight included); "
                      "total = the pipeline's reconstruct call"}
    report["gnn_chain_over_puppi"] = round(report["median_ms"]["total"] / report["median_ms"]["puppi"], 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
