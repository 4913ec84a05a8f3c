"""Run a `graphreco` command in a process of its own and measure its time and peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass

RUN_AND_MEASURE = """
import json, sys
from graphreco.cli import main
code = main(sys.argv[1:])
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"code": code, "peak_kib": peak_kib}))
"""
# VmHWM is the high-water mark of this process's own memory. ru_maxrss is not: a process
# spawned from a large one (pytest after hundreds of tests) reports its parent's size.


@dataclass(frozen=True)
class MeasuredRun:
    """Exit code, wall time (s), peak resident memory (GB) and stderr of one command."""

    code: int
    seconds: float
    peak_gb: float
    stderr: str


def measured_run(args: list[str], timeout: float) -> MeasuredRun:
    """``graphreco ARGS`` in a fresh Python process (its own kernels' cache loads included)."""
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", RUN_AND_MEASURE, *args], capture_output=True, text=True,
                         timeout=timeout)
    seconds = time.perf_counter() - start
    if run.returncode != 0 or not run.stdout.strip():
        return MeasuredRun(run.returncode, seconds, float("nan"), run.stderr)
    measured = json.loads(run.stdout.splitlines()[-1])
    return MeasuredRun(measured["code"], seconds, measured["peak_kib"] / 2**20, run.stderr)
