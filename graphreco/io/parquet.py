"""Parquet files as graphreco opens them: every page checksum verified.

``EventWriter`` writes a CRC-32 of every page (``write_page_checksum``) into the page's
header; every read of a file's pages goes through ``open_parquet`` or ``read_parquet``,
which verify each page that holds one, so a damaged page is an error naming the file
(pyarrow raises ``OSError``, which the callers turn into an ``EventFormatError``), never
silently other data. A file written without checksums (by another program) is read as
before: pyarrow verifies only the pages whose header holds a checksum.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def open_parquet(path: str | Path) -> pq.ParquetFile:
    """``path`` opened for reading, page checksums verified where the file has them;
    raises what ``pq.ParquetFile`` raises (``OSError``, ``pa.ArrowException``)."""
    return pq.ParquetFile(str(path), page_checksum_verification=True)


def read_parquet(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """The table in the file ``path`` (``columns`` of it, all by default), page checksums
    verified where the file has them; raises what ``pq.ParquetFile`` raises, and
    ``pa.ArrowInvalid`` naming a requested column the file lacks.

    Read through ``pq.ParquetFile``, not ``pq.read_table``, which imports
    ``pyarrow.dataset`` for one file: nothing else a ``reconstruct`` does needs it."""
    with open_parquet(path) as file:
        missing = [name for name in columns or () if name not in file.schema_arrow.names]
        if missing:
            raise pa.ArrowInvalid(f"no column {missing[0]!r}")
        return file.read(columns=columns)
