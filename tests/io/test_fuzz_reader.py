"""The reader against tables that hypothesis makes up: any subset of a detector's columns,
each in its contract type or a plausible wrong one, hit lists of unequal lengths, NaN,
inf, values out of range, nulls and duplicate ids, in record batches of any size.

Whatever the table, ``read_events`` either yields valid ``EventBatch`` es holding exactly
the file's values in the contract's dtypes, or raises ``EventFormatError`` naming the file.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from graphreco import detectors
from graphreco.detectors import Column
from graphreco.io import EventBatch, EventFormatError, read_events

DETECTORS = tuple(detectors.available())
EVENT_ID = Column("event_id", "int64", per_hit=False)
ARROW_TYPES = {"float32": pa.float32(), "float64": pa.float64(), "int8": pa.int8(), "int32": pa.int32(),
               "int64": pa.int64(), "uint64": pa.uint64(), "bool": pa.bool_(), "string": pa.string()}
SHAPES = (pa.list_, pa.large_list, None)
"""A column is a list, a large list or a scalar per event."""
MAX_EVENTS, MAX_HITS = 6, 4


@dataclass(frozen=True)
class Made:
    """A made-up event file: its detector, the table, its row groups' size and the batch
    size to read it in (events)."""

    detector: str
    table: pa.Table
    row_group_size: int
    batch_size: int


def _contract_type(column: Column) -> pa.DataType:
    """The Arrow type the event format gives the column."""
    value = ARROW_TYPES[column.dtype]
    return pa.list_(value) if column.per_hit else value


@st.composite
def wrong_types(draw) -> pa.DataType:
    """Any value type as a list, a large list or a scalar."""
    value, shape = draw(st.sampled_from(sorted(ARROW_TYPES))), draw(st.sampled_from(SHAPES))
    return ARROW_TYPES[value] if shape is None else shape(ARROW_TYPES[value])


def _values(value_type: pa.DataType, fault: str) -> st.SearchStrategy:
    """Values of an Arrow type: plain ones; with a ``special`` fault also NaN, inf, floats
    beyond float32 and integers at the ends of their type; with ``nullable`` also nulls."""
    special = fault == "special"
    if pa.types.is_floating(value_type):
        width = 32 if value_type == pa.float32() else 64
        extremes = [math.nan, math.inf, -math.inf] + ([1e39, -1e300] if width == 64 else [])
        values = st.floats(-1e3, 1e3, width=width) | (st.sampled_from(extremes) | st.floats(width=width)
                                                      if special else st.nothing())
    elif pa.types.is_integer(value_type):
        info = np.iinfo(value_type.to_pandas_dtype())
        values = st.integers(max(-1000, int(info.min)), min(1000, int(info.max))) | (
            st.sampled_from([int(info.min), int(info.max)]) | st.integers(int(info.min), int(info.max)) if special
            else st.nothing())
    elif pa.types.is_boolean(value_type):
        values = st.booleans()
    else:
        values = st.sampled_from(["1.5", "numu_cc", "", "nan"])
    return values | st.none() if fault == "nullable" else values


@st.composite
def arrays(draw, arrow_type: pa.DataType, sizes: list[int], fault: str) -> pa.Array:
    """One column for events of ``sizes`` hits, scalars or hit lists, with its ``fault``:
    ``special`` or ``nullable`` values (and null lists), or ``unequal`` hit lists."""
    if not (pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)):
        return pa.array(draw(st.lists(_values(arrow_type, fault), min_size=len(sizes), max_size=len(sizes))),
                        arrow_type)
    if fault == "unequal":
        sizes = draw(st.lists(st.integers(0, MAX_HITS), min_size=len(sizes), max_size=len(sizes)))
    values = _values(arrow_type.value_type, fault)
    lists = [None if fault == "nullable" and not draw(st.integers(0, 5))
             else draw(st.lists(values, min_size=size, max_size=size)) for size in sizes]
    return pa.array(lists, arrow_type)


FAULTS = ("none", "missing", "retyped", "nullable", "unequal", "special", "special")


def _can_have(column: Column, fault: str) -> bool:
    """Only required columns can be missing, only hit columns of other lengths."""
    return {"missing": column.required, "unequal": column.per_hit}.get(fault, True)


@st.composite
def event_files(draw) -> Made:
    """A table of a detector's columns (any of the optional ones) with the detector in its
    metadata and at most one kind of fault: a required column missing, one of another
    type (with special values), one with nulls, one hit column of other lengths, or one
    or two columns with special values. Small ids make duplicates."""
    detector = detectors.get(draw(st.sampled_from(DETECTORS)))
    columns = (EVENT_ID, *detector.columns)
    fault = draw(st.sampled_from(FAULTS))
    faulty = set() if fault == "none" else draw(st.sets(
        st.sampled_from([c.name for c in columns if _can_have(c, fault)]), min_size=1,
        max_size=2 if fault == "special" else 1))
    sizes = draw(st.lists(st.integers(0, MAX_HITS), min_size=1 if draw(st.integers(0, 7)) else 0,
                          max_size=MAX_EVENTS))
    table = {}
    for column in columns:
        own = fault if column.name in faulty else "none"
        if own == "missing" or not (column.required or draw(st.booleans())):
            continue
        arrow_type = draw(wrong_types()) if own == "retyped" else _contract_type(column)
        table[column.name] = draw(arrays(arrow_type, sizes, "special" if own == "retyped" else own))
    return Made(detector.name, pa.table(table).replace_schema_metadata({"detector": detector.name}),
                draw(st.integers(1, MAX_EVENTS)), draw(st.integers(1, MAX_EVENTS)))


def one_event(detector: str, **columns: pa.Array) -> Made:
    """A file of one event with one hit, valid but for the given ``columns``."""
    table = {column.name: pa.array([[0] if column.per_hit else 0], _contract_type(column))
             for column in (EVENT_ID, *detectors.get(detector).columns) if column.required}
    return Made(detector, pa.table(table | columns).replace_schema_metadata({"detector": detector}), 1, 1)


def _flat(table: pa.Table, column: Column) -> list:
    """The hit values of a column, as the reader must give them: as written, but for a
    ``per_event_offset`` column (times) stored in a wider type than its own, each less
    its event's earliest (exact: Python numbers)."""
    lists = table.column(column.name).to_pylist()
    wider = not np.can_cast(table.schema.field(column.name).type.value_type.to_pandas_dtype(), column.dtype)
    return [value - min(hits) if column.per_event_offset and wider else value for hits in lists for value in hits]


