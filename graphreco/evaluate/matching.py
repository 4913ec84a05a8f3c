"""Match a reconstruction's rows to the events of the truth file it was made from.

Every comparison (Baikal-GVD, LHC crossings, air showers) reads a reconstruction and the
truth file side by side (``read_reco``: a readable Parquet file with ``event_id``): rows
are found by ``event_id`` and per-hit outputs must have one entry per hit of the event.
Every check names the reconstruction file, the column and the first offending event.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..io import EventFormatError
from ..io.parquet import read_parquet


def read_reco(reco_path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """The reconstruction file (``columns`` of it, all by default); ``EventFormatError``
    when it is not a readable Parquet file or has no ``event_id``."""
    try:
        schema = pq.read_schema(reco_path)
        if "event_id" not in schema.names:
            raise EventFormatError(str(reco_path), "required column is missing", column="event_id")
        return read_parquet(reco_path, columns=columns)
    except (OSError, pa.ArrowException) as error:
        raise EventFormatError(str(reco_path), f"not a readable Parquet file ({error})") from None


def reco_rows(reco_ids: np.ndarray, event_ids: np.ndarray, reco_path: str | Path) -> np.ndarray:
    """Row of each event of ``event_ids`` in the reconstruction (whose ``event_id``
    column is ``reco_ids``); a missing event is an error."""
    missing = np.ones(event_ids.size, dtype=bool)
    rows = np.zeros(event_ids.size, dtype=np.int64)
    if reco_ids.size:
        order = np.argsort(reco_ids, kind="stable")
        rows = order[np.clip(np.searchsorted(reco_ids[order], event_ids), 0, reco_ids.size - 1)]
        missing = reco_ids[rows] != event_ids
    if np.any(missing):
        raise EventFormatError(str(reco_path), "event missing from the reconstruction", column="event_id",
                               event_id=int(event_ids[np.argmax(missing)]))
    return rows


def hit_values(column: pa.ChunkedArray, rows: np.ndarray, hits_per_event: np.ndarray, event_ids: np.ndarray,
               reco_path: str | Path, name: str) -> np.ndarray:
    """The per-hit list column ``name`` of the reconstruction at ``rows``, flattened to
    float32; every list must be as long as its event's hits in the truth file."""
    lists = column.take(pa.array(rows, type=pa.int64()))
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    wrong = lengths != hits_per_event
    if np.any(wrong):
        bad = int(np.argmax(wrong))
        raise EventFormatError(str(reco_path), f"{lengths[bad]} values for {hits_per_event[bad]} hits: "
                               "not a reconstruction of the truth file", column=name, event_id=int(event_ids[bad]))
    return pc.list_flatten(lists).to_numpy(zero_copy_only=False).astype(np.float32)
