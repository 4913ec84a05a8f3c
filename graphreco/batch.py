"""Batch reconstruction of many event files: one output per input, resumable, on worker
processes.

- Resumable: an output that ``is_complete`` (same input, same pipeline, every event) is
  skipped; any other is redone, and temporary files a killed run left are removed.
  Outputs appear atomically, so a killed run never leaves a partial file behind.
- Workers: ``workers`` processes (each with one torch and one numba thread) reconstruct
  the batches of a file while this process reads, validates and writes, at most
  ``2 * workers`` batches in flight (bounded memory). They are forked from a server
  process (multiprocessing's forkserver) that imports graphreco and the detector once,
  before any torch or numba thread pool exists (pools do not survive a fork), so the
  workers do not each import torch again. Until every worker has loaded the pipeline,
  this process reconstructs the batches itself, so no core idles while they start.
- Deterministic: every batch is reconstructed on one thread by the same code whatever the
  number of workers, and batches are cut by the reader alone, so outputs are identical
  byte for byte for any ``workers``.
- A file that breaks the event format is reported and the others go on.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from . import detectors
from .io import EventBatch, EventFormatError, RootMapping
from .io.writer import temporary_files
from .pipeline import Pipeline
from .reconstruct import BatchMapper, in_process, is_complete, provenance, reconstruct_batch, reconstruct_file
from .threads import set_threads, single_thread

IN_FLIGHT_PER_WORKER = 2


def output_paths(inputs: Sequence[Path], output: str | Path) -> list[Path]:
    """One output per input: ``output`` itself for a single input file (unless it is a
    directory or, given as text, ends with a slash: a ``Path`` has lost it), else
    ``output/<input stem>.parquet``."""
    text, output = str(output), Path(output)
    if len(inputs) == 1 and not output.is_dir() and not text.endswith(("/", os.sep)):
        return [output]
    stems = [path.stem for path in inputs]
    if len(set(stems)) != len(stems):
        raise ValueError("inputs with the same file name would write the same output")
    return [output / f"{stem}.parquet" for stem in stems]


@dataclass(frozen=True)
class FilePlan:
    """What a batch run does with one input: ``action`` is ``reconstruct``, ``skip``
    (its output is already complete) or ``refuse`` (``error`` says why); ``stamp`` is
    the input's ``provenance`` (None when refused)."""

    source: Path
    output: Path
    action: str
    stamp: dict | None = None
    error: str = ""

    @property
    def events(self) -> int:
        """Events in the input (0 when refused)."""
        return self.stamp["source_events"] if self.stamp else 0


def plan_files(pipeline: Pipeline, inputs: Sequence[Path], outputs: Sequence[Path],
               keep_columns: Sequence[str] = (), root_mapping: RootMapping | None = None) -> list[FilePlan]:
    """Decide for each input; removes the temporary files a killed run left."""
    plans = []
    for source, output in zip(inputs, outputs):
        for stale in temporary_files(output):
            stale.unlink(missing_ok=True)
        try:
            expected = provenance(pipeline, source, keep_columns, root_mapping)
        except EventFormatError as error:
            plans.append(FilePlan(source, output, "refuse", error=str(error)))
            continue
        done = output.exists() and is_complete(output, expected)
        plans.append(FilePlan(source, output, "skip" if done else "reconstruct", expected))
    return plans


def reconstruct_files(pipeline: Pipeline, plans: Sequence[FilePlan], batch_size: int,
                      keep_columns: Sequence[str] = (), workers: int = 1,
                      on_events: Callable[[int], None] | None = None,
                      root_mapping: RootMapping | None = None) -> list[dict]:
    """Carry out ``plans`` (see the module docstring); returns one record per file with
    its ``status``: ``reconstructed``, ``already complete`` or ``bad input`` (with the
    ``error``), in input order."""
    todo = [plan for plan in plans if plan.action == "reconstruct"]
    batches = sum(math.ceil(plan.events / batch_size) for plan in todo)
    with batch_mapper(pipeline, keep_columns, min(workers, batches)) as mapper:
        return [carry_out(plan, lambda plan: reconstruct_file(pipeline, plan.source, plan.output, batch_size,
                                                              keep_columns, mapper, on_events, root_mapping,
                                                              plan.stamp)["events"])
                for plan in plans]


