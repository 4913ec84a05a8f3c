"""The progress bar of a long command (simulate, train, reconstruct, evaluate, export), on
standard error.

The command line opens one bar for the run of a command (``bar``); the code doing the work
reports to it without being handed it, as it would log: ``expect(count)`` adds to the work
to do once its size is known, ``advance(count)`` counts work done. Call them once per
batch, chunk or epoch, never per event or hit: each is a lock and an addition. Without an
open bar (a library call, ``-q``, standard error not a terminal) both do nothing, so
plug-ins (a detector's simulator) may call them unconditionally.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, Task

REFRESHES_PER_S = 4
"""How often the bar is redrawn (a thread of its own): often enough to read, rarely enough to cost nothing."""


@dataclass(frozen=True)
class _Bar:
    progress: Progress
    task: Task


_open: _Bar | None = None
"""The bar ``expect`` and ``advance`` report to; a module-level variable rather than a
context variable, so that a thread of the command (a Ray engine's) reports to it too."""


@contextmanager
def bar(description: str, unit: str, show: bool = True) -> Iterator[None]:
    """Show a bar on standard error for the block: ``description``, the bar, work done of
    the work expected in ``unit`` (events, epochs, stages), the rate, the time spent and
    the time left (a bar without an ``expect`` pulses). With ``show`` false nothing is
    shown and ``expect``/``advance`` do nothing. What the block prints meanwhile to
    standard output or error appears above the bar."""
    global _open
    if not show:
        yield
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), refresh_per_second=REFRESHES_PER_S) as progress:
        progress.add_task(description, total=None, rate="")
        _open = _Bar(progress, progress.tasks[0])
        try:
            yield
        finally:
            _open = None


def expect(count: int) -> None:
    """Add ``count`` units to the work the open bar expects (negative: less work than
    announced, e.g. training stopped early)."""
    if _open is not None:
        _open.progress.update(_open.task.id, total=max((_open.task.total or 0) + count, 0))


def advance(count: int = 1) -> None:
    """Count ``count`` units of work done on the open bar."""
    if _open is not None:
        _open.progress.advance(_open.task.id, count)
        speed = _open.task.speed
        _open.progress.update(_open.task.id, rate="" if speed is None else f"{speed:,.0f}/s")
