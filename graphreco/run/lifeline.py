"""Tie a worker process's life to the process that runs the job.

A worker forked from multiprocessing's fork server is the fork server's child, not the
main process's, and it holds the fork server's "alive" pipe and the resource tracker's
pipe open: when the main process is killed (``kill -9``, no clean-up runs) the workers
would block forever on their task queue, and keep the fork server and the resource
tracker alive with them. ``exit_with`` makes a worker end as soon as the main process
has ended; the fork server and the resource tracker then end by themselves.
"""

from __future__ import annotations

import os
import select
import threading
import time

POLL_SECONDS = 0.5
"""How often a platform without ``os.pidfd_open`` checks that the main process lives."""


def exit_with(pid: int) -> None:
    """End this process (``os._exit(1)``, no clean-up: its results would go nowhere) once
    the process ``pid`` has ended, at once if it already has. A daemon thread waits for
    it: on a pidfd where the system has them (Linux 5.3: an ended process, zombie or
    reaped, makes it readable, and a reused pid cannot fool it), else by polling."""
    handle = _pidfd(pid)
    if handle is None and not _alive(pid):
        os._exit(1)
    threading.Thread(target=_wait_then_exit, args=(pid, handle), name="graphreco-lifeline", daemon=True).start()


def _pidfd(pid: int) -> int | None:
    """A pidfd of ``pid`` (None where the system has none); ends this process when
    ``pid`` has already ended."""
    try:
        return os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    except ProcessLookupError:
        os._exit(1)
    except OSError:  # a kernel before Linux 5.3
        return None


def _wait_then_exit(pid: int, handle: int | None) -> None:
    if handle is not None:
        select.select([handle], [], [])
    else:
        while _alive(pid):
            time.sleep(POLL_SECONDS)
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
