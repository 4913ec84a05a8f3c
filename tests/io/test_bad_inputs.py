"""Bad inputs end to end, through ``graphreco reconstruct``, for every detector.

A file that breaks the event format exits with code 3 and one error line naming the file,
the column and, where it applies, the first offending ``event_id``; no traceback, and no
output or temporary file is left in the output folder. Files without events and events
without hits are valid: every event is kept. A 10^5-hit event is refused with the
detector's limit where its graph and fits grow as the square of the hits (Baikal-GVD,
TA SD) and reconstructed in bounded memory and time where they do not (LHC PF).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graphreco import detectors
from graphreco.cli import EXIT_BAD_INPUT, main
from graphreco.io import event_table, write_events

from ..measured_run import measured_run
from .events import on_sensors

DETECTORS = tuple(detectors.available())
SIZES = [3, 0, 5, 2]
"""Hits of the events of a valid table: event_id 0 to 3, event_id 1 without hits."""
HUGE = 100_000
MAX_PEAK_RSS_MB = 2048
MAX_HUGE_SECONDS = 180


def required(name: str, per_hit: bool | None = None) -> list[detectors.Column]:
    """The required columns of a detector (only the per-hit or event-level ones if asked)."""
    return [c for c in detectors.get(name).columns if c.required and per_hit in (None, c.per_hit)]


def _values(column: detectors.Column, rng: np.random.Generator, size: int) -> np.ndarray:
    """Plausible values of a column: floats within +-3 (and the column's bounds), integers
    -1 to 1 per hit, 1 to 99 per event."""
    if np.dtype(column.dtype).kind == "f":
        low, high = column.bounds or (-3.0, 3.0)
        return rng.uniform(max(low, -3.0), min(high, 3.0), size).astype(column.dtype)
    low, high = (-1, 2) if column.per_hit else (1, 100)
    return rng.integers(low, high, size).astype(column.dtype)


def valid_table(name: str, sizes: list[int] = SIZES, seed: int = 0) -> pa.Table:
    """A valid table of the detector's required columns, events of the given hit counts."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    hits = {c.name: _values(c, rng, int(offsets[-1])) for c in required(name, per_hit=True)}
    hits |= on_sensors(name, rng, int(offsets[-1]))
    events = {c.name: _values(c, rng, len(sizes)) for c in required(name, per_hit=False)}
    return event_table(np.arange(len(sizes)), offsets, hits, events, detector=name)


def replaced(table: pa.Table, name: str, column: pa.Array) -> pa.Table:
    """``table`` with column ``name`` replaced, in its place."""
    return table.set_column(table.schema.get_field_index(name), name, column)


def with_hit_value(table: pa.Table, name: str, hit: int, value) -> pa.Table:
    """``table`` with hit number ``hit`` (counted over the file) of column ``name`` set to ``value``."""
    column = table.column(name).combine_chunks()
    values = column.values.to_pylist()
    values[hit] = value
    return replaced(table, name, pa.ListArray.from_arrays(column.offsets, pa.array(values, column.type.value_type)))


def reconstruct(source: Path, out: Path, detector: str, capsys, *options: str) -> tuple[int, str]:
    """Exit code and stderr of ``graphreco reconstruct SOURCE -o OUT --detector DETECTOR``."""
    code = main(["reconstruct", str(source), "-o", str(out), "--detector", detector, *options])
    return code, capsys.readouterr().err


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path]:
    """An input file path and an output file path in a folder of its own."""
    (tmp_path / "in").mkdir()
    return tmp_path / "in" / "events.parquet", tmp_path / "out" / "reco.parquet"


