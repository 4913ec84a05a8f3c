"""``Reconstructor``: a trained pipeline loaded once, called from an experiment's framework
per event (a mapping of arrays) or per batch (an Arrow table in the event format).

Both calls validate their input as the file reader does (the message names the column
and the event) and run the same ``Pipeline.reconstruct`` that ``graphreco reconstruct``
runs, so a framework and the batch command give the same numbers.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from ..graph import build_graph
from ..io import EventBatch, EventFormatError, event_table
from ..io.configuration import resolve_configuration
from ..io.reader import validated_batch
from ..io.validate import check_schema
from ..pipeline import Pipeline
from ..sky import POSTERIOR_COLUMNS, EventPosterior
from ..stages import StageInput

SOURCE = "<framework input>"
"""What error messages name as the file for data handed over in memory."""


class Reconstructor:
    """The shipped pipeline of ``detector`` or the one in the folder ``pipeline``, ready to
    reconstruct. ``threads`` sets torch's intra-op threads (None leaves them as they are;
    a framework running one reconstructor per worker wants 1). ``geometry``: the geometry
    file of the detector configuration the events come from (None: the detector's
    default layout); every hit must sit on one of its live sensors."""

    def __init__(self, detector: str | None = None, pipeline: str | Path | None = None,
                 threads: int | None = None, geometry: str | Path | None = None):
        if (detector is None) == (pipeline is None):
            raise ValueError("give either a detector name or a pipeline folder")
        self.pipeline = Pipeline.shipped(detector) if pipeline is None else Pipeline.load(pipeline)
        self.configuration = resolve_configuration(self.pipeline.detector, SOURCE,
                                                   None if geometry is None else Path(geometry))
        if threads is not None:
            torch.set_num_threads(threads)

    @property
    def detector(self) -> str:
        return self.pipeline.detector.name

    def reconstruct_table(self, table: pa.Table | pa.RecordBatch, source: str = SOURCE) -> pa.Table:
        """Reconstruct a table in the event format (``event_id``, per-hit lists, event
        columns of this detector); returns the output table (``event_id`` then the stage
        columns), one row per input row, in order."""
        batch = self._validated(table, source)
        if batch is None:
            return event_table(np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64), {}, {})
        hits, events = self.pipeline.reconstruct(batch)
        return event_table(batch.event_id, batch.offsets, hits, events)

    def _validated(self, table: pa.Table | pa.RecordBatch, source: str) -> EventBatch | None:
        """A table in the event format as a validated batch, as the file reader checks it
        (None for one without rows)."""
        record_batch = table.combine_chunks().to_batches()[0] if isinstance(table, pa.Table) and table.num_rows \
            else table
        check_schema(record_batch.schema, self.pipeline.detector, source, None)
        if record_batch.num_rows == 0:
            return None
        return validated_batch(record_batch, self.pipeline.detector, source, set(), self.configuration)

    def reconstruct_event(self, hits: Mapping[str, object], event: Mapping[str, object] | None = None,
                          event_id: int = 0) -> dict[str, np.ndarray | float]:
        """Reconstruct one event: ``hits`` maps per-hit column names to equal-length 1-D
        arrays (numpy, awkward or lists), ``event`` per-event columns to scalars. Returns
        per-hit outputs as numpy arrays and per-event outputs as floats. An event without
        hits gives what a file gives for one: NaN per-event outputs. ``EventFormatError``
        naming the column for an ``event_id`` that is not an integer within int64, or
        columns that break the event format."""
        output = self.reconstruct_table(self._event_table(hits, event, event_id))
        return {name: (np.asarray(output.column(name)[0].as_py(), dtype=np.float32)
                       if pa.types.is_list(output.schema.field(name).type) else float(output.column(name)[0].as_py()))
                for name in output.column_names if name != "event_id"}


    def _event_table(self, hits: Mapping[str, object], event: Mapping[str, object] | None,
                     event_id: int) -> pa.Table:
        """One event as a one-row table in the event format (``reconstruct_event``'s
        arguments); ``EventFormatError`` for an ``event_id`` that is not an int64."""
        if isinstance(event_id, bool) or not isinstance(event_id, numbers.Integral) \
                or not INT64.min <= int(event_id) <= INT64.max:
            raise EventFormatError(SOURCE, f"expected an integer within int64, got {event_id!r}", column="event_id")
        dtypes = {column.name: column.dtype for column in self.pipeline.detector.columns if column.per_hit}
        columns = {"event_id": pa.array([int(event_id)], type=pa.int64())}
        columns |= {name: _one_list(values, dtypes.get(name)) for name, values in hits.items()}
        columns |= {name: pa.array([value]) for name, value in (event or {}).items()}
        return pa.table(columns)

    def posterior(self, hits: Mapping[str, object], n: int = 512, event: Mapping[str, object] | None = None,
                  event_id: int = 0) -> EventPosterior:
        """One event's direction and energy posterior from the pipeline's posterior
        stage: ``n`` joint samples and the exact log density (``sky.EventPosterior``;
        arguments as ``reconstruct_event``). ``ValueError`` for a pipeline without a
        posterior stage; an event without a point estimate (too few hits) gives NaN."""
        names = [name for name, stage in self.pipeline.stages.items() if stage.on_request]
        if not names:
            raise ValueError(f"the {self.detector} pipeline has no posterior stage")
        stage = self.pipeline.stages[names[0]]
        batch = self._validated(self._event_table(hits, event, event_id), SOURCE)
        inputs = StageInput(batch, self.pipeline.detector, build_graph(batch, self.pipeline.detector))
        self.pipeline.run(inputs)  # every stage but the posterior: no samples are asked for here
        with torch.inference_mode():
            stage_graph = stage.input_graph(inputs)
            samples = stage.draw(stage_graph, n)

        def density(zenith: np.ndarray, azimuth: np.ndarray, log10_energy: np.ndarray | None) -> np.ndarray:
            shape = np.broadcast(zenith, azimuth).shape
            flat = [np.broadcast_to(values, shape).reshape(-1, 1) for values in (zenith, azimuth)]
            energy = None if log10_energy is None else np.broadcast_to(log10_energy, shape).reshape(-1, 1)
            return stage.log_density(stage_graph, *flat, energy).reshape(shape)

        return EventPosterior(*(samples[name][0] for name in POSTERIOR_COLUMNS), density=density)


INT64 = np.iinfo(np.int64)


def _one_list(values: object, dtype: str | None) -> pa.Array:
    """One event's per-hit ``values`` as a one-row list column: a numeric array in its own
    type (float32 is read as a file's float32, float64 times keep their precision until
    the reader narrows them after the event's offset), anything else as Python values
    give it; an empty one (no hits) takes the event format's ``dtype`` (``None``: a
    column the format does not name)."""
    array = np.asarray(values)
    if array.size and array.ndim == 1 and array.dtype.kind in "fiu":
        return pa.ListArray.from_arrays(pa.array([0, array.size], pa.int32()), pa.array(array))
    values = array.tolist()
    if values or dtype is None:
        return pa.array([values])
    value_type = pa.string() if dtype == "string" else pa.from_numpy_dtype(np.dtype(dtype))
    return pa.array([values], type=pa.list_(value_type))
