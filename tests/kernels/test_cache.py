"""The kernels import where numba has nowhere to cache them (no writable install, no HOME)."""

import os
import subprocess
import sys

IMPORT_EVERYTHING = """
import os
from graphreco import detectors
import graphreco.kernels
for name in detectors.available():
    detectors.get(name)
print(os.environ["NUMBA_CACHE_DIR"])
"""


def test_without_a_writable_cache_location_numba_gets_a_private_one():
    # numba's only locator is then the one of NUMBA_CACHE_DIR, which is unset: it finds no
    # place, as for a user without a writable HOME running a read-only install.
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env["NUMBA_CACHE_LOCATOR_CLASSES"] = "UserProvidedCacheLocator"
    run = subprocess.run([sys.executable, "-c", IMPORT_EVERYTHING], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    folder = run.stdout.strip()
    assert os.path.basename(folder).startswith("graphreco-numba-") and not os.path.exists(folder)