def assert_refused(code: int, error: str, source: Path, out: Path, column: str | None = None,
                   event_id: int | None = None, words: str = "") -> None:
    """Exit 3, one error line naming the file (and the column and event), nothing left behind."""
    assert code == EXIT_BAD_INPUT, error
    assert "Traceback" not in error and all(line.startswith("graphreco: ") for line in error.splitlines())
    lines = [line for line in error.splitlines() if line.startswith("graphreco: error: ")]
    assert len(lines) == 1, error
    assert lines[0].startswith(f"graphreco: error: {source}") and words in lines[0]
    if column is not None:
        assert f"column {column!r}" in lines[0]
    assert (", event_id " in lines[0]) == (event_id is not None)
    if event_id is not None:
        assert f", event_id {event_id}:" in lines[0]
    assert not out.parent.exists() or not any(out.parent.iterdir())  # no output, no .reco.parquet.*.tmp


def refused_table(folders, capsys, detector: str, table: pa.Table, column: str | None, event_id: int | None,
                  words: str = "", *options: str) -> None:
    source, out = folders
    write_events(source, table, detector)
    assert_refused(*reconstruct(source, out, detector, capsys, *options), source, out, column, event_id, words)


# --- columns: missing, wrong types, unequal lists -------------------------------------------


@pytest.mark.parametrize("detector, column", [(d, c.name) for d in DETECTORS for c in required(d)]
                         + [(d, "event_id") for d in DETECTORS])
def test_missing_column(folders, capsys, detector, column):
    refused_table(folders, capsys, detector, valid_table(detector).drop_columns([column]), column, None, "missing")


def _text(column: pa.ChunkedArray) -> pa.Array:
    """The same values (or hit lists) as strings."""
    array = column.combine_chunks()
    if pa.types.is_list(array.type):
        return pa.ListArray.from_arrays(array.offsets, array.values.cast(pa.string()))
    return array.cast(pa.string())


def _flipped(column: pa.ChunkedArray) -> pa.Array:
    """Hit lists as one scalar per event, scalars as one-hit lists."""
    array = column.combine_chunks()
    if pa.types.is_list(array.type):
        return pa.array(np.zeros(len(array), dtype=array.type.value_type.to_pandas_dtype()))
    return pa.ListArray.from_arrays(pa.array(np.arange(len(array) + 1, dtype=np.int32)), array)


def _as_float(column: pa.ChunkedArray) -> pa.Array:
    """The same integers (or hit lists of them) as floats."""
    return column.combine_chunks().cast(pa.list_(pa.float32()) if pa.types.is_list(column.type) else pa.float64())


WRONG_TYPES: dict[str, Callable[[pa.ChunkedArray], pa.Array]] = {
    "text": _text, "list and scalar swapped": _flipped, "float for int": _as_float}


def _wrong_types(detector: str) -> list[tuple[str, str, str]]:
    """(detector, column, wrong type) for every required column and ``event_id``; floats
    only for the integer columns."""
    columns = [(c.name, c.dtype) for c in required(detector)] + [("event_id", "int64")]
    return [(detector, name, wrong) for name, dtype in columns for wrong in WRONG_TYPES
            if wrong != "float for int" or np.dtype(dtype).kind == "i"]


@pytest.mark.parametrize("detector, column, wrong", [case for d in DETECTORS for case in _wrong_types(d)])
def test_wrong_dtype(folders, capsys, detector, column, wrong):
    table = valid_table(detector)
    refused_table(folders, capsys, detector, replaced(table, column, WRONG_TYPES[wrong](table.column(column))),
                  column, None, "expected")


@pytest.mark.parametrize("detector", DETECTORS)
def test_unequal_hit_lists(folders, capsys, detector):
    table = valid_table(detector)
    name = required(detector, per_hit=True)[-1].name
    column = table.column(name).combine_chunks()
    offsets = column.offsets.to_numpy().copy()
    offsets[3:] -= 1  # event_id 2 has one hit fewer in this column than in the others
    shorter = pa.ListArray.from_arrays(pa.array(offsets), column.values.slice(0, len(column.values) - 1))
    refused_table(folders, capsys, detector, replaced(table, name, shorter), name, 2, "hit list length differs")


# --- values: NaN and inf, nulls, duplicate ids -----------------------------------------------


