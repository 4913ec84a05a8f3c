"""numba's on-disk cache of the compiled kernels, or a private one where numba has none.

Kernels are compiled with ``cache=True``: numba keeps the machine code in
``NUMBA_CACHE_DIR`` where the user set one, else beside the sources (``__pycache__``),
else in the user's cache folder under HOME, the first of these it can write. Where it can
write none (a read-only install run by a user without a writable HOME: batch nodes,
containers; or a ``NUMBA_CACHE_DIR`` that cannot be written), numba refuses to decorate a
cached function, so the import would fail. ``ensure_cache_folder`` then points numba at a
temporary folder of this process (inherited by its worker processes, removed at exit), so
that the kernels compile once per job instead of failing, and says so, once, with a
``KernelCacheWarning``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import warnings

import numba

from graphreco.errors import CommandWarning


class KernelCacheWarning(CommandWarning):
    """numba can write its cache nowhere: the kernels compile in every run."""


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
    """Give numba a temporary cache folder, with a ``KernelCacheWarning``, when it finds no
    writable one of its own."""
    if cache_available():
        return
    refused = f"NUMBA_CACHE_DIR={numba.config.CACHE_DIR}, " if numba.config.CACHE_DIR else ""
    warnings.warn(KernelCacheWarning(
        f"numba cannot write its cache of the compiled kernels ({refused}beside graphreco's sources, under HOME): "
        "they are compiled again in every run, which adds a minute or more; set NUMBA_CACHE_DIR to a writable "
        "folder to keep them"), stacklevel=2)
    folder = tempfile.mkdtemp(prefix="graphreco-numba-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["NUMBA_CACHE_DIR"] = numba.config.CACHE_DIR = folder
