"""Reconstruct event files: stream them through a pipeline into output files in the event
format (``event_id``, the stages' columns, then any input columns asked for), each
written atomically."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from .io import EventFormatError, EventWriter, event_table, read_events
from .io.reader import DEFAULT_BATCH_EVENTS
from .pipeline import Pipeline, timed


def reconstruct_file(pipeline: Pipeline, source: str | Path, output: str | Path,
                     batch_size: int = DEFAULT_BATCH_EVENTS, keep_columns: Sequence[str] = ()) -> dict:
    """Reconstruct every event of ``source`` into ``output``; returns counts, seconds and
    the seconds per step (read and validate, graph, each stage, write)."""
    start, events = time.perf_counter(), 0
    steps: dict[str, float] = {}
    with EventWriter(output, pipeline.detector.name) as writer:
        batches = read_events(source, detector=pipeline.detector.name, batch_size=batch_size, columns=keep_columns)
        while True:
            with timed(steps, "read_validate"):
                batch = next(batches, None)
            if batch is None:
                break
            if events == 0:
                missing = [name for name in keep_columns if name not in batch.record_batch.schema.names]
                if missing:
                    raise EventFormatError(str(source), "column asked to be kept is not in the file", column=missing[0])
            hit_columns, event_columns = pipeline.reconstruct(batch, steps)
            with timed(steps, "write"):
                table = event_table(batch.event_id, batch.offsets, hit_columns, event_columns)
                for name in keep_columns:
                    table = table.append_column(name, batch.record_batch.column(name))
                writer.write(table)
            events += batch.n_events
        if events == 0:  # an input without events gives an output without events
            writer.write(pa.table({"event_id": pa.array([], pa.int64())}))
    return {"input": str(source), "output": str(output), "events": events,
            "seconds": round(time.perf_counter() - start, 3),
            "seconds_per_step": {step: round(value, 3) for step, value in steps.items()}}
