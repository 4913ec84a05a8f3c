"""numba's on-disk cache of the compiled kernels, or a private one where numba has none.

Kernels are compiled with ``cache=True``: numba keeps the machine code beside the sources
(``__pycache__``) or, where that is read-only, in the user's cache folder under HOME.
Where neither can be written (a read-only install run by a user without a writable HOME:
batch nodes, containers), numba refuses to decorate a cached function, so the import
fails. ``ensure_cache_folder`` then points numba at a temporary folder of this process
(inherited by its worker processes, removed at exit): the kernels compile once per job
instead of failing. A ``NUMBA_CACHE_DIR`` the user set is left as it is.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import numba


def _probe() -> None:
    """A function numba is asked to cache, to learn whether it can (never compiled)."""


def cache_available() -> bool:
    """Whether numba finds a folder to cache a function of this package in."""
    try:
        numba.njit(cache=True)(_probe)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return False
    return True


def ensure_cache_folder() -> None:
    """Give numba a temporary cache folder when it finds no writable one of its own."""
    if numba.config.CACHE_DIR or cache_available():
        return
    folder = tempfile.mkdtemp(prefix="graphreco-numba-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["NUMBA_CACHE_DIR"] = numba.config.CACHE_DIR = folder