def _assert_same(read: np.ndarray, written: list, dtype: np.dtype) -> None:
    """``read`` holds the ``written`` values, converted to ``dtype`` (floats rounded to it)."""
    if dtype.kind == "f":
        np.testing.assert_array_equal(read, np.array(written, dtype=np.float64).astype(dtype))
    else:
        assert read.tolist() == written


def check_batches(batches: list[EventBatch], made: Made) -> None:
    """The batches are valid and hold the table's events, values and ids, in order."""
    table, detector = made.table, detectors.get(made.detector)
    assert sum(batch.n_events for batch in batches) == table.num_rows
    assert all(batch.detector == made.detector for batch in batches)
    for batch in batches:
        offsets = np.asarray(batch.offsets)
        assert offsets.shape == (batch.n_events + 1,) and offsets[0] == 0 and np.all(np.diff(offsets) >= 0)
        assert batch.event_id.dtype == np.int64
        assert all(values.shape == (batch.n_hits,) for values in batch.hits.values())
        assert all(values.shape == (batch.n_events,) for values in batch.events.values())
    assert np.concatenate([b.event_id for b in batches] or [[]]).tolist() == table.column("event_id").to_pylist()
    assert len(set(table.column("event_id").to_pylist())) == table.num_rows
    for column in detector.columns:
        if column.name not in table.schema.names:
            assert all(column.name not in b.hits and column.name not in b.events for b in batches)
            continue
        parts = [(b.hits if column.per_hit else b.events)[column.name] for b in batches]
        read = np.concatenate(parts) if parts else np.array([])
        if column.dtype == "string":
            assert read.tolist() == table.column(column.name).to_pylist()
            continue
        dtype = np.dtype(column.dtype)
        assert all(part.dtype == dtype for part in parts)
        if dtype.kind == "f":
            assert not np.isinf(read).any() and (not column.finite or np.isfinite(read).all())
        _assert_same(read, _flat(table, column) if column.per_hit
                     else table.column(column.name).to_pylist(), dtype)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(made=event_files())
@example(made=one_event("lhc-pf", dz=pa.array([[math.inf]], pa.list_(pa.float32()))))
@example(made=one_event("lhc-pf", dz=pa.array([[1e39]], pa.list_(pa.float64()))))
@example(made=one_event("baikal-gvd", event_id=pa.array([2**64 - 1], pa.uint64())))
def test_the_reader_validates_or_names_the_file(made):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "made.parquet"
        pq.write_table(made.table, path, row_group_size=made.row_group_size)
        try:
            batches = list(read_events(path, detector=made.detector, batch_size=made.batch_size))
        except EventFormatError as error:
            assert error.file == str(path) and str(error).startswith(str(path)) and "\n" not in str(error)
            return
    check_batches(batches, made)