def carry_out(plan: FilePlan, reconstruct: Callable[[FilePlan], int]) -> dict:
    """The record of one planned file: reconstructed by ``reconstruct`` (which returns the
    number of events) unless skipped or refused; a bad input is recorded, not raised."""
    if plan.action == "skip":
        return file_record(plan, "already complete", events=plan.events)
    if plan.action == "refuse":
        return file_record(plan, "bad input", error=plan.error)
    start = time.perf_counter()
    try:
        events = reconstruct(plan)
    except EventFormatError as error:
        return file_record(plan, "bad input", error=str(error))
    return file_record(plan, "reconstructed", events=events, seconds=round(time.perf_counter() - start, 3))


def file_record(plan: FilePlan, status: str, **fields) -> dict:
    """What a batch run reports of one file: input, output, ``status`` and ``fields``."""
    return {"input": str(plan.source), "output": str(plan.output), "status": status, **fields}


@contextmanager
def batch_mapper(pipeline: Pipeline, keep_columns: Sequence[str], workers: int) -> Iterator[BatchMapper]:
    """A mapper on ``workers`` processes (in this process, one thread, for one or fewer,
    or for a pipeline not loaded from a folder)."""
    with single_thread():
        if workers <= 1 or pipeline.folder is None:
            yield in_process(pipeline, keep_columns)
            return
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__, detectors.module_name(pipeline.detector.name)])
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_load_worker,
                                 initargs=(str(pipeline.folder),)) as pool, ThreadPoolExecutor(1) as starter:
            ready = starter.submit(_start_workers, pool, workers)
            yield lambda batches: _ordered(pool, ready, batches, keep_columns, IN_FLIGHT_PER_WORKER * workers,
                                           in_process(pipeline, keep_columns))


def _start_workers(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start the ``workers`` processes of ``pool`` and wait until each has loaded the
    pipeline (raises what a worker's start raised)."""
    for started in wait([pool.submit(_loaded) for _ in range(workers)]).done:
        started.result()


def _ordered(pool: ProcessPoolExecutor, ready: Future, batches: Iterable[EventBatch], keep_columns: Sequence[str],
             in_flight: int, here: BatchMapper) -> Iterator:
    """Reconstruct batches with ``here`` until the workers are ``ready``, then submit them
    to ``pool`` keeping at most ``in_flight`` unfinished; yield the results in input order."""
    pending: deque[Future] = deque()
    try:
        for batch in batches:
            if ready.done():
                ready.result()
                slim = replace(batch, record_batch=batch.record_batch.select(list(keep_columns)))  # sent: what is kept
                pending.append(pool.submit(_reconstruct_in_worker, slim, tuple(keep_columns)))
            else:
                pending.append(_completed(next(here([batch]))))
            while pending and (pending[0].done() or len(pending) >= in_flight):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def _completed(result) -> Future:
    """A future that already holds ``result``."""
    future: Future = Future()
    future.set_result(result)
    return future


_worker_pipeline: Pipeline | None = None


def _load_worker(folder: str) -> None:
    """Initialise a worker process: one thread, the pipeline loaded once."""
    global _worker_pipeline
    set_threads(1, 1)
    _worker_pipeline = Pipeline.load(folder)


def _loaded() -> bool:
    """A task that tells that a worker has started (its initializer has run)."""
    return _worker_pipeline is not None


def _reconstruct_in_worker(batch: EventBatch, keep_columns: tuple[str, ...]):
    return reconstruct_batch(_worker_pipeline, batch, keep_columns)


class Progress:
    """A progress line on a stream: events done of ``total``, events/s and ETA; redrawn
    in place on a terminal, else printed every ``interval`` seconds."""

    def __init__(self, total: int, stream, interval: float | None = None):
        self.total, self.stream, self.done = total, stream, 0
        self.live = stream.isatty()
        self.interval = interval if interval is not None else (0.2 if self.live else 10.0)
        self.start = self.last = time.monotonic()

    def __call__(self, events: int) -> None:
        self.done += events
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._draw(now)

    def close(self) -> None:
        self._draw(time.monotonic())
        if self.live:
            self.stream.write("\n")
        self.stream.flush()

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self.start, 1e-9)
        fraction = self.done / self.total if self.total else 1.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        bar = "#" * int(30 * fraction) + "." * (30 - int(30 * fraction))
        line = (f"[{bar}] {self.done:,}/{self.total:,} events  {rate:,.0f} events/s  "
                f"ETA {_clock(eta)}")
        self.stream.write(f"\r{line}" if self.live else f"{line}\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    """``h:mm:ss`` (``?`` when unknown)."""
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
