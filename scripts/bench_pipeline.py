"""End-to-end reconstruction throughput of the shipped pipeline, with the time per step,
beside the classical chain on the same events in the same run; prints JSON.

    python scripts/bench_pipeline.py [EVENTS.parquet] [--detector baikal-gvd] [--threads 2] [--batch-size 4096]
                                     [--busy N]

Default input: data/baikal-gvd/test.parquet (scripts/train_baikal.py makes it; any file in
the event format will do). The pipeline runs as ``graphreco reconstruct`` does (read and
validate, graph, each stage, write an output file); one warm-up batch compiles the numba
kernels first. The classical chain (the detector's ``baseline``) runs on the same batches.
With ``--busy N`` both are measured again beside N CPU-bound processes (a loop that never
waits, as another user's job on a shared node), and the JSON gives each busy rate as a
fraction of the quiet one.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    parser.add_argument("--busy", type=int, default=0, help="measure again beside this many CPU-bound processes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    pipeline = Pipeline.shipped(args.detector)
    quiet = measure(pipeline, args.events, args.detector, args.batch_size)
    report = {"input": str(args.events), "threads": args.threads, "stages": list(pipeline.stages), **quiet}
    if args.busy:
        with competing_processes(args.busy):
            busy = measure(pipeline, args.events, args.detector, args.batch_size)
        report["beside_busy_processes"] = {
            "processes": args.busy, **busy,
            "fraction_of_quiet": {name: round(busy[name]["events_per_s"] / quiet[name]["events_per_s"], 2)
                                  for name in ("pipeline", "classical_chain")}}
    print(json.dumps(report, indent=2))


def measure(pipeline: Pipeline, events_file: Path, detector: str, batch_size: int) -> dict:
    """Events/s of the pipeline (as ``graphreco reconstruct`` runs it, after a warm-up
    batch) and of the classical chain on the same file, with the time per pipeline step."""
    with tempfile.TemporaryDirectory() as folder:
        warm_up = Path(folder) / "warm_up.parquet"
        pq.write_table(moved(pq.read_table(events_file).slice(0, 64), events_file, warm_up), warm_up)
        reconstruct_file(pipeline, warm_up, Path(folder) / "warm_up_out.parquet")
        result = reconstruct_file(pipeline, events_file, Path(folder) / "out.parquet", batch_size)
    events, steps = result["events"], result["seconds_per_step"]
    baseline = detectors.get(detector).baseline
    start = time.perf_counter()
    for batch in read_events(events_file, batch_size=batch_size):
        baseline(batch.offsets, batch.hits, configuration=batch.configuration)
    classical_seconds = time.perf_counter() - start
    gnn_rate = events / result["seconds"]
    return {
        "events": events,
        "pipeline": {"events_per_s": round(gnn_rate), "seconds": result["seconds"],
                     "seconds_per_step": steps,
                     "share_per_step": {k: round(v / result["seconds"], 3) for k, v in steps.items()}},
        "classical_chain": {"events_per_s": round(events / classical_seconds), "seconds": round(classical_seconds, 3),
                            "note": "read and validate included; no output written"},
        "pipeline_over_classical": round(gnn_rate * classical_seconds / events, 2),
    }


def _spin() -> None:
    while True:
        pass


@contextmanager
def competing_processes(count: int) -> Iterator[None]:
    """``count`` processes that keep a core busy for as long as the block runs."""
    processes = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(count)]
    for process in processes:
        process.start()
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
            process.join()

if __name__ == "__main__":
    main()
