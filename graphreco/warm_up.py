"""Compile the numba kernels once, at set-up, instead of in a user's first run.

numba compiles a kernel on its first call and caches the machine code (``cache=True``),
which is specific to the machine's CPU, so the cache cannot be shipped. A first run on a
fresh install spends most of its time compiling: 99 s against 11 s for the second
``reconstruct`` of 200 Baikal-GVD events, 60 s against 7 s for their ``evaluate``.
This module runs each detector's path once on a small simulated sample
(``Simulator.small_sample``: simulate, reconstruct, evaluate), so that every kernel those
commands call is compiled into the cache. ``make setup`` runs it: ``python -m graphreco.warm_up``.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

from . import detectors
from .cli import main


def warm_up_detector(name: str, folder: Path) -> str:
    """Simulate, reconstruct and evaluate a few events of one detector in ``folder``;
    returns what was done (or why it was skipped), with the seconds it took."""
    events, reconstruction = folder / f"{name}.parquet", folder / f"{name}-reco.parquet"
    commands = [["simulate", name, *detectors.get(name).simulator.small_sample, "--seed", "1", "-o", str(events)],
                ["reconstruct", "--detector", name, str(events), "-o", str(reconstruction), "--no-progress"],
                ["evaluate", str(events), str(reconstruction)]]
    start = time.perf_counter()
    for command in commands:
        errors = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(errors):
            code = main(command)
        if code != 0:  # e.g. the LHC simulator without the lhc extra (Pythia 8)
            reason = errors.getvalue().strip().splitlines()[-1:] or [f"exit code {code}"]
            return f"{name}: skipped at `graphreco {command[0]}`: {reason[0]}"
    return f"{name}: simulated, reconstructed and evaluated in {time.perf_counter() - start:.0f} s"


def warm_up() -> list[str]:
    """Every known detector with a simulator, in a temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="graphreco-warm-up-") as folder:
        return [warm_up_detector(name, Path(folder)) for name in detectors.available()
                if detectors.get(name).simulator is not None]


if __name__ == "__main__":
    for line in warm_up():
        print(line, file=sys.stderr)
