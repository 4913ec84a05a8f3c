"""Writing event files and reconstruction outputs atomically (temp file + rename), with a
checksum in every page (read back verified: ``parquet.open_parquet``)."""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UsageError

TEMPORARY_SUFFIX = ".tmp"
ROW_GROUP_EVENTS = 16384
"""Events per Parquet row group: a reader never has to hold more than this at once."""


def hit_list(offsets: np.ndarray, values: np.ndarray) -> pa.ListArray:
    """A ``list<...>`` column from CSR offsets and flat per-hit values (no copy of values)."""
    return pa.ListArray.from_arrays(pa.array(np.asarray(offsets, dtype=np.int32)), pa.array(values))


def event_column(values: np.ndarray) -> pa.Array:
    """A per-event column: one value per event (events,), or one list per event of the
    rows of a matrix (events, n), e.g. posterior samples."""
    values = np.asarray(values)
    if values.ndim == 2:
        return hit_list(np.arange(values.shape[0] + 1) * values.shape[1], values.reshape(-1))
    return pa.array(values)


def event_table(event_id: np.ndarray, offsets: np.ndarray, hits: Mapping[str, np.ndarray],
                events: Mapping[str, np.ndarray] | None = None, detector: str | None = None) -> pa.Table:
    """A table in the event format: ``event_id``, the per-hit lists, then event columns
    (``event_table(**simulated.columns())`` for ``SimulatedEvents``)."""
    columns = {"event_id": pa.array(np.asarray(event_id, dtype=np.int64))}
    columns |= {name: hit_list(offsets, values) for name, values in hits.items()}
    columns |= {name: event_column(values) for name, values in (events or {}).items()}
    table = pa.table(columns)
    return table.replace_schema_metadata({"detector": detector}) if detector else table


class EventWriter:
    """Streams tables into one Parquet file that appears only when complete.

    ``metadata`` adds keys to the schema metadata (besides ``detector``). Data goes to a
    hidden temporary file beside ``path`` (``temporary_files`` finds those a killed
    writer left); leaving the ``with`` block
    normally flushes, fsyncs and renames it onto ``path``; an exception (or
    :meth:`abort`) deletes it, so no reader ever sees a half-written file. An output
    that cannot be created (its folder is not writable) is a ``UsageError``.
    """

    def __init__(self, path: str | Path, detector: str, compression: str = "zstd",
                 metadata: Mapping[str, str] | None = None):
        self.path = Path(path)
        self.detector = detector
        self.metadata = {"detector": detector, **(metadata or {})}
        self.compression = compression
        self.temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}{TEMPORARY_SUFFIX}")
        self._writer: pq.ParquetWriter | None = None

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        if self._writer is None:
            metadata = dict(table.schema.metadata or {}) | {k.encode(): v.encode() for k, v in self.metadata.items()}
            self.schema = table.schema.with_metadata(metadata)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._writer = pq.ParquetWriter(self.temporary, self.schema, compression=self.compression,
                                               write_page_checksum=True)
            except OSError as error:  # pyarrow's own errors on opening a file are OSErrors too
                raise UsageError(f"{self.path}: cannot be written ({error})") from None
        self._writer.write_table(table.replace_schema_metadata(self.schema.metadata), row_group_size=ROW_GROUP_EVENTS)

    def close(self) -> None:
        """Finish the file and move it into place atomically."""
        if self._writer is None:
            raise ValueError(f"{self.path}: nothing was written")
        self._writer.close()
        with open(self.temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(self.temporary, self.path)

    def abort(self) -> None:
        """Drop everything written so far."""
        if self._writer is not None:
            self._writer.close()
        self.temporary.unlink(missing_ok=True)

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def temporary_files(path: str | Path) -> list[Path]:
    """The temporary files that writers of ``path`` left behind (killed before closing)."""
    path = Path(path)
    return sorted(path.parent.glob(f".{glob.escape(path.name)}.*{TEMPORARY_SUFFIX}"))


def write_events(path: str | Path, table: pa.Table, detector: str, metadata: Mapping[str, str] | None = None) -> None:
    """Write one table as an event file, atomically (``metadata``: schema-metadata keys
    beside ``detector``, e.g. ``geometry``)."""
    with EventWriter(path, detector, metadata=metadata) as writer:
        writer.write(table)
