"""``graphreco reconstruct --engine ray``: the batch reconstruction as a Ray Data job.

The input files are read with ``ray.data.read_parquet``, each cut into blocks of
``batch_size`` events from its start (the local reader's batches, so both engines write
the same bytes); the blocks of up to ``FILES_PER_JOB`` files go, in one Ray Data job, to
``map_batches`` on a pool of actors that each load the pipeline once (one CPU, one torch
and numba thread each), and the results stream back to the driver, which writes each
file's output, atomic and stamped with its provenance as the local engine writes it.
One job for many files pays Ray's start-up (the actors load torch and the pipeline) once
for all of them. A file that breaks the event format is reported; the job is run again
without it for the files it had not finished.

On a laptop this starts a local Ray instance with ``workers`` CPUs. On a cluster, give
its address (``--ray-address ray://head:10001`` or the ``RAY_ADDRESS`` variable): the
actors then run on the cluster's nodes, which need graphreco installed (and the pipeline
folder at the same path, unless the shipped one is used); the driver reads nothing
itself but writes the outputs, so the output folder must be reachable from the driver.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .batch import FilePlan, carry_out, file_record
from .console import stdout_to_stderr
from .io import EventFormatError
from .io.reader import wanted_columns
from .io.validate import refuse_duplicate_ids, to_event_batch
from .pipeline import Pipeline
from .reconstruct import reconstruct_batch, stamped_writer, write_output
from .threads import single_thread

FILES_PER_JOB = 32
"""Input files per Ray Data job (each has an output open while the job runs)."""
SOURCE_COLUMN = "path"
"""The column ``read_parquet(include_paths=True)`` adds: the file a block came from."""
ERROR_COLUMN = "graphreco_error"
"""The column of an actor's answer for a bad block: its EventFormatError's arguments (JSON)."""


class _PipelineActor:
    """A Ray actor holding a pipeline: reconstructs one Arrow block (one batch) per call
    and returns its output with the block's source file in ``SOURCE_COLUMN``; a block
    that breaks the event format gives one row with the error in ``ERROR_COLUMN``
    instead (Ray Data would keep only an exception's text, not which file it names)."""

    def __init__(self, folder: str, keep_columns: Sequence[str]):
        self.pipeline, self.keep_columns = Pipeline.load(folder), tuple(keep_columns)

    def __call__(self, table: pa.Table) -> pa.Table:
        source = table.column(SOURCE_COLUMN)[0].as_py()
        table = table.drop_columns([SOURCE_COLUMN]).combine_chunks()
        record_batch = table.to_batches()[0] if table.num_rows else pa.RecordBatch.from_pylist([], schema=table.schema)
        try:
            batch = to_event_batch(record_batch, self.pipeline.detector, source, set())
            # here, not in __init__: Ray Data calls the actor on another thread than the
            # one that built it, and numba's thread count is per thread (two threads per
            # actor cost a third of the throughput on two cores)
            with single_thread():
                output, _ = reconstruct_batch(self.pipeline, batch, self.keep_columns)
        except EventFormatError as error:
            return pa.table({SOURCE_COLUMN: [source], ERROR_COLUMN: [json.dumps(error.__reduce__()[1])]})
        return output.append_column(SOURCE_COLUMN, pa.array([source] * output.num_rows, pa.string()))


def reconstruct_with_ray(pipeline: Pipeline, plans: Sequence[FilePlan], batch_size: int,
                         keep_columns: Sequence[str] = (), workers: int = 2, address: str | None = None,
                         on_events: Callable[[int], None] | None = None) -> list[dict]:
    """Carry out ``plans`` as Ray Data jobs; records as ``batch.reconstruct_files`` gives."""
    ray = _import_ray()
    if pipeline.folder is None:
        raise ValueError("the Ray engine needs a pipeline loaded from a folder (its actors load it there)")
    with stdout_to_stderr():  # Ray's log lines; stdout is the command's JSON
        return _run(ray, pipeline, plans, batch_size, keep_columns, workers, address, on_events)


def _run(ray, pipeline: Pipeline, plans: Sequence[FilePlan], batch_size: int, keep_columns: Sequence[str],
         workers: int, address: str | None, on_events: Callable[[int], None] | None) -> list[dict]:
    records: dict[int, dict] = {}
    todo = []
    for index, plan in enumerate(plans):
        if plan.action != "reconstruct" or plan.source.suffix == ".root" or plan.events == 0:
            records[index] = carry_out(plan, lambda plan: _write_without_ray(pipeline, plan))
        else:
            todo.append(index)
    if not todo:
        return [records[index] for index in range(len(plans))]
    started = not ray.is_initialized()
    if started:
        # a local instance has one CPU beyond the actors' for Ray Data's listing and reading tasks
        ray.init(address=address, num_cpus=None if address else workers + 1, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        # Ray Data's second Parquet datasource returns the blocks of a file it splits into
        # several read tasks out of order even so (a 150 MB file started with its tail);
        # the first keeps them in order
        context.use_datasource_v2 = False
        context.enable_progress_bars = False
        while todo:
            group, todo = todo[:FILES_PER_JOB], todo[FILES_PER_JOB:]
            while group:
                group = _run_job(ray, pipeline, plans, group, batch_size, keep_columns, workers, on_events, records)
    finally:
        if started:
            ray.shutdown()
    return [records[index] for index in range(len(plans))]


def _write_without_ray(pipeline: Pipeline, plan: FilePlan) -> int:
    """The files Ray Data does not read: ROOT input is refused, an empty file gets an
    empty output."""
    if plan.source.suffix == ".root":
        raise EventFormatError(str(plan.source), "the Ray engine reads Parquet only; use the local engine for ROOT")
    return write_output(plan.output, pipeline.detector.name, plan.stamp, [])


def _run_job(ray, pipeline: Pipeline, plans: Sequence[FilePlan], indices: list[int], batch_size: int,
             keep_columns: Sequence[str], workers: int, on_events: Callable[[int], None] | None,
             records: dict[int, dict]) -> list[int]:
    """One Ray Data job over the files ``plans[i]`` for ``i`` in ``indices`` (their blocks
    interleave, each file's in order), each output written as its last block arrives;
    fills ``records[i]``. Returns the indices of the files to run again (none, or the
    unfinished ones after a bad file, which is recorded)."""
    start = time.perf_counter()
    wanted = wanted_columns(pipeline.detector, keep_columns)
    outputs = {_key(plans[index].source): _Output(index, plans[index], pipeline.detector.name) for index in indices}
    datasets = [_file_dataset(ray, output.plan, wanted, batch_size) for output in outputs.values()]
    combined = datasets[0].union(*datasets[1:]) if len(datasets) > 1 else datasets[0]
    reconstructed = combined.map_batches(
        _PipelineActor, fn_constructor_args=(str(pipeline.folder), tuple(keep_columns)), batch_size=None,
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
                output.close()
                records[output.index] = file_record(output.plan, "reconstructed", events=output.plan.events,
                                                    seconds=round(time.perf_counter() - start, 3))
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


def _file_dataset(ray, plan: FilePlan, wanted: set[str], batch_size: int):
    """The ``wanted`` columns of one input file as blocks of ``batch_size`` events from its
    start, read by one task per row group (in order with Ray Data's first Parquet
    datasource, see ``_run``)."""
    file = pq.ParquetFile(plan.source)
    columns = [name for name in file.schema_arrow.names if name in wanted] + [SOURCE_COLUMN]
    return (ray.data.read_parquet(str(plan.source), include_paths=True,
                                  override_num_blocks=max(1, file.metadata.num_row_groups))
            .select_columns(columns).repartition(target_num_rows_per_block=batch_size, strict=True))


class _Output:
    """The output of one input file (``index`` in the run's plans) while a job runs:
    written atomically, stamped, checked for event ids seen twice; ``done`` once every
    event of the input is in."""

    def __init__(self, index: int, plan: FilePlan, detector: str):
        self.index, self.plan, self.events, self.seen = index, plan, 0, set()
        self.writer = stamped_writer(plan.output, detector, plan.stamp)
        self.closed = False

    @property
    def done(self) -> bool:
        return self.events == self.plan.events

    def write(self, table: pa.Table) -> None:
        refuse_duplicate_ids(table.column("event_id").to_numpy(), self.seen, str(self.plan.source))
        self.writer.write(table)
        self.events += table.num_rows

    def close(self) -> None:
        self.writer.close()
        self.closed = True

    def abort(self) -> None:
        if not self.closed:
            self.writer.abort()
            self.closed = True


def _key(path: str | Path) -> str:
    """A file's name as both the plans and Ray's path column give it."""
    return str(Path(path).resolve())




def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is an extra of ray
    except ImportError:
        raise ImportError("the Ray engine needs the ray extra: pip install 'graphreco[distributed]'") from None
    return ray
