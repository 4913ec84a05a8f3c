"""Detector configurations as data: geometry files (docs/event-format.md, "Detector
configuration"), which configuration an event file is read against, and the matcher of
hits to the sensors of a configuration.

A geometry file is Parquet, one row per sensor: ``x``, ``y``, ``z`` (float64, m),
optional ``channel`` (int32) and ``live`` (bool, default true), the schema metadata key
``detector``, and a name ending in ``.geometry.parquet``. An event file names its
configuration in the schema metadata key ``geometry`` (relative to its own folder); a
``geometry`` argument (``--geometry FILE``) overrides it; otherwise the detector's
shipped default layout (``Detector.default_configuration``) is used.
"""

from __future__ import annotations

import math
import os
import weakref
from functools import cache
from pathlib import Path

import numba
import numpy as np
import pyarrow as pa

from ..detectors import Detector, DetectorConfiguration
from ..kernels._cache import ensure_cache_folder
from .batch import event_of_hit
from .errors import EventFormatError
from .parquet import read_parquet
from .writer import EventWriter

ensure_cache_folder()  # before this module's numba functions are decorated

SUFFIX = ".geometry.parquet"
"""How the name of every geometry file ends (folders given as input skip these files)."""
METADATA_KEY = "geometry"
"""Schema-metadata key of an event file naming its configuration."""
MATCH_DISTANCE = 1.0
"""m: a hit sits on a sensor when it is at most this far from the sensor's position."""
POSITION_COLUMNS = ("x", "y", "z")


class GeometryNotApplicable(ValueError):
    """A configuration was given for a detector whose events name no fixed sensors (a
    usage error: ``graphreco`` exits with 2)."""


def is_geometry_file(path: str | Path) -> bool:
    return str(path).endswith(SUFFIX)


def _column(table: pa.Table, file: str, name: str, check, expected: str) -> np.ndarray:
    """Column ``name`` of a geometry table as numpy, or an ``EventFormatError`` naming
    the file and the column when it is missing, null or not ``check``-able."""
    if name not in table.column_names:
        raise EventFormatError(file, "required column is missing", column=name)
    column = table.column(name)
    if not check(column.type):
        raise EventFormatError(file, f"expected {expected}, found {column.type}", column=name)
    if column.null_count:
        raise EventFormatError(file, f"{column.null_count} null values", column=name)
    return column.to_numpy()


def read_configuration(path: str | Path) -> DetectorConfiguration:
    """The configuration in the geometry file ``path``; ``EventFormatError`` naming the
    file and the column for a file that breaks the format (unreadable, a column missing
    or of another type, a null or non-finite position, no ``detector`` metadata key)."""
    file = str(path)
    if not is_geometry_file(file):
        raise EventFormatError(file, f"a geometry file's name ends in {SUFFIX}")
    try:
        table = read_parquet(file)
    except (pa.ArrowException, OSError) as error:
        raise EventFormatError(file, f"not a readable Parquet file ({error})") from None
    detector = (table.schema.metadata or {}).get(b"detector", b"").decode(errors="replace")
    if not detector:
        raise EventFormatError(file, "the schema metadata has no 'detector' key")
    position = np.stack([_column(table, file, name, pa.types.is_floating, "float64") for name in POSITION_COLUMNS],
                        axis=1).astype(np.float64)
    bad = ~np.isfinite(position)
    if bad.any():
        row, axis = np.argwhere(bad)[0]
        raise EventFormatError(file, f"row {row}: position is {position[row, axis]}, not finite",
                               column=POSITION_COLUMNS[axis])
    channel = None
    if "channel" in table.column_names:
        channel = _column(table, file, "channel", pa.types.is_integer, "int32").astype(np.int32)
    live = np.ones(len(position), dtype=bool)
    if "live" in table.column_names:
        live = _column(table, file, "live", pa.types.is_boolean, "bool").astype(bool)
    return DetectorConfiguration(detector=detector, position=position, channel=channel, live=live, source=file)


def write_configuration(configuration: DetectorConfiguration, path: str | Path) -> None:
    """Write ``configuration`` as the geometry file ``path`` (atomically: a temporary file
    renamed into place); ``ValueError`` for a name not ending in ``.geometry.parquet``."""
    if not is_geometry_file(path):
        raise ValueError(f"{path}: a geometry file's name must end in {SUFFIX}")
    columns = {name: pa.array(configuration.position[:, k].astype(np.float64))
               for k, name in enumerate(POSITION_COLUMNS)}
    if configuration.channel is not None:
        columns["channel"] = pa.array(np.asarray(configuration.channel, dtype=np.int32))
    columns["live"] = pa.array(np.asarray(configuration.live, dtype=bool))
    with EventWriter(path, configuration.detector) as writer:
        writer.write(pa.table(columns))


@cache
def _default(path: Path, name: str) -> DetectorConfiguration:
    configuration = read_configuration(path)
    return DetectorConfiguration(configuration.detector, configuration.position, configuration.channel,
                                 configuration.live, f"{name} default layout")


