"""``graphreco reconstruct --engine ray``: the batch reconstruction as a Ray Data job.

The input files are cut into chunks of whole batches (``chunks``; ``batch_size`` events
counted from each file's start, the local reader's batches, so both engines write the
same bytes). In one Ray Data job, the chunks of up to ``FILES_PER_JOB`` files go to
``map_batches`` on a pool of actors that each load the pipeline once (one CPU, one torch
and numba thread each); an actor reads its chunk from the Parquet file itself and
reconstructs it, and the results stream back in order to the driver, which writes each
file's output, atomic and stamped with its provenance, as the local engine writes it.
One job for many files pays Ray's start-up (the actors load torch and the pipeline) once
for all of them. A file that breaks the event format is reported; the job is run again
without it for the files it had not finished.

The actors read the files themselves: with Ray Data's Parquet reader, separate read
tasks and a re-blocking step to batches ran on the same cores and moved every event
through the object store, and a file the reader was asked to split was read whole in one
task before any of it reached an actor (55 s of 300,000 events).

On a laptop this starts a local Ray instance with ``workers`` CPUs. On a cluster, give
its address (``--ray-address ray://head:10001`` or the ``RAY_ADDRESS`` variable): the
actors then run on the cluster's nodes, which need graphreco installed (and the pipeline
folder at the same path, unless the shipped one is used) and must reach the input files
at the paths the driver sees; the driver writes the outputs, so the output folder must
be reachable from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from ..console import stdout_to_stderr
from ..detectors import Detector
from ..extras import require
from ..io import EventBatch, EventFormatError
from ..io.configuration import resolve_configuration
from ..io.parquet import open_parquet
from ..io.reader import validated_batch, wanted_columns
from ..io.validate import refuse_duplicate_ids
from ..pipeline import Pipeline
from ..threads import single_thread
from .file import empty_output, reconstruct_batch, write_output
from .workers import FilePlan, OutputFile, carry_out, file_record

ray = require("ray", "distributed", "the Ray engine")
require("ray.data", "distributed", "the Ray engine")

FILES_PER_JOB = 256
"""Input files per Ray Data job: each job starts its actors again (64 files of 1,560
events: 54.5 s in two jobs, 48.2 s in one), and a bad file reruns its job's unfinished
files; outputs are opened as their first chunk arrives."""
CHUNK_EVENTS = 4096
"""Events an actor reconstructs per call, in whole batches, where the row groups allow."""
MAX_CHUNKS_PER_RUN = 4
"""Most chunks a run of row groups is cut into (each chunk decodes its run from the start)."""
SOURCE_COLUMN = "path"
"""The column of an actor's answer that names the input file."""
ERROR_COLUMN = "graphreco_error"
"""The column of an actor's answer for a bad chunk: its EventFormatError's arguments (JSON)."""


class _PipelineActor:
    """A Ray actor holding a pipeline: reads one chunk of an input file (see ``chunks``),
    reconstructs it batch by batch and returns the outputs with the file's path in
    ``SOURCE_COLUMN``; a chunk that breaks the event format gives one row with the error
    in ``ERROR_COLUMN`` instead (Ray Data would keep only an exception's text, not which
    file it names)."""

    def __init__(self, folder: str, sha256: str, keep_columns: Sequence[str], batch_size: int,
                 posterior_samples: int = 0):
        self.pipeline = Pipeline.load(folder, sha256).with_posterior(posterior_samples)  # the driver's, byte for byte
        self.keep_columns, self.batch_size = tuple(keep_columns), batch_size

    def __call__(self, table: pa.Table) -> pa.Table:
        chunk = Chunk(*(table.column(name)[0].as_py() for name in Chunk._fields))
        try:
            # here, not in __init__: Ray Data calls the actor on another thread than the
            # one that built it, and numba's thread count is per thread (two threads per
            # actor cost a third of the throughput on two cores)
            with single_thread():
                outputs = [reconstruct_batch(self.pipeline, batch, self.keep_columns)[0]
                           for batch in read_chunk(chunk, self.pipeline.detector, self.batch_size)]
        except EventFormatError as error:
            return pa.table({SOURCE_COLUMN: [chunk.path], ERROR_COLUMN: [json.dumps(error.__reduce__()[1])]})
        output = pa.concat_tables(outputs)
        return output.append_column(SOURCE_COLUMN, pa.array([chunk.path] * output.num_rows, pa.string()))