FINITE = [(d, c.name) for d in DETECTORS for c in detectors.get(d).columns if c.finite]


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("detector, column", FINITE)
def test_non_finite_hit_values(folders, capsys, detector, column, value):
    table = with_hit_value(valid_table(detector), column, 4, value)  # the second hit of event_id 2
    refused_table(folders, capsys, detector, table, column, 2, "not finite")


def test_nan_dz_of_neutrals_is_valid_but_not_inf(folders, capsys):
    source, out = folders
    write_events(source, with_hit_value(valid_table("lhc-pf"), "dz", 0, np.nan), "lhc-pf")
    assert reconstruct(source, out, "lhc-pf", capsys)[0] == 0
    out.unlink()
    refused_table(folders, capsys, "lhc-pf", with_hit_value(valid_table("lhc-pf"), "dz", 7, np.inf), "dz", 2,
                  "not finite")


@pytest.mark.parametrize("detector", DETECTORS)
def test_values_too_large_for_float32(folders, capsys, detector):
    name = required(detector, per_hit=True)[0].name
    table = valid_table(detector)
    table = replaced(table, name, table.column(name).cast(pa.list_(pa.float64())))
    refused_table(folders, capsys, detector, with_hit_value(table, name, 5, 1e300), name, 2, "float32")


@pytest.mark.parametrize("detector", DETECTORS)
def test_null_hit_list_and_null_hit(folders, capsys, detector):
    name = required(detector, per_hit=True)[1].name
    table = valid_table(detector)
    column = table.column(name).combine_chunks()
    nulled = pa.ListArray.from_arrays(column.offsets, column.values, mask=pa.array([False, False, True, False]))
    refused_table(folders, capsys, detector, replaced(table, name, nulled), name, 2, "null")
    refused_table(folders, capsys, detector, with_hit_value(table, name, 9, None), name, 3, "null")


@pytest.mark.parametrize("detector", DETECTORS)
def test_duplicate_event_ids(folders, capsys, detector):
    table = replaced(valid_table(detector), "event_id", pa.array([10, 11, 12, 11], pa.int64()))
    refused_table(folders, capsys, detector, table, "event_id", 11, "duplicate")


@pytest.mark.parametrize("detector", DETECTORS)
def test_event_ids_beyond_int64(folders, capsys, detector):
    table = replaced(valid_table(detector), "event_id", pa.array([1, 2, 2**63, 2**64 - 1], pa.uint64()))
    refused_table(folders, capsys, detector, table, "event_id", None, f"value {2**63} does not fit int64")


@pytest.mark.parametrize("detector", DETECTORS)
def test_a_bad_event_in_a_later_batch_leaves_no_temporary_file(folders, capsys, detector):
    name = required(detector, per_hit=True)[0].name
    table = with_hit_value(valid_table(detector), name, 9, np.nan)  # event_id 3, in the second batch
    refused_table(folders, capsys, detector, table, name, 3, "not finite", "--batch-size", "2", "--workers", "1")


# --- values beyond their physical range, duplicate hits (issue 23, items 12 and 7) --------------


def _beyond(column: detectors.Column) -> list:
    """Values beyond the column's bounds on either side: absurd floats, integers one past."""
    low, high = column.bounds
    return [1e30, -1e30] if np.dtype(column.dtype).kind == "f" else [high + 1, low - 1]


BOUNDED = [(d, c.name, value) for d in DETECTORS for c in required(d) if c.bounds for value in _beyond(c)]


@pytest.mark.parametrize("detector, column, value", BOUNDED)
def test_a_value_beyond_its_physical_range_is_refused(folders, capsys, detector, column, value):
    """A hit at x = 1e30 gave NaN scores beside a finite zenith; a time 1e30 ns after the
    event's first hit, or a charge of 1e30 p.e., went through as well."""
    table = with_hit_value(valid_table(detector), column, 4, value)  # the second hit of event_id 2
    refused_table(folders, capsys, detector, table, column, 2, "outside the physical range")


