"""Hit times with a large common offset (issue 23, item 3).

The format allows any common offset per event, and a file may store ``t`` as float64 or
as int64 nanoseconds since an epoch. Narrowed to float32 as they were, 1 s of offset left
64 ns steps and the median Baikal-GVD angle went from 13.7 to 39.6 deg without a word. The
reader now subtracts each event's earliest time in the file's own type first, so the
offset costs nothing: not in the reader, not in ``graphreco reconstruct``, not in the
Python API.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import graphreco
from graphreco.cli import main
from graphreco.io import read_events, write_events

from .events import baikal_table, replace_column

ONE_SECOND = 1e9
"""ns: the offset of the issue."""
GPS_NS = 1_400_000_000 * 10**9
"""int64 ns since the GPS epoch, in 2024: beyond float64's exact integers too."""
MAX_ANGLE_DEG = 0.1


def _times(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The file's hit offsets and its times (float64)."""
    column = table.column("t").combine_chunks()
    return column.offsets.to_numpy(), column.values.to_numpy().astype(np.float64)


def with_times(table: pa.Table, values: np.ndarray) -> pa.Table:
    """``table`` with its hit times replaced by ``values`` (their type kept)."""
    offsets = table.column("t").combine_chunks().offsets
    return replace_column(table, "t", pa.ListArray.from_arrays(offsets, pa.array(values)))


def _since_first(offsets: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value less its event's smallest, exactly (Python numbers)."""
    return np.array([value - min(values[a:b].tolist()) for a, b in zip(offsets[:-1], offsets[1:], strict=True)
                     for value in values[a:b].tolist()], dtype=np.float64)


def _read_times(path: Path) -> np.ndarray:
    return np.concatenate([batch.hits["t"] for batch in read_events(path)])


@pytest.mark.parametrize("stored", ["float64 + 1 s", "int64 GPS ns"])
def test_wide_times_are_narrowed_after_their_event_offset(tmp_path, stored):
    table = baikal_table([5, 0, 7, 3], seed=5)
    offsets, t = _times(table)
    plain = tmp_path / "plain.parquet"
    write_events(plain, table, "baikal-gvd")
    wide = t + ONE_SECOND if stored == "float64 + 1 s" else GPS_NS + np.round(t * 100).astype(np.int64)
    path = tmp_path / "wide.parquet"
    write_events(path, with_times(table, wide), "baikal-gvd")
    read = _read_times(path)
    assert read.dtype == np.float32
    np.testing.assert_array_equal(read, _since_first(offsets, wide).astype(np.float32))
    if stored == "float64 + 1 s":  # the same times as the float32 file, up to its event offsets
        np.testing.assert_allclose(read, _since_first(offsets, _read_times(plain)), atol=1e-4)


def test_float32_times_are_read_as_written(tmp_path):
    """Nothing to gain where the file already holds float32: those are read without a copy."""
    table = baikal_table([5, 0, 7, 3], seed=6)
    path = tmp_path / "plain.parquet"
    write_events(path, table, "baikal-gvd")
    np.testing.assert_array_equal(_read_times(path), _times(table)[1].astype(np.float32))


def _directions(path: Path) -> np.ndarray:
    """Unit vectors (n, 3) of the reconstructed directions in a reconstruction file."""
    table = pq.read_table(path, columns=["reco_zenith", "reco_azimuth"])
    return _unit(table.column("reco_zenith").to_numpy(), table.column("reco_azimuth").to_numpy())


def _unit(zenith: np.ndarray, azimuth: np.ndarray) -> np.ndarray:
    zenith, azimuth = np.asarray(zenith, dtype=np.float64), np.asarray(azimuth, dtype=np.float64)
    return np.stack([np.sin(zenith) * np.cos(azimuth), np.sin(zenith) * np.sin(azimuth), np.cos(zenith)], axis=1)


def _angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles between unit vectors (deg), precise at small angles; NaN in both counts as 0."""
    both_nan = np.isnan(a).any(axis=1) & np.isnan(b).any(axis=1)
    angle = np.degrees(2.0 * np.arcsin(np.clip(np.linalg.norm(a - b, axis=1) / 2.0, 0.0, 1.0)))
    return np.where(both_nan, 0.0, angle)


@pytest.mark.parametrize("detector", ["baikal-gvd", "ta-sd"])
def test_a_one_second_offset_in_float64_moves_no_direction(simulated_file, tmp_path, detector):
    source = simulated_file(detector, 20, 5)
    table = pq.read_table(source)
    shifted = tmp_path / "shifted.parquet"
    write_events(shifted, with_times(table, _times(table)[1] + ONE_SECOND), detector)
    outputs = []
    for path in (source, shifted):
        outputs.append(tmp_path / f"{path.stem}-reco.parquet")
        assert main(["reconstruct", str(path), "-o", str(outputs[-1]), "--detector", detector, "--workers", "1"]) == 0
    plain, offset = map(_directions, outputs)
    assert not np.isnan(plain).all()
    angles = _angles_deg(plain, offset)
    assert np.all(angles <= MAX_ANGLE_DEG), angles  # NaN (one reconstructed, not the other) fails too


def test_the_python_api_takes_float64_times_with_an_offset(simulated_file):
    table = pq.read_table(simulated_file("baikal-gvd", 20, 5))
    reconstructor = graphreco.Reconstructor("baikal-gvd", threads=1)
    names = ("x", "y", "z", "t", "charge")
    for row in range(0, table.num_rows, 4):
        hits = {name: np.asarray(table.column(name)[row].as_py(), dtype=np.float32) for name in names}
        offset = hits | {"t": hits["t"].astype(np.float64) + ONE_SECOND}
        single, shifted = (reconstructor.reconstruct_event(h, event_id=row) for h in (hits, offset))
        angle = _angles_deg(_unit([single["reco_zenith"]], [single["reco_azimuth"]]),
                            _unit([shifted["reco_zenith"]], [shifted["reco_azimuth"]]))
        assert angle[0] <= MAX_ANGLE_DEG, (row, angle)
