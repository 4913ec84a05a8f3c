"""Reconstruct one event file: stream it through a pipeline into an output file in the
event format (``event_id``, the stages' columns, then any input columns asked for),
written atomically and stamped with its provenance (``provenance``), so that a finished
output can be told from a stale or foreign one (``is_complete``)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UsageError
from ..io import EventBatch, EventFormatError, EventWriter, RootMapping, event_table, read_events, summarize_source
from ..io.configuration import METADATA_KEY, require_sensors
from ..io.outputs import check_outputs, locked
from ..io.reader import DEFAULT_BATCH_EVENTS, event_file_configuration
from ..pipeline import Pipeline, timed

PROVENANCE_KEY = "graphreco"
"""Schema-metadata key of an output's provenance (JSON)."""

Steps = dict[str, float]
BatchMapper = Callable[[Iterable[EventBatch]], Iterator[tuple[pa.Table, Steps]]]
"""Turns input batches into output tables (and seconds per step), in input order."""


def reconstruct_batch(pipeline: Pipeline, batch: EventBatch,
                      keep_columns: Sequence[str] = ()) -> tuple[pa.Table, Steps]:
    """The output table of one batch and the seconds its steps took (graph, each stage)."""
    steps: Steps = {}
    hit_columns, event_columns = pipeline.reconstruct(batch, steps)
    names = pipeline.output_schema().names  # the columns' order is the pipeline's, whatever the stages return
    table = event_table(batch.event_id, batch.offsets, hit_columns, event_columns).select(names)
    for name in keep_columns:
        table = table.append_column(name, batch.record_batch.column(name))
    return table, steps


def in_process(pipeline: Pipeline, keep_columns: Sequence[str] = ()) -> BatchMapper:
    """The mapper that reconstructs batches one after the other in this process."""
    return lambda batches: (reconstruct_batch(pipeline, batch, keep_columns) for batch in batches)


def provenance(pipeline: Pipeline, source: str | Path, keep_columns: Sequence[str] = (),
               root_mapping: RootMapping | None = None, batch_size: int = DEFAULT_BATCH_EVENTS,
               geometry: str | Path | None = None) -> dict:
    """What an output of ``source`` records of how it was made: the input (name, size in
    bytes, number of events and ``source_sha256``) and every setting that changes the
    output: the pipeline's fingerprint, the kept columns, the batch size (the stages'
    chunks, and so the last bits of a float, follow it), for a ROOT input the column
    mapping and, where the input is read against a geometry file (``geometry``, else the
    one it names), that file's absolute path. Raises ``EventFormatError`` for a file that
    is unreadable, of another detector or lacks a column to keep, ``UsageError`` for
    columns to keep that ``check_keep_columns`` refuses."""
    check_keep_columns(pipeline, keep_columns)
    if geometry is not None:
        require_sensors(pipeline.detector, geometry)
    summary = summarize_source(source, pipeline.detector.name, root_mapping)
    configuration = event_file_configuration(source, geometry)
    missing = [name for name in keep_columns if name not in summary.columns]
    if missing:
        raise EventFormatError(str(source), "column asked to be kept is not in the file", column=missing[0])
    source = Path(source)
    mapping = None
    if root_mapping is not None and source.suffix == ".root":  # as JSON gives it back
        mapping = {"tree": root_mapping.tree, "event_id": root_mapping.event_id, "detector": root_mapping.detector,
                   "columns": dict(root_mapping.columns), "optional": list(root_mapping.optional)}
    stamp = {"source": source.name, "source_bytes": source.stat().st_size, "source_events": summary.events,
             "source_sha256": source_sha256(source), "pipeline": pipeline.fingerprint(),
             "keep_columns": list(keep_columns), "batch_size": batch_size, "root_mapping": mapping}
    return stamp | ({"geometry": str(configuration.resolve())} if configuration is not None else {})


def source_sha256(source: Path) -> str:
    """SHA-256 that tells an input's content apart without reading it all: of a Parquet
    file, its footer (schema, row groups with their offsets, sizes and statistics) with
    the file's length; of any other file, all of it. Another file of the same name gets
    another value unless its row groups have the same sizes and statistics; an input
    rewritten in place is caught by its time (``is_complete``)."""
    with open(source, "rb") as file:
        size = file.seek(0, os.SEEK_END)
        tail = _read_at(file, size - PARQUET_TAIL, PARQUET_TAIL) if size >= 2 * PARQUET_TAIL else b""
        if tail.endswith(PARQUET_MAGIC):
            footer = int.from_bytes(tail[:4], "little") + PARQUET_TAIL
            if footer <= size:
                return hashlib.sha256(size.to_bytes(8, "little") + _read_at(file, size - footer, footer)).hexdigest()
        file.seek(0)
        digest = hashlib.sha256()
        while block := file.read(1 << 20):
            digest.update(block)
        return digest.hexdigest()


PARQUET_MAGIC = b"PAR1"
PARQUET_TAIL = 8
"""A Parquet file ends with its footer's length (4 bytes, little endian) and ``PAR1``."""


def _read_at(file: BinaryIO, offset: int, length: int) -> bytes:
    file.seek(offset)
    return file.read(length)


