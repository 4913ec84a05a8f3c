"""Batch throughput: ``graphreco reconstruct``'s engines against the single-process
pipeline on one core, in the same run on the same events; prints JSON.

    python scripts/bench_batch.py [EVENTS.parquet ...] [--detector baikal-gvd] [--workers 2]
                                  [--ray [--ray-address auto]] [--copies N [--as-files]]

Default input: data/baikal-gvd/test.parquet (scripts/train_baikal.py makes it).
``--copies N`` times the events of the inputs N times over, their ids made distinct, as
one file (or, with ``--as-files``, N files), written first into the temporary folder:
``make bench-batch``'s 20,000 events with ``--copies 5`` are the 100,000-event runs of
docs/batch.md. Measured:

- ``single_process``: the pipeline in this process on one torch and numba thread, after a
  warm-up (the per-core reference: no start-up, no workers);
- ``local_<n>``: the local engine with ``n`` worker processes, 1 to ``--workers``, timed
  as a user sees it (spawning the workers and loading the pipeline included);
- ``ray_<n>`` (with ``--ray``): the Ray engine with ``n`` actors on a local instance it
  starts and stops (both timed), or with ``--ray-address`` on a running instance (e.g.
  ``ray start --head --num-cpus 2`` first, then ``--ray-address auto``), as on a cluster.

Ratios: ``per_worker_vs_single_process`` (events/s per worker over the reference; the
target is at least 0.9) and ``ray_overhead`` (Ray's wall time over the local engine's with
the same workers, minus 1; the target is below 0.2). Outputs are also compared byte for
byte between every engine and worker count.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graphreco.io import write_events
from graphreco.io.configuration import moved
from graphreco.pipeline import Pipeline
from graphreco.run.file import reconstruct_file
from graphreco.run.workers import output_paths, plan_files, reconstruct_files
from graphreco.threads import single_thread

ID_STEP = 10_000_000
"""Shift of the event ids from one copy of the inputs to the next."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", nargs="*", type=Path, default=[Path("data/baikal-gvd/test.parquet")])
    parser.add_argument("--detector", default="baikal-gvd")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--ray", action="store_true", help="also time the Ray engine")
    parser.add_argument("--ray-address", help="with --ray: a running Ray instance to use (default: start one)")
    parser.add_argument("--copies", type=int, default=1, help="time N copies of the inputs' events (distinct ids)")
    parser.add_argument("--as-files", action="store_true", help="with --copies: one file per copy, not one file")
    args = parser.parse_args()
    pipeline = Pipeline.shipped(args.detector)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        if args.copies > 1:
            args.events = _copies(args.events, args.copies, args.as_files, folder / "inputs", args.detector)
        events = sum(pq.ParquetFile(path).metadata.num_rows for path in args.events)
        result: dict = {"inputs": [str(path) for path in args.events], "events": events,
                        "ray_address": args.ray_address,
                        "batch_size": args.batch_size}
        result["single_process"] = _single_process(pipeline, args.events, folder, args.batch_size)
        runs = {f"local_{n}": _engine(pipeline, args, folder / f"local_{n}", n, "local")
                for n in range(1, args.workers + 1)}
        if args.ray:
            runs[f"ray_{args.workers}"] = _engine(pipeline, args, folder / f"ray_{args.workers}", args.workers, "ray")
        identical = _identical([folder / name for name in runs])
    reference = result["single_process"]["events_per_s"]
    for name, run in runs.items():
        workers = int(name.rsplit("_", 1)[1])
        run["per_worker_vs_single_process"] = round(run["events_per_s"] / workers / reference, 3)
    if args.ray:
        runs[f"ray_{args.workers}"]["ray_overhead"] = round(
            runs[f"ray_{args.workers}"]["seconds"] / runs[f"local_{args.workers}"]["seconds"] - 1, 3)
    print(json.dumps(result | runs | {"outputs_identical": identical}, indent=2))


def _copies(sources: list[Path], copies: int, as_files: bool, folder: Path, detector: str) -> list[Path]:
    """The events of ``sources`` ``copies`` times, the event ids of copy k shifted by
    k * ``ID_STEP``, written into ``folder`` as one file or one per copy (naming the
    geometry file of the first source)."""
    table = moved(pa.concat_tables(pq.read_table(path) for path in sources), sources[0], folder / "copies.parquet")
    column = table.schema.get_field_index("event_id")
    parts = [table.set_column(column, "event_id", pc.add(table.column("event_id"), k * ID_STEP))
             for k in range(copies)]
    if as_files:
        paths = [folder / f"copy_{k + 1}.parquet" for k in range(copies)]
        for path, part in zip(paths, parts):
            write_events(path, part, detector)
        return paths
    write_events(folder / "copies.parquet", pa.concat_tables(parts), detector)
    return [folder / "copies.parquet"]


def _single_process(pipeline: Pipeline, sources: list[Path], folder: Path, batch_size: int) -> dict:
    """The pipeline on one thread in this process, warmed up first."""
    with single_thread():
        warm_up = folder / "warm_up.parquet"
        pq.write_table(moved(pq.read_table(sources[0]).slice(0, 64), sources[0], warm_up), warm_up)
        reconstruct_file(pipeline, warm_up, folder / "warm_up_out.parquet", batch_size)
        start, events = time.perf_counter(), 0
        for source in sources:
            events += reconstruct_file(pipeline, source, folder / "single" / source.name, batch_size)["events"]
        seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 2), "events_per_s": round(events / seconds)}


def _engine(pipeline: Pipeline, args: argparse.Namespace, output: Path, workers: int, engine: str) -> dict:
    """One run of an engine into an empty folder, timed from planning to the last output."""
    output.mkdir()
    start = time.perf_counter()
    plans = plan_files(pipeline, args.events, output_paths(args.events, output), batch_size=args.batch_size)
    if engine == "ray":
        from graphreco.run.ray_engine import reconstruct_with_ray

        records = reconstruct_with_ray(pipeline, plans, args.batch_size, workers=workers, address=args.ray_address)
    else:
        records = reconstruct_files(pipeline, plans, args.batch_size, workers=workers)
    seconds = time.perf_counter() - start
    events = sum(record["events"] for record in records)
    return {"workers": workers, "seconds": round(seconds, 2), "events_per_s": round(events / seconds)}


def _identical(folders: list[Path]) -> bool:
    """Whether every folder holds the same files with the same bytes."""
    contents = [{path.name: path.read_bytes() for path in folder.iterdir()} for folder in folders]
    return all(content == contents[0] for content in contents[1:])


if __name__ == "__main__":
    main()