@pytest.mark.parametrize("column", ["x", "y", "z"])
@pytest.mark.parametrize("detector", [d for d in DETECTORS if detectors.get(d).default_configuration])
def test_a_position_far_off_the_detector_is_refused_naming_the_column(folders, capsys, detector, column):
    table = with_hit_value(valid_table(detector), column, 4, 1e30)
    refused_table(folders, capsys, detector, table, column, 2, f"{column} lies outside")


def with_hit_copied(table: pa.Table, source: int, target: int, names: list[str]) -> pa.Table:
    """``table`` with hit ``target`` given hit ``source``'s values in the columns ``names``."""
    for name in names:
        table = with_hit_value(table, name, target, table.column(name).combine_chunks().values[source].as_py())
    return table


WITH_SENSORS = [d for d in DETECTORS if detectors.get(d).default_configuration]


@pytest.mark.parametrize("detector", WITH_SENSORS)
def test_two_hits_on_one_sensor_at_one_time_are_refused(folders, capsys, detector):
    """Copies of one hit are no measurement: 60 of them were scored signal with certainty."""
    table = with_hit_copied(valid_table(detector), 4, 6, ["x", "y", "z", "t"])  # two hits of event_id 2
    refused_table(folders, capsys, detector, table, "t", 2, "duplicate hit")


@pytest.mark.parametrize("detector", WITH_SENSORS)
def test_hits_on_one_sensor_at_other_times_are_valid(folders, capsys, detector):
    source, out = folders
    write_events(source, with_hit_copied(valid_table(detector), 4, 6, ["x", "y", "z"]), detector)
    assert reconstruct(source, out, detector, capsys)[0] == 0


def test_identical_lhc_candidates_are_valid(folders, capsys):
    """A crossing has no sensors, and NanoAOD stores candidates with shortened mantissas, so
    two distinct particles can be written identically: they are kept."""
    source, out = folders
    names = [c.name for c in required("lhc-pf", per_hit=True)]
    write_events(source, with_hit_copied(valid_table("lhc-pf"), 4, 6, names), "lhc-pf")
    assert reconstruct(source, out, "lhc-pf", capsys)[0] == 0


# --- files: damaged, of another detector ----------------------------------------------------


