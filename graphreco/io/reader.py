"""Streaming reader: files, directories or globs in, validated ``EventBatch`` es out.

Memory stays bounded whatever the file size: Parquet is read one record batch (at most
``batch_size`` events) at a time.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import detectors
from ..detectors import Detector
from .batch import EventBatch
from .errors import EventFormatError
from .validate import check_schema, to_event_batch

DEFAULT_BATCH_EVENTS = 8192
Sources = str | Path | Iterable[str | Path]


def expand_sources(sources: Sources) -> list[Path]:
    """Event files named by paths, directories (their ``*.parquet``) or glob patterns."""
    items = [sources] if isinstance(sources, (str, Path)) else list(sources)
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(path.glob("*.parquet"))
        elif path.exists():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(str(item)))
        if not found:
            raise FileNotFoundError(f"no event files at {str(item)!r}")
        files.extend(found)
    return files


def open_event_file(path: str | Path, detector: str | None = None) -> tuple[pq.ParquetFile, Detector]:
    """Open a Parquet event file and resolve its detector (``detector`` overrides the
    schema metadata); the schema is checked against that detector's contract."""
    file = str(path)
    try:
        parquet = pq.ParquetFile(file)
    except (pa.ArrowException, OSError) as error:
        raise EventFormatError(file, f"not a readable Parquet file ({error})") from None
    metadata = parquet.schema_arrow.metadata or {}
    declared = metadata.get(b"detector", b"").decode() or None
    name = detector or declared
    if name is None:
        raise EventFormatError(file, "no detector named: the schema metadata has no 'detector' key; pass one explicitly")
    try:
        resolved = detectors.get(name)
    except ValueError as error:
        raise EventFormatError(file, str(error)) from None
    check_schema(parquet.schema_arrow, resolved, file, declared)
    return parquet, resolved


def read_events(sources: Sources, detector: str | None = None, batch_size: int = DEFAULT_BATCH_EVENTS,
                columns: Iterable[str] | None = None) -> Iterator[EventBatch]:
    """Stream validated event batches from every file in ``sources``, in order.

    ``columns`` limits what is read beyond the detector's contract columns (which are
    always read when present); ``None`` reads every column.
    """
    for path in expand_sources(sources):
        parquet, resolved = open_event_file(path, detector)
        selected = None
        if columns is not None:
            wanted = {"event_id", *columns, *(c.name for c in resolved.columns)}
            selected = [name for name in parquet.schema_arrow.names if name in wanted]
        seen: set[int] = set()
        try:
            for record_batch in parquet.iter_batches(batch_size=batch_size, columns=selected):
                yield to_event_batch(record_batch, resolved, str(path), seen)
        except (pa.ArrowException, OSError) as error:
            raise EventFormatError(str(path), f"unreadable data ({error})") from None
