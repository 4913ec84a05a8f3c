"""One core per reconstruction: the thread settings that batch workers, benchmarks and
export timings share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba
import torch


@contextmanager
def single_thread() -> Iterator[None]:
    """torch and numba on one thread inside the block (restored after)."""
    torch_threads, numba_threads = torch.get_num_threads(), numba.get_num_threads()
    set_threads(1, 1)
    try:
        yield
    finally:
        set_threads(torch_threads, numba_threads)


def set_threads(torch_threads: int, numba_threads: int) -> None:
    """Thread counts of torch (this process) and numba (this thread). numba goes first:
    starting its OpenMP layer in a forked process resets the OpenMP thread count that
    torch had set."""
    numba.set_num_threads(numba_threads)
    torch.set_num_threads(torch_threads)
