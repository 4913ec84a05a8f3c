"""Batch reconstruction of many event files: one output per input, resumable, on worker
processes.

- Resumable: an output that ``is_complete`` (same input, same settings, every event) is
  skipped; any other is redone, and temporary files a killed run left are removed.
  Outputs appear atomically, so a killed run never leaves a partial file behind.
- Workers: ``workers`` processes (each with one torch and one numba thread) reconstruct
  the batches while this process reads, validates and writes, at most ``2 * workers``
  batches in flight (bounded memory). The batches of all files are one stream, so the
  workers do not wait at the end of each file (64 files of 1,560 events: 49.8 s when
  each file was drained before the next began, 37.8 s as one stream, as long as one
  file of the same 100,000 events). They are forked from a server
  process (multiprocessing's forkserver) that imports graphreco and the detector once,
  before any torch or numba thread pool exists (pools do not survive a fork), so the
  workers do not each import torch again. Until every worker has loaded the pipeline,
  this process reconstructs the batches itself, so no core idles while they start.
- Tied to this process: each worker ends when this process ends, even by ``kill -9``
  (``lifeline``), and the fork server and the resource tracker then end with them.
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

import pyarrow as pa

from ..errors import UsageError
from ..io import EventBatch, EventFormatError, RootMapping, read_events
from ..io.outputs import check_outputs
from ..io.writer import temporary_files
from ..pipeline import Pipeline
from ..threads import set_threads, single_thread
from .file import BatchMapper, empty_output, in_process, is_complete, provenance, reconstruct_batch, stamped_writer
from .lifeline import exit_with

IN_FLIGHT_PER_WORKER = 2


def output_paths(inputs: Sequence[Path], output: str | Path) -> list[Path]:
    """One output per input: ``output`` itself for a single input file (unless it is a
    directory or, given as text, ends with a slash: a ``Path`` has lost it), else
    ``output/<input stem>.parquet``. ``UsageError`` for outputs that would replace an
    input or each other."""
    text, output = str(output), Path(output)
    if len(inputs) == 1 and not output.is_dir() and not text.endswith(("/", os.sep)):
        outputs = [output]
    else:
        stems = [path.stem for path in inputs]
        if len(set(stems)) != len(stems):
            raise UsageError("inputs with the same file name would write the same output")
        outputs = [output / f"{stem}.parquet" for stem in stems]
    check_outputs(outputs, inputs)
    return outputs


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
               keep_columns: Sequence[str] = (), root_mapping: RootMapping | None = None,
               geometry: Path | None = None, *, batch_size: int) -> list[FilePlan]:
    """Decide for each input, to be reconstructed in batches of ``batch_size`` events
    (part of the ``provenance``) against the geometry file ``geometry``, else the one it
    names, else the detector's default layout (the stamp's ``geometry``); removes the
    temporary files a killed run left."""
    plans = []
    for source, output in zip(inputs, outputs):
        for stale in temporary_files(output):
            stale.unlink(missing_ok=True)
        try:
            expected = provenance(pipeline, source, keep_columns, root_mapping, batch_size, geometry)
        except EventFormatError as error:
            plans.append(FilePlan(source, output, "refuse", error=str(error)))
            continue
        done = output.exists() and is_complete(output, expected, source)
        plans.append(FilePlan(source, output, "skip" if done else "reconstruct", expected))
    return plans


def reconstruct_files(pipeline: Pipeline, plans: Sequence[FilePlan], batch_size: int,
                      keep_columns: Sequence[str] = (), workers: int = 1,
                      on_events: Callable[[int], None] | None = None,
                      root_mapping: RootMapping | None = None) -> list[dict]:
    """Carry out ``plans`` (see the module docstring); returns one record per file with
    its ``status``: ``reconstructed``, ``already complete`` or ``bad input`` (with the
    ``error``), in input order. The batches of all files go to the workers as one stream,
    so they do not wait at the end of each file."""
    records = {index: record for index, plan in enumerate(plans) if (record := planned_record(plan)) is not None}
    todo = [index for index in range(len(plans)) if index not in records]
    batches = sum(math.ceil(plans[index].events / batch_size) for index in todo)
    stream = _FileStream(pipeline, plans, todo, batch_size, keep_columns, root_mapping)
    with batch_mapper(pipeline, keep_columns, min(workers, batches)) as mapper:
        try:
            for table, _ in mapper(stream.batches()):
                stream.write(table)
                if on_events is not None:
                    on_events(table.num_rows)
                records |= stream.finished()
            records |= stream.finished()
        finally:
            stream.abort()  # the unfinished outputs: nothing partial is left
    return [records[index] for index in range(len(plans))]


def planned_record(plan: FilePlan) -> dict | None:
    """The record of a file that is not to be reconstructed (skipped or refused); None
    for one that is."""
    if plan.action == "skip":
        return file_record(plan, "already complete", events=plan.events)
    if plan.action == "refuse":
        return file_record(plan, "bad input", error=plan.error)
    return None


def carry_out(plan: FilePlan, reconstruct: Callable[[FilePlan], int]) -> dict:
    """The record of one planned file: reconstructed by ``reconstruct`` (which returns the
    number of events) unless skipped or refused; a bad input is recorded, not raised."""
    record = planned_record(plan)
    if record is not None:
        return record
    start = time.perf_counter()
    try:
        events = reconstruct(plan)
    except EventFormatError as error:
        return file_record(plan, "bad input", error=str(error))
    return file_record(plan, "reconstructed", events=events, seconds=round(time.perf_counter() - start, 3))


def file_record(plan: FilePlan, status: str, **fields) -> dict:
    """What a batch run reports of one file: input, output, ``status`` and ``fields``."""
    return {"input": str(plan.source), "output": str(plan.output), "status": status, **fields}


class OutputFile:
    """The output of one planned input while a run writes it a table at a time (a row
    group each): atomic and stamped with the input's provenance; ``done`` once every
    event of the input is in."""

    def __init__(self, plan: FilePlan, pipeline: Pipeline, keep_columns: Sequence[str]):
        self.plan, self.events, self.closed = plan, 0, False
        self.pipeline, self.keep_columns = pipeline, keep_columns
        self.writer = stamped_writer(plan.output, pipeline.detector.name, plan.stamp)
        self.start = time.perf_counter()

    @property
    def done(self) -> bool:
        return self.events == self.plan.events

    def write(self, table: pa.Table) -> None:
        self.writer.write(table)
        self.events += table.num_rows

    def close(self) -> dict:
        """Move the output into place; returns its record."""
        if self.events == 0:
            self.writer.write(empty_output(self.pipeline, self.plan.source, self.keep_columns))
        self.writer.close()
        self.closed = True
        return file_record(self.plan, "reconstructed", events=self.events,
                           seconds=round(time.perf_counter() - self.start, 3))

    def abort(self) -> None:
        """Drop what was written, unless the output is in place."""
        if not self.closed:
            self.writer.abort()
            self.closed = True


class _FileStream:
    """The batches of the files ``plans[i]``, ``i`` in ``indices``, as one stream, and
    their outputs written as the results come back (in the stream's order). A file that
    breaks the event format is recorded as bad input and the stream goes on with the
    next."""

    def __init__(self, pipeline: Pipeline, plans: Sequence[FilePlan], indices: Sequence[int], batch_size: int,
                 keep_columns: Sequence[str], root_mapping: RootMapping | None):
        self.pipeline, self.plans, self.indices = pipeline, plans, list(indices)
        self.batch_size, self.keep_columns, self.root_mapping = batch_size, keep_columns, root_mapping
        self.unfinished = deque(indices)  # in order
        self.owners: deque[int] = deque()  # the file of each batch handed out and not yet written
        self.read: set[int] = set()  # files whose every batch was handed out, or that failed
        self.errors: dict[int, EventFormatError] = {}
        self.outputs: dict[int, OutputFile] = {}

    def batches(self) -> Iterator[EventBatch]:
        for index in self.indices:
            plan = self.plans[index]
            self.outputs[index] = OutputFile(plan, self.pipeline, self.keep_columns)
            try:
                for batch in read_events(plan.source, detector=self.pipeline.detector.name,
                                         batch_size=self.batch_size, columns=self.keep_columns,
                                         root_mapping=self.root_mapping, geometry=plan.stamp.get("geometry")):
                    self.owners.append(index)
                    yield batch
            except EventFormatError as error:
                self.errors[index] = error
            self.read.add(index)

    def write(self, table: pa.Table) -> None:
        """Write the result of the oldest batch handed out (dropped for a bad file)."""
        index = self.owners.popleft()
        if index not in self.errors:
            self.outputs[index].write(table)

    def finished(self) -> dict[int, dict]:
        """The records of the files, in order, of which every batch is written."""
        records = {}
        while self.unfinished and self.unfinished[0] in self.read and self.unfinished[0] not in self.owners:
            index = self.unfinished.popleft()
            if index in self.errors:
                self.outputs[index].abort()
                records[index] = file_record(self.plans[index], "bad input", error=str(self.errors[index]))
            else:
                records[index] = self.outputs[index].close()
        return records

    def abort(self) -> None:
        for output in self.outputs.values():
            output.abort()


@contextmanager
def batch_mapper(pipeline: Pipeline, keep_columns: Sequence[str], workers: int) -> Iterator[BatchMapper]:
    """A mapper on ``workers`` processes (in this process, one thread, for one or fewer,
    or for a pipeline not loaded from a folder)."""
    with single_thread():
        if workers <= 1 or pipeline.folder is None:
            yield in_process(pipeline, keep_columns)
            return
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__, pipeline.detector.build_edges.__module__])
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_load_worker,
                                 initargs=(str(pipeline.folder), pipeline.sha256(), os.getpid(),
                                           pipeline.posterior_samples)) as pool, \
                ThreadPoolExecutor(1) as starter:
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


def _load_worker(folder: str, sha256: str | None = None, main_pid: int | None = None,
                 posterior_samples: int = 0) -> None:
    """Initialise a worker process: ended with the process ``main_pid`` (the job's, whose
    ``kill -9`` would otherwise leave the workers, the fork server and the resource
    tracker running), one thread, the pipeline loaded once; with ``sha256`` only the one
    this process loaded (not one written into the folder since), drawing
    ``posterior_samples`` per event."""
    global _worker_pipeline
    if main_pid is not None:
        exit_with(main_pid)
    set_threads(1, 1)
    _worker_pipeline = Pipeline.load(folder, sha256).with_posterior(posterior_samples)


def _loaded() -> bool:
    """A task that tells that a worker has started (its initializer has run)."""
    return _worker_pipeline is not None


def _reconstruct_in_worker(batch: EventBatch, keep_columns: tuple[str, ...]):
    return reconstruct_batch(_worker_pipeline, batch, keep_columns)
