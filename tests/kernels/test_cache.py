"""The kernels import where numba has nowhere to cache them (no writable install, no HOME,
no writable NUMBA_CACHE_DIR), and the user is told, once, what that costs and how to fix it."""

import os
import subprocess
import sys

from graphreco.cli import EXIT_BAD_INPUT

IMPORT_EVERYTHING = """
import os
from graphreco import detectors
import graphreco.kernels
for name in detectors.available():
    detectors.get(name)
print(os.environ["NUMBA_CACHE_DIR"])
"""


def _without_a_cache(numba_cache_dir: str | None = None) -> dict[str, str]:
    """An environment in which numba's only locator is the one of NUMBA_CACHE_DIR: unset
    or unwritable, it finds no place, as for a user without a writable HOME running a
    read-only install."""
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env["NUMBA_CACHE_LOCATOR_CLASSES"] = "UserProvidedCacheLocator"
    if numba_cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = numba_cache_dir
    return env


def test_without_a_writable_cache_location_numba_gets_a_private_one():
    run = subprocess.run([sys.executable, "-c", IMPORT_EVERYTHING], env=_without_a_cache(), capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    folder = run.stdout.strip()
    assert os.path.basename(folder).startswith("graphreco-numba-") and not os.path.exists(folder)
    assert run.stderr.count("KernelCacheWarning") == 1


def test_the_command_line_says_so_in_one_line_and_goes_on(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # a folder under a file cannot be made, not even by root
    missing = tmp_path / "missing.parquet"
    run = subprocess.run([sys.executable, "-m", "graphreco.cli", "graphs", str(missing), "--detector", "ta-sd"],
                         env=_without_a_cache(str(blocked / "numba")), capture_output=True, text=True, timeout=300)
    lines = run.stderr.splitlines()
    assert run.returncode == EXIT_BAD_INPUT and "Traceback" not in run.stderr, run.stderr
    assert len(lines) == 2 and lines[1].startswith("graphreco: error: ") and str(missing) in lines[1], run.stderr
    assert lines[0].startswith("graphreco: warning: numba cannot write its cache")
    assert f"NUMBA_CACHE_DIR={blocked / 'numba'}" in lines[0] and "set NUMBA_CACHE_DIR to a writable folder" in lines[0]
