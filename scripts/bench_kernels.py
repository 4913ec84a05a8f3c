"""Benchmark of the graph builders and the read -> validate -> graph path; prints JSON.

Everything is measured in one run so that ratios compare like with like on a noisy
machine:
- ``knn``: ``knn_graph`` (k = 8, 4-D float32 points, standard normal) against scipy's
  ``cKDTree`` built and queried per event (k + 1, the hit itself comes back first) and
  against ``torch.cdist`` + ``topk`` per event, for events of 64, 100, 2000 and 20000 hits,
  with 1 and 2 threads (numba threads; cKDTree events shared over a thread pool; torch
  intra-op threads).
  Best of three repetitions.
- ``pipeline``: read + validate + Baikal-GVD graph (space-time kNN united with the string
  topology) + node features + ``GraphBatch``, from a Parquet file of one-cluster
  readout windows at 40 kHz noise (57.6 hits per event), with 1 and 2 threads.
- ``streaming_memory``: peak resident memory of a fresh process that streams a file of
  1,000,000 small events (1 us windows, ~11.5 hits each) through read + validate + graph.

Usage: ``python scripts/bench_kernels.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np

from graphreco.detectors.baikal_gvd.simulation import simulate_noise_events
from graphreco.io import EventWriter, event_table
from graphreco.kernels import knn_graph
from graphreco.throughput import measure_graph_building

# torch and scipy are imported where they are used, so that the
# streaming-memory child process loads only what streaming needs.

K = 8
SIZES = {64: 4000, 100: 2500, 2000: 60, 20000: 3}


def best_time(run: Callable[[], object], repeats: int = 3) -> float:
    """Fastest of ``repeats`` runs (s), after one untimed warm-up."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def ckdtree_per_event(points: np.ndarray, offsets: np.ndarray, threads: int) -> np.ndarray:
    """cKDTree built and queried per event; with several threads the events are shared
    out over a thread pool (scipy releases the GIL), the fair way to parallelise it."""
    from concurrent.futures import ThreadPoolExecutor

    from scipy.spatial import cKDTree

    def query(e: int) -> np.ndarray:
        event = points[offsets[e]:offsets[e + 1]]
        _, neighbours = cKDTree(event).query(event, k=K + 1)
        return neighbours[:, 1:].ravel() + offsets[e]

    if threads == 1:
        return np.concatenate([query(e) for e in range(offsets.size - 1)])
    with ThreadPoolExecutor(threads) as pool:
        return np.concatenate(list(pool.map(query, range(offsets.size - 1), chunksize=64)))


def cdist_topk_per_event(points, offsets: np.ndarray, chunk: int = 2048):
    import torch

    sources = []
    for e in range(offsets.size - 1):
        event = points[offsets[e]:offsets[e + 1]]
        for lo in range(0, event.shape[0], chunk):  # row chunks bound the n x n matrix
            distance = torch.cdist(event[lo:lo + chunk], event)
            rows = torch.arange(distance.shape[0])
            distance[rows, rows + lo] = torch.inf
            sources.append(distance.topk(K, largest=False).indices.ravel() + int(offsets[e]))
    return torch.cat(sources)


def bench_knn(sizes: dict[int, int]) -> list[dict]:
    import torch

    rng = np.random.default_rng(0)
    rows = []
    for n_hits, n_events in sizes.items():
        offsets = np.arange(n_events + 1, dtype=np.int64) * n_hits
        points = rng.standard_normal((n_events * n_hits, 4)).astype(np.float32)
        tensor = torch.from_numpy(points)
        for threads in (1, 2):
            numba.set_num_threads(threads)
            torch.set_num_threads(threads)
            seconds = {
                "knn_graph": best_time(lambda: knn_graph(offsets, points, K)),
                "ckdtree": best_time(lambda: ckdtree_per_event(points, offsets, threads)),
                "cdist_topk": best_time(lambda: cdist_topk_per_event(tensor, offsets),
                                        repeats=1 if n_hits > 2000 else 3),
            }
            rows.append({
                "hits_per_event": n_hits, "events": n_events, "threads": threads,
                "events_per_s": {name: round(n_events / s, 1) for name, s in seconds.items()},
                "hits_per_s": {name: round(n_events * n_hits / s) for name, s in seconds.items()},
                "speedup_vs_ckdtree": round(seconds["ckdtree"] / seconds["knn_graph"], 2),
                "speedup_vs_cdist_topk": round(seconds["cdist_topk"] / seconds["knn_graph"], 2),
            })
    return rows


def write_noise_file(path: Path, n_events: int, window_ns: float, chunk: int = 100_000) -> None:
    with EventWriter(path, "baikal-gvd") as writer:
        for first in range(0, n_events, chunk):
            simulated = simulate_noise_events(min(chunk, n_events - first), seed=first, window_ns=window_ns)
            table = event_table(simulated.event_id + first, simulated.offsets, simulated.hits, simulated.events)
            writer.write(table)


def bench_pipeline(workdir: Path, n_events: int) -> list[dict]:
    import torch

    path = workdir / "baikal-noise.parquet"
    write_noise_file(path, n_events, window_ns=5000.0)
    measure_graph_building(path)  # warm caches (numba, file system)
    rows = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        torch.set_num_threads(threads)
        runs = [measure_graph_building(path) for _ in range(3)]
        best = min(runs, key=lambda r: sum(r["seconds"].values()))
        total = sum(best["seconds"].values())
        rows.append({"threads": threads, "events": best["events"],
                     "mean_hits_per_event": round(best["hits"] / best["events"], 1),
                     "events_per_s": round(best["events"] / total),
                     "us_per_event": {k: round(v / best["events"] * 1e6, 2) for k, v in best["seconds"].items()}})
    return rows


def bench_streaming_memory(workdir: Path, n_events: int) -> dict:
    path = workdir / "small-events.parquet"
    write_noise_file(path, n_events, window_ns=1000.0)
    child = subprocess.run([sys.executable, __file__, "--stream-only", str(path)], capture_output=True,
                           text=True, check=True)
    result = json.loads(child.stdout)
    result["file_mb"] = round(path.stat().st_size / 2**20, 1)
    return result


def peak_rss_mib() -> float:
    """This process's resident-memory high-water mark (VmHWM, MiB). Unlike ru_maxrss it
    starts afresh at exec, so a child does not inherit its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def stream_only(path: Path) -> None:
    """Child process: stream the file, report the events seen and the peak RSS (MiB)."""
    baseline = peak_rss_mib()
    result = measure_graph_building(path, assemble=False)
    print(json.dumps({"events": result["events"], "hits": result["hits"],
                      "peak_rss_mib": round(peak_rss_mib()), "rss_after_imports_mib": round(baseline)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller samples, for a smoke run")
    parser.add_argument("--stream-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_only:
        stream_only(args.stream_only)
        return
    sizes = {n: max(2, e // 20) for n, e in SIZES.items()} if args.quick else SIZES
    with tempfile.TemporaryDirectory() as tmp:
        import torch

        report = {
            "machine": {"cpus": numba.config.NUMBA_NUM_THREADS, "numba": numba.__version__,
                        "torch": torch.__version__, "numpy": np.__version__},
            "knn": bench_knn(sizes),
            "pipeline_baikal_gvd": bench_pipeline(Path(tmp), 5_000 if args.quick else 50_000),
            "streaming_memory": bench_streaming_memory(Path(tmp), 20_000 if args.quick else 1_000_000),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
