"""End-to-end reconstruction throughput of the shipped pipeline, with the time per step,
beside the classical chain on the same events in the same run; prints JSON.

    python scripts/bench_pipeline.py [EVENTS.parquet] [--detector baikal-gvd] [--threads 2] [--batch-size 4096]

Default input: data/baikal-gvd/test.parquet (scripts/train_baikal.py makes it; any file in
the event format will do). The pipeline runs as ``graphreco reconstruct`` does (read and
validate, graph, each stage, write an output file); one warm-up batch compiles the numba
kernels first. The classical chain (the detector's ``baseline``) runs on the same batches.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numba
import pyarrow.parquet as pq
import torch

from graphreco import detectors
from graphreco.io import read_events
from graphreco.io.configuration import moved
from graphreco.pipeline import Pipeline
from graphreco.run.file import reconstruct_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", nargs="?", type=Path, default=Path("data/baikal-gvd/test.parquet"))
    parser.add_argument("--detector", default="baikal-gvd")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4096)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    pipeline = Pipeline.shipped(args.detector)
    with tempfile.TemporaryDirectory() as folder:
        warm_up = Path(folder) / "warm_up.parquet"
        pq.write_table(moved(pq.read_table(args.events).slice(0, 64), args.events, warm_up), warm_up)
        reconstruct_file(pipeline, warm_up, Path(folder) / "warm_up_out.parquet")
        result = reconstruct_file(pipeline, args.events, Path(folder) / "out.parquet", args.batch_size)
    events, steps = result["events"], result["seconds_per_step"]
    baseline = detectors.get(args.detector).baseline
    start = time.perf_counter()
    for batch in read_events(args.events, batch_size=args.batch_size):
        baseline(batch.offsets, batch.hits, configuration=batch.configuration)
    classical_seconds = time.perf_counter() - start
    gnn_rate = events / result["seconds"]
    print(json.dumps({
        "input": str(args.events), "events": events, "threads": args.threads, "stages": list(pipeline.stages),
        "pipeline": {"events_per_s": round(gnn_rate), "seconds": result["seconds"],
                     "seconds_per_step": steps,
                     "share_per_step": {k: round(v / result["seconds"], 3) for k, v in steps.items()}},
        "classical_chain": {"events_per_s": round(events / classical_seconds), "seconds": round(classical_seconds, 3),
                            "note": "read and validate included; no output written"},
        "pipeline_over_classical": round(gnn_rate * classical_seconds / events, 2),
    }, indent=2))


if __name__ == "__main__":
    main()
