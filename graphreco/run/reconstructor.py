"""``Reconstructor``: a trained pipeline loaded once, called from an experiment's framework
per event (a mapping of arrays) or per batch (an Arrow table in the event format).

Both calls validate their input as the file reader does (the message names the column
and the event) and run the same ``Pipeline.reconstruct`` that ``graphreco reconstruct``
runs, so a framework and the batch command give the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from ..io import event_table
from ..io.configuration import resolve_configuration
from ..io.reader import validated_batch
from ..io.validate import check_schema
from ..pipeline import Pipeline

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
        record_batch = table.combine_chunks().to_batches()[0] if isinstance(table, pa.Table) and table.num_rows \
            else table
        detector = self.pipeline.detector
        check_schema(record_batch.schema, detector, source, None)
        if record_batch.num_rows == 0:
            return event_table(np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64), {}, {})
        batch = validated_batch(record_batch, detector, source, set(), self.configuration)
        hits, events = self.pipeline.reconstruct(batch)
        return event_table(batch.event_id, batch.offsets, hits, events)

    def reconstruct_event(self, hits: Mapping[str, object], event: Mapping[str, object] | None = None,
                          event_id: int = 0) -> dict[str, np.ndarray | float]:
        """Reconstruct one event: ``hits`` maps per-hit column names to equal-length 1-D
        arrays (numpy, awkward or lists), ``event`` per-event columns to scalars. Returns
        per-hit outputs as numpy arrays and per-event outputs as floats."""
        columns = {"event_id": pa.array([event_id], type=pa.int64())}
        columns |= {name: pa.array([np.asarray(values).tolist()]) for name, values in hits.items()}
        columns |= {name: pa.array([value]) for name, value in (event or {}).items()}
        output = self.reconstruct_table(pa.table(columns))
        return {name: (np.asarray(output.column(name)[0].as_py(), dtype=np.float32)
                       if pa.types.is_list(output.schema.field(name).type) else float(output.column(name)[0].as_py()))
                for name in output.column_names if name != "event_id"}
