"""Streaming reader: files, directories or globs in, validated ``EventBatch`` es out.

Memory stays bounded whatever the file size: Parquet is read one record batch (at most
``batch_size`` events) at a time, ROOT files (``.root``, through a ``RootMapping``, see
``root.py``) as many tree entries at a time.
"""

from __future__ import annotations

import glob
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import detectors
from ..detectors import Detector, DetectorConfiguration
from .batch import EventBatch
from .configuration import check_on_sensors, configuration_file, is_geometry_file, resolve_configuration
from .errors import EventFormatError, EventFormatWarning
from .parquet import open_parquet
from .root import RootMapping, check_mapping, count_root_events, iter_root_batches, load_mapping
from .validate import check_schema, refuse_duplicate_hits, to_event_batch

DEFAULT_BATCH_EVENTS = 8192
Sources = str | Path | Iterable[str | Path]


def expand_sources(sources: Sources) -> list[Path]:
    """Event files named by paths, directories (their ``*.parquet``) or glob patterns
    (which may name ``.root`` files too); directories and patterns never give geometry
    files (``*.geometry.parquet``)."""
    items = [sources] if isinstance(sources, (str, Path)) else list(sources)
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(file for file in path.glob("*.parquet") if not is_geometry_file(file))
        elif path.exists():
            found = [path]
        else:
            found = sorted(Path(p) for p in glob.glob(str(item)) if not is_geometry_file(p))
        if not found:
            raise FileNotFoundError(f"no event files at {str(item)!r}")
        files.extend(found)
    return files


def open_event_file(path: str | Path, detector: str | None = None) -> tuple[pq.ParquetFile, Detector]:
    """Open a Parquet event file and resolve its detector (``detector`` overrides the
    schema metadata, with an ``EventFormatWarning`` where the metadata declares another);
    the schema is checked against that detector's contract."""
    file = str(path)
    try:
        parquet = open_parquet(file)
    except (pa.ArrowException, OSError) as error:
        raise EventFormatError(file, f"not a readable Parquet file ({error})") from None
    metadata = parquet.schema_arrow.metadata or {}
    declared = metadata.get(b"detector", b"").decode(errors="replace") or None
    name = detector or declared
    if name is None:
        raise EventFormatError(file,
                               "no detector named: the schema metadata has no 'detector' key; pass one explicitly")
    resolved = _detector(file, name)
    check_schema(parquet.schema_arrow, resolved, file, declared)
    if declared is not None and declared != resolved.name:
        # one place (stacklevel 1): the warnings filter shows it once however often the file is opened
        warnings.warn(EventFormatWarning(f"{file}: its schema metadata declares detector {declared!r}; read as "
                                         f"{resolved.name!r}, the detector given, which overrides it"), stacklevel=1)
    return parquet, resolved


def _detector(file: str, name: str) -> Detector:
    try:
        return detectors.get(name)
    except ValueError as error:
        raise EventFormatError(file, str(error)) from None


def read_events(sources: Sources, detector: str | None = None, batch_size: int = DEFAULT_BATCH_EVENTS,
                columns: Iterable[str] | None = None,
                root_mapping: RootMapping | str | Path | None = None,
                geometry: str | Path | None = None) -> Iterator[EventBatch]:
    """Stream validated event batches from every file in ``sources``, in order.

    ``columns`` limits what is read beyond the detector's contract columns (which are
    always read when present); ``None`` reads every column. ``.root`` files are read
    through ``root_mapping``: a ``RootMapping``, the path of one in JSON or ``None`` for
    the shipped NanoAOD PF-candidate mapping; ``detector`` overrides its detector.
    Each file is read against one detector configuration (``EventBatch.configuration``):
    the geometry file ``geometry`` where given, else the one its schema metadata names,
    else the detector's default layout; a hit off its live sensors is an
    ``EventFormatError``.
    """
    for path in expand_sources(sources):
        seen: set[int] = set()
        try:
            if path.suffix == ".root":
                resolved, record_batches = _root_batches(path, detector, batch_size, columns, root_mapping)
                metadata = None
            else:
                resolved, record_batches, metadata = _parquet_batches(path, detector, batch_size, columns)
            configuration = resolve_configuration(resolved, path, configuration_file(path, metadata, geometry))
            for record_batch in record_batches:
                yield validated_batch(record_batch, resolved, str(path), seen, configuration)
        except (pa.ArrowException, OSError) as error:
            raise EventFormatError(str(path), f"unreadable data ({error})") from None


