"""``graphreco reconstruct --engine ray``: the batch reconstruction as a Ray Data job.

Each input file is read with ``ray.data.read_parquet``, its batches are reconstructed by
``map_batches`` on actors that each load the pipeline once (one CPU, one torch thread
each), and the results stream back in order into the same atomic, provenance-stamped
output that the local engine writes. Batches hold ``batch_size`` events cut from the
start of the file, as the local reader cuts them, so both engines write the same bytes.

On a laptop this starts a local Ray instance with ``workers`` CPUs. On a cluster, give
its address (``--ray-address ray://head:10001`` or the ``RAY_ADDRESS`` variable): the
actors then run on the cluster's nodes, which need graphreco installed (and the pipeline
folder at the same path, unless the shipped one is used); the driver reads nothing
itself but writes the outputs, so the output folder must be reachable from the driver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .batch import FilePlan, carry_out
from .console import stdout_to_stderr
from .io import EventFormatError
from .io.validate import first_duplicate, to_event_batch
from .pipeline import Pipeline
from .reconstruct import reconstruct_batch, write_output
from .threads import single_thread


class _PipelineActor:
    """A Ray actor holding a pipeline: reconstructs one Arrow batch per call."""

    def __init__(self, folder: str, source: str, keep_columns: Sequence[str]):
        self.pipeline, self.source, self.keep_columns = Pipeline.load(folder), source, tuple(keep_columns)

    def __call__(self, table: pa.Table) -> pa.Table:
        record_batch = table.combine_chunks().to_batches()[0] if table.num_rows else pa.RecordBatch.from_pylist(
            [], schema=table.schema)
        batch = to_event_batch(record_batch, self.pipeline.detector, self.source, set())
        # here, not in __init__: Ray Data calls the actor on another thread than the one
        # that built it, and numba's thread count is per thread (two threads per actor
        # cost a third of the throughput on two cores)
        with single_thread():
            output, _ = reconstruct_batch(self.pipeline, batch, self.keep_columns)
        return output


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
    started = not ray.is_initialized()
    if started:
        # a local instance has one CPU beyond the actors' for Ray Data's listing and reading tasks
        ray.init(address=address, num_cpus=None if address else workers + 1, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        return [carry_out(plan, lambda plan: _reconstruct_file(ray, pipeline, plan, batch_size, keep_columns, workers,
                                                               on_events))
                for plan in plans]
    finally:
        if started:
            ray.shutdown()


def _reconstruct_file(ray, pipeline: Pipeline, plan: FilePlan, batch_size: int, keep_columns: Sequence[str],
                      workers: int, on_events: Callable[[int], None] | None) -> int:
    """Reconstruct one file; returns its number of events."""
    wanted = {"event_id", *keep_columns, *(column.name for column in pipeline.detector.columns)}
    if plan.source.suffix == ".root":
        raise EventFormatError(str(plan.source), "the Ray engine reads Parquet only; use the local engine for ROOT")
    schema_names = pq.ParquetFile(plan.source).schema_arrow.names
    dataset = ray.data.read_parquet(str(plan.source)).select_columns(
        [name for name in schema_names if name in wanted])
    # blocks of exactly batch_size events from the file's start: the local reader's batches
    reconstructed = dataset.repartition(target_num_rows_per_block=batch_size, strict=True).map_batches(
        _PipelineActor, fn_constructor_args=(str(pipeline.folder), str(plan.source), tuple(keep_columns)),
        batch_size=batch_size, batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1)
    seen: set[int] = set()

    def tables() -> Iterator[pa.Table]:
        for table in reconstructed.iter_batches(batch_size=batch_size, batch_format="pyarrow"):
            _check_unique(table.column("event_id").to_numpy(), seen, str(plan.source))
            yield table

    try:
        return write_output(plan.output, pipeline.detector.name, plan.stamp, tables(), on_events)
    except ray.exceptions.RayTaskError as error:
        cause = getattr(error, "cause", None)
        if isinstance(cause, EventFormatError):
            raise cause from None
        raise


def _check_unique(event_id: np.ndarray, seen: set[int], source: str) -> None:
    """Refuse an event id seen before in the file (each actor sees one batch only)."""
    duplicate = first_duplicate(event_id, seen)
    if duplicate is not None:
        raise EventFormatError(source, "duplicate event_id", column="event_id", event_id=int(event_id[duplicate]))
    seen.update(event_id.tolist())


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is an extra of ray
    except ImportError:
        raise ImportError("the Ray engine needs the ray extra: pip install 'graphreco[distributed]'") from None
    return ray

