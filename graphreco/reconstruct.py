"""Reconstruct event files: stream them through a pipeline into output files in the event
format (``event_id``, the stages' columns, then any input columns asked for), each
written atomically."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from .io import EventFormatError, EventWriter, hit_list, read_events
from .io.reader import DEFAULT_BATCH_EVENTS
from .pipeline import Pipeline


def reconstruct_file(pipeline: Pipeline, source: str | Path, output: str | Path,
                     batch_size: int = DEFAULT_BATCH_EVENTS, keep_columns: Sequence[str] = ()) -> dict:
    """Reconstruct every event of ``source`` into ``output``; returns counts and seconds."""
    start, events = time.perf_counter(), 0
    with EventWriter(output, pipeline.detector.name) as writer:
        for batch in read_events(source, detector=pipeline.detector.name, batch_size=batch_size,
                                 columns=keep_columns):
            hit_columns, event_columns = pipeline.reconstruct(batch)
            columns = {"event_id": pa.array(batch.event_id)}
            columns |= {name: hit_list(batch.offsets, values) for name, values in hit_columns.items()}
            columns |= {name: pa.array(values) for name, values in event_columns.items()}
            for name in keep_columns:
                if name not in batch.record_batch.schema.names:
                    raise EventFormatError(str(source), "column asked to be kept is not in the file", column=name)
                columns[name] = batch.record_batch.column(name)
            writer.write(pa.table(columns))
            events += batch.n_events
    return {"input": str(source), "output": str(output), "events": events,
            "seconds": round(time.perf_counter() - start, 3)}