def _corrupt_middle(data: bytes) -> bytes:
    """Header and footer intact, the column chunks in between overwritten."""
    middle = len(data) // 2
    return data[:8] + bytes(range(256)) * ((middle - 8) // 256) + data[8 + 256 * ((middle - 8) // 256):]


DAMAGES: dict[str, Callable[[bytes], bytes]] = {
    "zero bytes": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "truncated footer": lambda data: data[:-12],
    "not parquet": lambda data: b"event_id,x\n1,2\n",
    "zeroed data pages": lambda data: data[:4] + bytes(len(data) - 2000 - 4) + data[-2000:],
    "overwritten data pages": _corrupt_middle,
}


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("detector", DETECTORS)
def test_damaged_parquet(folders, capsys, detector, damage):
    source, out = folders
    write_events(source, valid_table(detector, [40] * 50), detector)
    source.write_bytes(DAMAGES[damage](source.read_bytes()))
    assert_refused(*reconstruct(source, out, detector, capsys), source, out)


@pytest.mark.parametrize("written, read", [(w, r) for w in DETECTORS for r in DETECTORS if w != r])
def test_a_file_of_another_detector(folders, capsys, written, read):
    source, out = folders
    table = valid_table(written)
    write_events(source, table, written)
    missing = next(c.name for c in required(read) if c.name not in table.schema.names)
    assert_refused(*reconstruct(source, out, read, capsys), source, out, missing, None,
                   f"required column of {read} is missing (the file declares detector {written!r})")


def test_a_file_read_as_another_detector_than_it_declares_is_warned_about(folders, capsys):
    """The format lets ``--detector`` override the file's ``detector`` key: allowed, but
    said. A TA SD file with an extra ``charge`` column read as Baikal-GVD went through
    without a word; its counters are off every Baikal-GVD module, which refuses it."""
    source, out = folders
    write_events(source, valid_table("baikal-gvd"), "ta-sd")
    code, error = reconstruct(source, out, "baikal-gvd", capsys)
    assert code == 0, error
    warned = [line for line in error.splitlines() if line.startswith("graphreco: warning: ")]
    assert warned == [f"graphreco: warning: {source}: its schema metadata declares detector 'ta-sd'; read as "
                      "'baikal-gvd', the detector given, which overrides it"]
    out.unlink()
    table = valid_table("ta-sd")
    table = table.append_column("charge", table.column("signal_upper"))
    write_events(source, table, "ta-sd")
    code, error = reconstruct(source, out, "baikal-gvd", capsys)
    assert code == EXIT_BAD_INPUT and "graphreco: warning: " in error and "not within 1 m of a live sensor" in error


def test_undecodable_detector_metadata(folders, capsys):
    source, out = folders
    pq.write_table(valid_table("ta-sd").replace_schema_metadata({b"detector": b"\xff\xfe"}), source)
    code, error = reconstruct(source, out, "ta-sd", capsys)
    assert code == 0 or (code == EXIT_BAD_INPUT and f"graphreco: error: {source}" in error), error


# --- valid edge cases: no events, events without hits -----------------------------------------


@pytest.mark.parametrize("detector", DETECTORS)
def test_a_file_without_events_gives_an_output_without_events(folders, capsys, detector):
    source, out = folders
    write_events(source, valid_table(detector, []), detector)
    code, error = reconstruct(source, out, detector, capsys)
    assert code == 0, error
    assert pq.read_table(out).num_rows == 0


@pytest.mark.parametrize("sizes", [[0, 0], SIZES], ids=["only empty events", "one empty event"])
@pytest.mark.parametrize("detector", DETECTORS)
def test_events_without_hits_are_kept_with_empty_or_nan_outputs(folders, capsys, detector, sizes):
    source, out = folders
    write_events(source, valid_table(detector, sizes), detector)
    code, error = reconstruct(source, out, detector, capsys)
    assert code == 0, error
    output = pq.read_table(out)
    assert output.column("event_id").to_pylist() == list(range(len(sizes)))
    empty = [event for event, size in enumerate(sizes) if size == 0]
    for name in output.schema.names[1:]:
        values = output.column(name).to_pylist()
        if pa.types.is_list(output.schema.field(name).type):
            assert [len(v) for v in values] == sizes
        else:  # every estimate and score, event_score and reco_p_* too
            assert all(np.isnan(values[event]) for event in empty), name


# --- a 10^5-hit event -------------------------------------------------------------------------


def limit(detector: str) -> int:
    """The most hits an event of the detector may hold."""
    return detectors.get(detector).max_hits_per_event


@pytest.mark.parametrize("detector, hits", [(d, n) for d in DETECTORS for n in sorted({limit(d) + 1, HUGE})
                                            if n > limit(d)])
def test_an_event_beyond_the_detector_limit_is_refused(folders, capsys, detector, hits):
    refused_table(folders, capsys, detector, valid_table(detector, [3, hits, 2]), required(detector, True)[0].name, 1,
                  f"{hits:,} hits in one event, more than the {limit(detector):,} a {detector} event may hold")


def test_a_huge_lhc_crossing_is_reconstructed_in_bounded_memory_and_time(folders):
    """In a process of its own, so that its peak memory is measured alone."""
    assert limit("lhc-pf") >= HUGE
    source, out = folders
    write_events(source, valid_table("lhc-pf", [3, HUGE, 2]), "lhc-pf")
    run = measured_run(["reconstruct", str(source), "-o", str(out), "--detector", "lhc-pf", "--workers", "1"],
                       timeout=2 * MAX_HUGE_SECONDS)
    assert run.code == 0, run.stderr
    assert run.peak_gb * 1024 < MAX_PEAK_RSS_MB and run.seconds < MAX_HUGE_SECONDS, run
    assert [len(scores) for scores in pq.read_table(out).column("hit_score").to_pylist()] == [3, HUGE, 2]