def default_configuration(detector: Detector) -> DetectorConfiguration | None:
    """The detector's shipped default layout (read once), None for a detector without one."""
    return None if detector.default_configuration is None else _default(detector.default_configuration, detector.name)


def configuration_file(event_file: str | Path, metadata: dict[bytes, bytes] | None,
                       geometry: str | Path | None = None) -> Path | None:
    """The geometry file an event file is read against: ``geometry`` where given, else the
    one its schema metadata names (relative to the event file's folder), else None (the
    detector's default)."""
    if geometry is not None:
        return Path(geometry)
    named = (metadata or {}).get(METADATA_KEY.encode(), b"").decode(errors="replace")
    return Path(event_file).parent / named if named else None


def moved(table: pa.Table, source: str | Path, target: str | Path) -> pa.Table:
    """``table``, read from the event file ``source``, with its ``geometry`` metadata key
    (if any) rewritten to name the same geometry file from ``target``'s folder: for
    writing the events, or part of them, somewhere else."""
    named = configuration_file(source, table.schema.metadata, None)
    if named is None:
        return table
    reference = os.path.relpath(named.resolve(), Path(target).resolve().parent)
    return table.replace_schema_metadata(table.schema.metadata | {METADATA_KEY.encode(): reference.encode()})


def resolve_configuration(detector: Detector, event_file: str | Path,
                          file: Path | None) -> DetectorConfiguration | None:
    """The configuration in ``file`` (from :func:`configuration_file`), or the detector's
    default where it is None. ``EventFormatError`` for a configuration of another
    detector or a missing file; ``GeometryNotApplicable`` for a file given to a detector
    without sensors."""
    if file is None:
        return default_configuration(detector)
    require_sensors(detector, file)
    if not file.exists():
        raise EventFormatError(str(event_file), f"its configuration {file} does not exist", column=METADATA_KEY)
    configuration = read_configuration(file)
    if configuration.detector != detector.name:
        raise EventFormatError(str(file), f"a {configuration.detector} configuration, but {event_file} holds "
                                          f"{detector.name} events", column="detector")
    return configuration


def require_sensors(detector: Detector, geometry: str | Path) -> None:
    """``GeometryNotApplicable`` where ``detector`` has no fixed sensors for the geometry
    file ``geometry`` to describe."""
    if detector.default_configuration is None:
        raise GeometryNotApplicable(f"{detector.name} has no fixed sensors: a geometry file does not apply "
                                    f"(given {geometry})")


CELL = 4.0 * MATCH_DISTANCE
"""m: edge of the matcher's hash cells. A hit's sensors within MATCH_DISTANCE lie in the
cells its MATCH_DISTANCE box overlaps: 1 to 8, 2 on average (27 with cells of MATCH_DISTANCE)."""


@numba.njit(inline="always")
def _slot(ix, iy, iz, mask):
    """Slot of cell (ix, iy, iz) in a table of ``mask + 1`` slots: a multiplicative hash
    with its high bits folded down."""
    mixed = ix * 0x9E3779B1 + iy * 0x85EBCA77 + iz * 0x27D4EB2F  # int64, wraps
    return (mixed ^ (mixed >> 17)) & mask


@numba.njit(cache=True)
def _build_table(cells: np.ndarray, sensors: np.ndarray, size: int):
    """Open-addressing table of the cells (m, 3) int64 holding ``sensors`` (m) indices:
    per slot its cell and the first sensor of the cell's chain (-1: empty slot)."""
    keys = np.zeros((size, 3), dtype=np.int64)
    head = np.full(size, -1, dtype=np.int64)
    chain = np.full(sensors.size, -1, dtype=np.int64)
    mask = size - 1
    for k in range(sensors.size):
        ix, iy, iz = cells[k, 0], cells[k, 1], cells[k, 2]
        slot = _slot(ix, iy, iz, mask)
        while head[slot] >= 0 and not (keys[slot, 0] == ix and keys[slot, 1] == iy and keys[slot, 2] == iz):
            slot = (slot + 1) & mask
        keys[slot, 0], keys[slot, 1], keys[slot, 2] = ix, iy, iz
        chain[k] = head[slot]
        head[slot] = k
    return keys, head, chain


@numba.njit(inline="always")
def _nearest_in_cell(ix, iy, iz, px, py, pz, position, sensors, keys, head, chain, best, best_d2):
    """The nearer of (``best``, ``best_d2``) and the sensors of cell (ix, iy, iz) to the
    point (ties: the smaller index)."""
    mask = head.size - 1
    slot = _slot(ix, iy, iz, mask)
    while head[slot] >= 0 and not (keys[slot, 0] == ix and keys[slot, 1] == iy and keys[slot, 2] == iz):
        slot = (slot + 1) & mask
    k = head[slot]
    while k >= 0:
        s = sensors[k]
        d2 = (position[s, 0] - px) ** 2 + (position[s, 1] - py) ** 2 + (position[s, 2] - pz) ** 2
        if d2 < best_d2 or (d2 == best_d2 and (best < 0 or s < best)):
            best, best_d2 = s, d2
        k = chain[k]
    return best, best_d2


