"""Page checksums (issue 23, item 4): every Parquet file graphreco writes (events, geometry
files, reconstruction outputs) holds a CRC-32 of each page, and every read verifies them,
so a flipped byte in a page is bad input (``EventFormatError``, exit 3) naming the file,
never a traceback and never other numbers. Before, 26 of 40 single-byte flips in data
pages were reconstructed as if nothing had happened. Files written without checksums (by
other programs) are still read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from graphreco import detectors
from graphreco.cli import EXIT_BAD_INPUT, main
from graphreco.evaluate.matching import read_reco
from graphreco.io import EventFormatError, read_configuration, read_events, write_configuration, write_events
from graphreco.io.configuration import default_configuration

from .events import baikal_table

FLIPS = 60
MIN_DETECTED = 0.9
"""Share of flips that must be detected (the rest must change nothing): a flip in a page
header outside the fields that decide the values (e.g. its statistics) is harmless."""


def page_bytes(path: Path) -> np.ndarray:
    """Positions of the bytes of every column chunk of a Parquet file: its pages, headers
    included (not the footer, which holds no values)."""
    metadata = pq.ParquetFile(path).metadata
    chunks = []
    for group in range(metadata.num_row_groups):
        for column in range(metadata.num_columns):
            chunk = metadata.row_group(group).column(column)
            start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
            chunks.append(np.arange(start, start + chunk.total_compressed_size))
    return np.concatenate(chunks)


def flipped(path: Path, target: Path, position: int, bit: int = 0) -> Path:
    """``target``: a copy of ``path`` with one bit of the byte at ``position`` flipped."""
    data = bytearray(path.read_bytes())
    data[position] ^= 1 << bit
    target.write_bytes(bytes(data))
    return target


def _events(path: Path) -> list:
    return [(batch.event_id, batch.offsets, batch.hits) for batch in read_events(path)]


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) and x[2].keys() == y[2].keys()
        and all(np.array_equal(x[2][name], y[2][name]) for name in x[2]) for x, y in zip(a, b, strict=True))


def test_single_byte_flips_in_pages_are_detected_or_change_nothing(tmp_path):
    clean = tmp_path / "clean.parquet"
    write_events(clean, baikal_table([40] * 200, seed=1), "baikal-gvd")
    expected = _events(clean)
    rng = np.random.default_rng(23)
    positions = rng.choice(page_bytes(clean), FLIPS, replace=False)
    detected = 0
    for position in positions:
        damaged = flipped(clean, tmp_path / "damaged.parquet", int(position), int(rng.integers(8)))
        try:
            got = _events(damaged)
        except EventFormatError as error:
            assert error.file == str(damaged)
            detected += 1
            continue
        assert _same(got, expected), f"a flip at byte {position} changed the events undetected"
    assert detected >= MIN_DETECTED * FLIPS, f"{detected} of {FLIPS} flips detected"


def _middle_of_pages(path: Path) -> int:
    positions = page_bytes(path)
    return int(positions[positions.size // 2])


def test_a_damaged_page_of_an_input_exits_3_naming_the_file(tmp_path, capsys):
    clean = tmp_path / "clean.parquet"
    write_events(clean, baikal_table([40] * 50, seed=2), "baikal-gvd")
    damaged = flipped(clean, tmp_path / "damaged.parquet", _middle_of_pages(clean))
    out = tmp_path / "out" / "reco.parquet"
    code = main(["reconstruct", str(damaged), "-o", str(out), "--detector", "baikal-gvd", "--workers", "1"])
    assert code == EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert f"graphreco: error: {damaged}" in error and "checksum" in error and "Traceback" not in error
    assert not out.exists()


def test_outputs_and_geometry_files_are_verified_too(tmp_path):
    source, out = tmp_path / "events.parquet", tmp_path / "reco.parquet"
    write_events(source, baikal_table([40] * 20, seed=3), "baikal-gvd")
    assert main(["reconstruct", str(source), "-o", str(out), "--detector", "baikal-gvd", "--workers", "1"]) == 0
    with pytest.raises(EventFormatError, match="checksum") as caught:
        read_reco(flipped(out, tmp_path / "damaged-reco.parquet", _middle_of_pages(out)))
    assert caught.value.file == str(tmp_path / "damaged-reco.parquet")

    geometry = tmp_path / "layout.geometry.parquet"
    write_configuration(default_configuration(detectors.get("baikal-gvd")), geometry)
    with pytest.raises(EventFormatError, match="checksum"):
        read_configuration(flipped(geometry, tmp_path / "damaged.geometry.parquet", _middle_of_pages(geometry)))


def test_files_without_checksums_are_still_read(tmp_path):
    table = baikal_table([3, 0, 5], seed=4)
    written, foreign = tmp_path / "written.parquet", tmp_path / "foreign.parquet"
    write_events(written, table, "baikal-gvd")
    pq.write_table(table, foreign, write_page_checksum=False)
    assert _same(_events(foreign), _events(written))
    geometry = tmp_path / "foreign.geometry.parquet"
    layout = default_configuration(detectors.get("baikal-gvd"))
    write_configuration(layout, tmp_path / "written.geometry.parquet")
    pq.write_table(pq.read_table(tmp_path / "written.geometry.parquet"), geometry, write_page_checksum=False)
    np.testing.assert_array_equal(read_configuration(geometry).position, layout.position)