def check_keep_columns(pipeline: Pipeline, keep_columns: Sequence[str]) -> None:
    """Refuse (``UsageError``) columns to keep that are named twice or that the output
    already has (``event_id``, a stage's column): the output would hold two columns of
    one name, which no reader can tell apart."""
    written = {"event_id", *(name for stage in pipeline.stages.values() for name in stage.writes)}
    for position, name in enumerate(keep_columns):
        if name in written or name in keep_columns[:position]:
            raise UsageError(f"column to keep {name!r} is {'an output' if name in written else 'named twice'}; "
                             "each output column needs its own name")


def is_complete(output: str | Path, expected: dict, source: str | Path) -> bool:
    """Whether ``output`` is a readable Parquet file holding every event of the input
    ``source``, stamped with its ``provenance`` ``expected`` (the same input content and
    settings), and not older than the input: an input changed in place after its output
    was made is redone, whatever the change (as ``make`` decides)."""
    try:
        file = pq.ParquetFile(output)
        stamp = json.loads((file.schema_arrow.metadata or {}).get(PROVENANCE_KEY.encode(), b"null"))
        newer = os.stat(output).st_mtime_ns >= os.stat(source).st_mtime_ns
    except (OSError, pa.ArrowException, ValueError):
        return False
    return stamp == expected and newer and file.metadata.num_rows == expected["source_events"]


def empty_output(pipeline: Pipeline, source: str | Path, keep_columns: Sequence[str] = ()) -> pa.Table:
    """The output of an input without events: no rows, and the columns an output with
    events has (``Pipeline.output_schema``, then the kept columns as the Parquet input
    types them; a ROOT input types none, so they are of the null type), so that a folder
    of outputs reads as one dataset."""
    schema = pipeline.output_schema()
    if keep_columns:
        source = Path(source)
        types = pq.read_schema(source) if source.suffix != ".root" else None
        for name in keep_columns:
            schema = schema.append(types.field(name) if types is not None else pa.field(name, pa.null()))
    return schema.empty_table()


def stamped_writer(output: str | Path, detector: str, stamp: dict) -> EventWriter:
    """The atomic writer of ``output``, its schema metadata stamped with the provenance
    ``stamp`` that ``is_complete`` checks, and naming the input's geometry file (the
    stamp's ``geometry``, when it has one) relative to the output's folder."""
    metadata = {PROVENANCE_KEY: json.dumps(stamp)}
    if stamp.get("geometry"):
        metadata[METADATA_KEY] = os.path.relpath(stamp["geometry"], Path(output).resolve().parent)
    return EventWriter(output, detector, metadata=metadata)


def write_output(output: str | Path, detector: str, stamp: dict, tables: Iterable[pa.Table], empty: pa.Table,
                 on_events: Callable[[int], None] | None = None, timings: Steps | None = None) -> int:
    """Write ``tables`` into ``output`` atomically, stamped with its provenance
    ``stamp`` (``empty``, the ``empty_output``, when there are none); ``on_events(n)`` is
    told of every ``n`` events written and ``timings`` gets the seconds of writing.
    Returns the number of events."""
    events = 0
    with stamped_writer(output, detector, stamp) as writer:
        for table in tables:
            with timed(timings, "write"):
                writer.write(table)
            events += table.num_rows
            if on_events is not None:
                on_events(table.num_rows)
        if events == 0:
            writer.write(empty)
    return events


def reconstruct_file(pipeline: Pipeline, source: str | Path, output: str | Path,
                     batch_size: int = DEFAULT_BATCH_EVENTS, keep_columns: Sequence[str] = (),
                     on_events: Callable[[int], None] | None = None,
                     root_mapping: RootMapping | None = None, stamp: dict | None = None,
                     geometry: str | Path | None = None) -> dict:
    """Reconstruct every event of ``source`` (Parquet, or ROOT read through
    ``root_mapping``) into ``output`` in this process, against the geometry file
    ``geometry`` (None: the one the file names, else the detector's default layout);
    ``on_events(n)`` is told of every ``n`` events written; ``stamp`` is the source's
    ``provenance`` when already known. ``UsageError`` when ``output`` is ``source`` or
    another process writes it (``locked``). Returns counts, seconds and the seconds per
    step (read and validate, graph, each stage, write)."""
    start = time.perf_counter()
    check_outputs([output], [source])
    stamp = stamp or provenance(pipeline, source, keep_columns, root_mapping, batch_size, geometry)
    mapper = in_process(pipeline, keep_columns)
    steps: Steps = {}
    batches = _timed_iteration(read_events(source, detector=pipeline.detector.name, batch_size=batch_size,
                                           columns=keep_columns, root_mapping=root_mapping,
                                           geometry=stamp.get("geometry")), steps, "read_validate")

    def tables() -> Iterator[pa.Table]:
        for table, batch_steps in mapper(batches):
            for step, seconds in batch_steps.items():
                steps[step] = steps.get(step, 0.0) + seconds
            yield table

    with locked([output]):
        events = write_output(output, pipeline.detector.name, stamp, tables(),
                              empty_output(pipeline, source, keep_columns), on_events, steps)
    return {"input": str(source), "output": str(output), "events": events,
            "seconds": round(time.perf_counter() - start, 3),
            "seconds_per_step": {step: round(value, 3) for step, value in steps.items()}}


def _timed_iteration(items: Iterator, steps: Steps, step: str) -> Iterator:
    """Yield from ``items``, adding the seconds spent producing each to ``steps[step]``."""
    while True:
        with timed(steps, step):
            item = next(items, None)
        if item is None:
            return
        yield item
