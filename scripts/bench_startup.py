"""Start-up of ``graphreco reconstruct`` on small files: the command's wall time, best of
N runs, each in a fresh interpreter, and what the imports of the large packages take in the
fastest run; prints JSON.

    python scripts/bench_startup.py INPUT DETECTOR [INPUT DETECTOR ...] [--repeats 3] [--workers 1]
                                    [--hide pandas,vector,awkward]

``--hide`` runs the commands as if those packages were not installed (importing them fails),
to time an install without the extras that bring them. Per input, ``imports`` gives, for
each of ``WATCHED`` that the run imported, the seconds from the start of its import to its
end, less the watched imports nested in it (``self_s``); ``rest_s`` is the wall time left:
Python's start, graphreco's own imports, numba's first call, the pipeline loaded and the
events read, reconstructed and written. The outputs of all runs of an input are compared
byte for byte.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WATCHED = ("numba", "pyarrow", "torch", "vector", "awkward", "pandas")

RUNNER = '''
import contextlib, importlib.abc, importlib.machinery, io, json, sys, time

start = time.perf_counter()
config = json.loads(sys.argv[1])
imports = []


class Watch(importlib.abc.MetaPathFinder):
    """Refuses the hidden packages; times the import of each watched one."""

    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in config["hide"]:
            raise ModuleNotFoundError(f"No module named {name!r}")
        if name not in config["watch"]:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def timed(module):
                begin = time.perf_counter() - start
                try:
                    run(module)
                finally:
                    imports.append([name, begin, time.perf_counter() - start])

            spec.loader.exec_module = timed
        return spec


sys.meta_path.insert(0, Watch())
from graphreco.cli import main

with contextlib.redirect_stdout(io.StringIO()):
    code = main(config["argv"])
print(json.dumps({"code": code, "imports": imports}))
'''


def run_once(argv: list[str], hide: list[str]) -> tuple[float, dict]:
    """Wall seconds of one command in a fresh interpreter, and what the runner reported."""
    config = json.dumps({"argv": argv, "hide": hide, "watch": WATCHED})
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUNNER, config], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    report = json.loads(done.stdout.splitlines()[-1])
    if report["code"] != 0:
        raise RuntimeError(f"graphreco {' '.join(argv)} exited {report['code']}: {done.stderr}")
    return seconds, report


def self_times(imports: list[list]) -> dict[str, float]:
    """Seconds of each watched import, less those of the watched imports directly inside it."""
    spans = sorted(imports, key=lambda item: item[1])
    times = {}
    for name, begin, end in spans:
        inner = [(b, e) for other, b, e in spans if other != name and begin <= b and e <= end]
        direct = [(b, e) for b, e in inner if not any(b2 <= b and e <= e2 and (b2, e2) != (b, e) for b2, e2 in inner)]
        times[name] = round(end - begin - sum(e - b for b, e in direct), 3)
    return times


def measure(source: Path, detector: str, repeats: int, workers: int, hide: list[str], folder: Path) -> dict:
    """Best of ``repeats`` runs of one input, its imports, and whether the outputs agree."""
    runs, outputs = [], []
    for repeat in range(repeats):
        output = folder / f"{source.stem}-{repeat}.parquet"
        argv = ["reconstruct", str(source), "--detector", detector, "-o", str(output), "--no-progress",
                "--workers", str(workers)]
        runs.append(run_once(argv, hide))
        outputs.append(output.read_bytes())
    seconds, report = min(runs, key=lambda run: run[0])
    imports = self_times(report["imports"])
    return {"input": str(source), "detector": detector, "best_s": round(seconds, 2),
            "all_s": [round(run[0], 2) for run in runs], "imports": imports,
            "rest_s": round(seconds - sum(imports.values()), 2),
            "outputs_identical": all(output == outputs[0] for output in outputs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", metavar="INPUT DETECTOR", help="event files and their detectors")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="--workers of the command (0: its default)")
    parser.add_argument("--hide", default="", help="packages to hide, comma separated")
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("give INPUT DETECTOR pairs")
    hide = [name for name in args.hide.split(",") if name]
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        results = [measure(Path(source), detector, args.repeats, args.workers, hide, Path(folder))
                   for source, detector in zip(args.pairs[::2], args.pairs[1::2])]
    print(json.dumps({"workers": args.workers, "hidden": hide, "repeats": args.repeats, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