@numba.njit(parallel=True, cache=True)
def _match(x, y, z, position, sensors, keys, head, chain, cell, radius, out) -> None:
    """``out[h]``: the nearest of the hashed ``sensors`` within ``radius`` of hit h, else
    -1. The hit's own cell first: a sensor found there nearer than the cell's faces is
    the answer (the usual case, a hit on its sensor); else every cell the hit's
    ``radius`` box overlaps."""
    for h in numba.prange(x.size):
        px, py, pz = np.float64(x[h]), np.float64(y[h]), np.float64(z[h])
        out[h] = -1
        if not (math.isfinite(px) and math.isfinite(py) and math.isfinite(pz)):
            continue
        cx, cy, cz = int(math.floor(px / cell)), int(math.floor(py / cell)), int(math.floor(pz / cell))
        best, best_d2 = _nearest_in_cell(cx, cy, cz, px, py, pz, position, sensors, keys, head, chain, -1,
                                         radius * radius)
        face = min(px - cx * cell, (cx + 1) * cell - px, py - cy * cell, (cy + 1) * cell - py,
                   pz - cz * cell, (cz + 1) * cell - pz)
        if best < 0 or best_d2 >= face * face:
            for ix in range(int(math.floor((px - radius) / cell)), int(math.floor((px + radius) / cell)) + 1):
                for iy in range(int(math.floor((py - radius) / cell)), int(math.floor((py + radius) / cell)) + 1):
                    for iz in range(int(math.floor((pz - radius) / cell)),
                                    int(math.floor((pz + radius) / cell)) + 1):
                        if ix != cx or iy != cy or iz != cz:
                            best, best_d2 = _nearest_in_cell(ix, iy, iz, px, py, pz, position, sensors, keys, head,
                                                             chain, best, best_d2)
        out[h] = best


_tables: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _table(configuration: DetectorConfiguration) -> tuple:
    """The matcher's hash table of a configuration's live sensors (built once per configuration)."""
    if configuration not in _tables:
        sensors = np.flatnonzero(configuration.live).astype(np.int64)
        cells = np.floor(configuration.position[sensors] / CELL).astype(np.int64)
        size = 1 << max(int(4 * sensors.size - 1).bit_length(), 4)  # at most a quarter full
        _tables[configuration] = (sensors, *_build_table(cells, sensors, size))
    return _tables[configuration]


def sensor_index(configuration: DetectorConfiguration, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """For hits at (x, y, z) m (arrays of one length), the index (int64) of the nearest
    live sensor of ``configuration`` within ``MATCH_DISTANCE`` (ties: the smaller index),
    -1 where there is none."""
    sensors, keys, head, chain = _table(configuration)
    out = np.empty(np.size(x), dtype=np.int64)
    position = np.ascontiguousarray(configuration.position, dtype=np.float64)
    _match(np.ascontiguousarray(x), np.ascontiguousarray(y), np.ascontiguousarray(z), position, sensors, keys, head,
           chain, CELL, MATCH_DISTANCE, out)
    return out


def check_on_sensors(file: str, hits: dict[str, np.ndarray], offsets: np.ndarray, event_id: np.ndarray,
                     configuration: DetectorConfiguration) -> np.ndarray | None:
    """The index of each hit's live sensor of ``configuration`` (``sensor_index``; None
    where ``hits`` lack positions). ``EventFormatError`` naming ``file``, the
    configuration and the first offending ``event_id`` where a hit does not sit on one;
    it also names the column where a coordinate lies beyond every live sensor's (an
    absurd value such as x = 1e30 m)."""
    if not all(name in hits for name in POSITION_COLUMNS):
        return None
    index = sensor_index(configuration, hits["x"], hits["y"], hits["z"])
    off = np.flatnonzero(index < 0)
    if off.size:
        hit = int(off[0])
        event = event_of_hit(offsets, hit)
        where = ", ".join(f"{hits[name][hit]:.8g}" for name in POSITION_COLUMNS)
        problem = f"hit at ({where}) m is not within {MATCH_DISTANCE:g} m of a live sensor of the configuration " \
                  f"{configuration.source}"
        live = configuration.live_positions
        for axis, name in enumerate(POSITION_COLUMNS if live.size else ()):
            low, high = live[:, axis].min() - MATCH_DISTANCE, live[:, axis].max() + MATCH_DISTANCE
            if not low <= hits[name][hit] <= high:
                raise EventFormatError(file, f"{problem}: {name} lies outside the live sensors' range, {low:.1f} to "
                                             f"{high:.1f} m", column=name, event_id=int(event_id[event]))
        raise EventFormatError(file, problem, event_id=int(event_id[event]))
    return index