class Chunk(NamedTuple):
    """Whole batches of an input file, the unit of an actor's work: from the start of
    ``row_groups`` (which lies at a multiple of the batch size, so the batches are the
    local reader's), ``skip`` batches are passed over and the next ``batches`` read."""

    path: str
    columns: list[str]
    row_groups: list[int]
    skip: int
    batches: int
    geometry: str | None
    """The geometry file the input is read against (None: the detector's default layout)."""


def chunks(path: str, wanted: set[str], batch_size: int, geometry: str | None = None) -> list[Chunk]:
    """An input file as chunks of at least ``CHUNK_EVENTS`` events (but the last), in
    order. The file is cut into runs of row groups of at least ``CHUNK_EVENTS`` events,
    only where a row group starts at a multiple of ``batch_size`` events, and a run into
    at most ``MAX_CHUNKS_PER_RUN`` chunks (a chunk decodes its run from the start to its
    own end, so a run is decoded at most 2.5 times over). ``geometry``: the input's
    geometry file (None: the detector's default layout)."""
    metadata = pq.ParquetFile(path).metadata
    columns = [name for name in metadata.schema.to_arrow_schema().names if name in wanted]
    runs: list[tuple[list[int], int]] = []  # (row groups, events)
    start = 0
    for index in range(metadata.num_row_groups):
        if not runs or (start % batch_size == 0 and runs[-1][1] >= CHUNK_EVENTS):
            runs.append(([], 0))
        events = metadata.row_group(index).num_rows
        runs[-1] = (runs[-1][0] + [index], runs[-1][1] + events)
        start += events
    cut = []
    for row_groups, events in runs:
        run_batches = -(-events // batch_size)
        per_chunk = max(-(-CHUNK_EVENTS // batch_size), -(-run_batches // MAX_CHUNKS_PER_RUN))
        cut += [Chunk(path, columns, row_groups, skip, min(per_chunk, run_batches - skip), geometry)
                for skip in range(0, run_batches, per_chunk)]
    return cut


def read_chunk(chunk: Chunk, detector: Detector, batch_size: int) -> Iterator[EventBatch]:
    """The validated event batches of ``chunk`` (event ids checked within each batch only,
    hits against the chunk's configuration)."""
    try:
        configuration = resolve_configuration(detector, chunk.path, chunk.geometry and Path(chunk.geometry))
        record_batches = open_parquet(chunk.path).iter_batches(batch_size, row_groups=chunk.row_groups,
                                                               columns=chunk.columns)
        for record_batch in islice(record_batches, chunk.skip, chunk.skip + chunk.batches):
            yield validated_batch(record_batch, detector, chunk.path, set(), configuration)
    except (pa.ArrowException, OSError) as error:
        raise EventFormatError(chunk.path, f"unreadable data ({error})") from None


def reconstruct_with_ray(pipeline: Pipeline, plans: Sequence[FilePlan], batch_size: int,
                         keep_columns: Sequence[str] = (), workers: int = 2, address: str | None = None,
                         on_events: Callable[[int], None] | None = None) -> list[dict]:
    """Carry out ``plans`` as Ray Data jobs; records as ``batch.reconstruct_files`` gives."""
    if pipeline.folder is None:
        raise ValueError("the Ray engine needs a pipeline loaded from a folder (its actors load it there)")
    with stdout_to_stderr():  # Ray's log lines; stdout is the command's summary or record
        return _run(pipeline, plans, batch_size, keep_columns, workers, address, on_events)


def _run(pipeline: Pipeline, plans: Sequence[FilePlan], batch_size: int, keep_columns: Sequence[str],
         workers: int, address: str | None, on_events: Callable[[int], None] | None) -> list[dict]:
    records: dict[int, dict] = {}
    todo = []
    for index, plan in enumerate(plans):
        if plan.action != "reconstruct" or plan.source.suffix == ".root" or plan.events == 0:
            records[index] = carry_out(plan, lambda plan: _write_without_ray(pipeline, plan, keep_columns))
        else:
            todo.append(index)
    if not todo:
        return [records[index] for index in range(len(plans))]
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        while todo:
            group, todo = todo[:FILES_PER_JOB], todo[FILES_PER_JOB:]
            while group:
                group = _run_job(pipeline, plans, group, batch_size, keep_columns, workers, on_events, records)
    finally:
        if started:
            ray.shutdown()
    return [records[index] for index in range(len(plans))]


def _write_without_ray(pipeline: Pipeline, plan: FilePlan, keep_columns: Sequence[str]) -> int:
    """The files Ray Data does not read: ROOT input is refused, an empty file gets an
    empty output."""
    if plan.source.suffix == ".root":
        raise EventFormatError(str(plan.source), "the Ray engine reads Parquet only; use the local engine for ROOT")
    return write_output(plan.output, pipeline.detector.name, plan.stamp, [],
                        empty_output(pipeline, plan.source, keep_columns))


def _run_job(pipeline: Pipeline, plans: Sequence[FilePlan], indices: list[int], batch_size: int,
             keep_columns: Sequence[str], workers: int, on_events: Callable[[int], None] | None,
             records: dict[int, dict]) -> list[int]:
    """One Ray Data job over the files ``plans[i]`` for ``i`` in ``indices`` (their chunks
    in order), each output written as its last chunk arrives;
    fills ``records[i]``. Returns the indices of the files to run again (none, or the
    unfinished ones after a bad file, which is recorded)."""
    wanted = wanted_columns(pipeline.detector, keep_columns)
    outputs = {_key(plans[index].source): _Output(index, plans[index], pipeline, keep_columns, batch_size)
               for index in indices}
    work = [chunk._asdict() for path, output in outputs.items()
            for chunk in chunks(path, wanted, batch_size, output.plan.stamp.get("geometry"))]
    actor_arguments = (str(pipeline.folder), pipeline.sha256(), tuple(keep_columns), batch_size,
                       pipeline.posterior_samples)
    reconstructed = ray.data.from_items(work, override_num_blocks=len(work)).map_batches(
        _PipelineActor, fn_constructor_args=actor_arguments, batch_size=1,
        batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1)
    try:
        for table in reconstructed.iter_batches(batch_size=None, batch_format="pyarrow"):
            if ERROR_COLUMN in table.column_names:
                raise EventFormatError(*json.loads(table.column(ERROR_COLUMN)[0].as_py()))
            output = outputs[_key(table.column(SOURCE_COLUMN)[0].as_py())]
            output.write(table.drop_columns([SOURCE_COLUMN]))
            if on_events is not None:
                on_events(table.num_rows)
            if output.done:
                records[output.index] = output.close()
    except EventFormatError as error:
        bad = outputs.get(_key(error.file))
        if bad is None:
            raise
        records[bad.index] = file_record(bad.plan, "bad input", error=str(error))
        return [output.index for output in outputs.values() if output.index not in records]
    finally:
        for output in outputs.values():  # the unfinished ones: nothing partial is left
            output.abort()
    return []


class _Output(OutputFile):
    """The output of ``plans[index]`` while a job runs: checked for event ids seen twice,
    written a row group per batch as the local engine writes it."""

    def __init__(self, index: int, plan: FilePlan, pipeline: Pipeline, keep_columns: Sequence[str], batch_size: int):
        super().__init__(plan, pipeline, keep_columns)
        self.index, self.batch_size, self.seen = index, batch_size, set()

    def write(self, table: pa.Table) -> None:
        refuse_duplicate_ids(table.column("event_id").to_numpy(), self.seen, str(self.plan.source))
        for start in range(0, table.num_rows, self.batch_size):
            super().write(table.slice(start, self.batch_size))


def _key(path: str | Path) -> str:
    """A file's name as both the plans and Ray's path column give it."""
    return str(Path(path).resolve())