def validated_batch(record_batch: pa.RecordBatch, detector: Detector, file: str, seen_ids: set[int],
                    configuration: DetectorConfiguration | None) -> EventBatch:
    """A record batch validated and converted (``validate.to_event_batch``), its hits
    checked against the file's ``configuration``, which it carries: each on a live
    sensor, and no two on one sensor at one time."""
    batch = to_event_batch(record_batch, detector, file, seen_ids)
    if configuration is not None:
        sensors = check_on_sensors(file, batch.hits, batch.offsets, batch.event_id, configuration)
        if sensors is not None:
            refuse_duplicate_hits(batch, detector, sensors, configuration.n_sensors)
    return replace(batch, configuration=configuration)


def event_file_configuration(path: str | Path, geometry: str | Path | None = None) -> Path | None:
    """The geometry file an event file is read against (``configuration.configuration_file``):
    ``geometry``, else the one a Parquet file's schema metadata names, else None."""
    if geometry is not None or Path(path).suffix == ".root":
        return configuration_file(path, None, geometry)
    try:
        metadata = pq.read_schema(str(path)).metadata
    except (pa.ArrowException, OSError) as error:
        raise EventFormatError(str(path), f"not a readable Parquet file ({error})") from None
    return configuration_file(path, metadata, None)


@dataclass(frozen=True)
class SourceSummary:
    """An event file's number of events and the columns it gives, known without reading
    its data."""

    events: int
    columns: tuple[str, ...]


def summarize_source(path: str | Path, detector: str | None = None,
                     root_mapping: RootMapping | str | Path | None = None) -> SourceSummary:
    """The ``SourceSummary`` of a Parquet file (its schema checked against the detector)
    or of a ROOT file (its mapping checked); ``EventFormatError`` for an unreadable one."""
    path, file = Path(path), str(path)
    if path.suffix != ".root":
        parquet, _ = open_event_file(path, detector)
        return SourceSummary(parquet.metadata.num_rows, tuple(parquet.schema_arrow.names))
    mapping = load_mapping(root_mapping)
    check_mapping(mapping, _detector(file, detector or mapping.detector), file)
    return SourceSummary(count_root_events(path, mapping), ("event_id", *mapping.columns))


RecordBatches = tuple[Detector, Iterator[pa.RecordBatch]]
"""A file's detector and its record batches, not yet read."""


def wanted_columns(detector: Detector, columns: Iterable[str]) -> set[str]:
    """What a reader limited to ``columns`` reads: those, ``event_id`` and the detector's
    contract columns."""
    return {"event_id", *columns, *(c.name for c in detector.columns)}


def _parquet_batches(path: Path, detector: str | None, batch_size: int,
                     columns: Iterable[str] | None) -> tuple[Detector, Iterator[pa.RecordBatch], dict]:
    """A Parquet event file, its schema checked against the detector, and its schema metadata."""
    parquet, resolved = open_event_file(path, detector)
    selected = None
    if columns is not None:
        wanted = wanted_columns(resolved, columns)
        selected = [name for name in parquet.schema_arrow.names if name in wanted]
    return resolved, parquet.iter_batches(batch_size=batch_size, columns=selected), parquet.schema_arrow.metadata


def _root_batches(path: Path, detector: str | None, batch_size: int, columns: Iterable[str] | None,
                  root_mapping: RootMapping | str | Path | None) -> RecordBatches:
    """A ROOT file through its mapping, which must give every required column; each
    record batch's schema is checked against the detector."""
    file, mapping = str(path), load_mapping(root_mapping)
    resolved = _detector(file, detector or mapping.detector)
    if columns is not None:
        mapping = mapping.restricted(wanted_columns(resolved, columns))
    check_mapping(mapping, resolved, file)
    return resolved, _schema_checked(iter_root_batches(path, mapping, batch_size), resolved, file, mapping.detector)


def _schema_checked(record_batches: Iterator[pa.RecordBatch], detector: Detector, file: str,
                    declared: str) -> Iterator[pa.RecordBatch]:
    for record_batch in record_batches:
        check_schema(record_batch.schema, detector, file, declared)
        yield record_batch
