import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graphreco.io import EventBatch, EventFormatError, read_events, write_events

from .events import baikal_table, replace_column


def write(path, table, detector="baikal-gvd"):
    write_events(path, table, detector)
    return path


def test_round_trip_in_bounded_batches(tmp_path):
    table = baikal_table([3, 0, 5, 1, 2])
    path = write(tmp_path / "a.parquet", table)
    batches = list(read_events(path, batch_size=2))
    assert [b.n_events for b in batches] == [2, 2, 1]
    assert np.concatenate([b.event_id for b in batches]).tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(batches[1].offsets, [0, 5, 6])
    np.testing.assert_array_equal(np.concatenate([b.hits["t"] for b in batches]),
                                  table.column("t").combine_chunks().values.to_numpy())
    assert batches[0].hits["x"].dtype == np.float32 and batches[0].events["true_energy"].dtype == np.float64


def test_empty_events_flow_through(tmp_path):
    batch = next(read_events(write(tmp_path / "e.parquet", baikal_table([0, 0]))))
    assert batch.n_events == 2 and batch.n_hits == 0


def test_directories_and_globs_expand_in_order(tmp_path):
    write(tmp_path / "b.parquet", baikal_table([1], first_id=10))
    write(tmp_path / "a.parquet", baikal_table([1], first_id=20))
    ids = [int(b.event_id[0]) for b in read_events(tmp_path)]
    assert ids == [20, 10]
    assert [int(b.event_id[0]) for b in read_events(str(tmp_path / "b*.parquet"))] == [10]
    with pytest.raises(FileNotFoundError, match="no event files"):
        list(read_events(tmp_path / "missing*.parquet"))


def test_hit_values_convert_to_contract_dtypes(tmp_path):
    table = baikal_table([2, 1])
    as_double = pa.ListArray.from_arrays(pa.array([0, 2, 3], pa.int32()), pa.array([1.0, 2.0, 3.0]))
    batch = next(read_events(write(tmp_path / "d.parquet", replace_column(table, "t", as_double))))
    assert batch.hits["t"].dtype == np.float32


@pytest.mark.parametrize("mutate, column, event_id, message", [
    (lambda t: t.drop_columns(["charge"]), "charge", None, "required column"),
    (lambda t: replace_column(t, "x", pa.array(["a", "b", "c"])), "x", None, "expected list<float32>"),
    (lambda t: replace_column(t, "z", pa.ListArray.from_arrays(pa.array([0, 2, 2, 3], pa.int32()),
                                                               pa.array([0.0, 1.0, 2.0], pa.float32()))),
     "z", 1, "length differs"),
    (lambda t: replace_column(t, "t", pa.ListArray.from_arrays(pa.array([0, 2, 3, 4], pa.int32()),
                                                               pa.array([0, 1, np.nan, 3], pa.float32()))),
     "t", 1, "not finite"),
    (lambda t: replace_column(t, "event_id", pa.array([5, 6, 5], pa.int64())), "event_id", 5, "duplicate"),
    (lambda t: replace_column(t, "charge", pa.ListArray.from_arrays(pa.array([0, 2, 3, 4], pa.int32()),
                                                                    pa.array([1, 1, None, 1], pa.float32()))),
     "charge", 1, "null"),
])
def test_contract_violations_name_file_column_and_event(tmp_path, mutate, column, event_id, message):
    path = write(tmp_path / "bad.parquet", mutate(baikal_table([2, 1, 1])))
    with pytest.raises(EventFormatError, match=message) as caught:
        list(read_events(path))
    assert caught.value.file == str(path) and caught.value.column == column
    assert caught.value.event_id == event_id
    assert str(path) in str(caught.value)


def test_duplicate_ids_across_batches_are_found(tmp_path):
    table = pa.concat_tables([baikal_table([1, 1]), baikal_table([1], first_id=1)])
    with pytest.raises(EventFormatError, match="duplicate") as caught:
        list(read_events(write(tmp_path / "dup.parquet", table), batch_size=2))
    assert caught.value.event_id == 1


def test_unknown_missing_and_overridden_detector(tmp_path):
    table = baikal_table([1])
    pq.write_table(table.replace_schema_metadata({}), tmp_path / "plain.parquet")
    with pytest.raises(EventFormatError, match="no detector named"):
        list(read_events(tmp_path / "plain.parquet"))
    assert next(read_events(tmp_path / "plain.parquet", detector="baikal-gvd")).detector == "baikal-gvd"
    with pytest.raises(EventFormatError, match="unknown detector 'icecube'"):
        list(read_events(tmp_path / "plain.parquet", detector="icecube"))
    with pytest.raises(EventFormatError, match="declares detector 'baikal-gvd'") as caught:
        list(read_events(write(tmp_path / "b.parquet", table), detector="ta-sd"))
    assert caught.value.column == "signal_upper"


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_unreadable_files_are_reported_not_raised_from_deep_inside(tmp_path, damage):
    path = write(tmp_path / "f.parquet", baikal_table([40] * 50))
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": b"PAR1" + bytes(200)}[damage])
    with pytest.raises(EventFormatError, match="f.parquet"):
        list(read_events(path))


def test_integer_columns_out_of_range_are_rejected(tmp_path):
    table = baikal_table([2])
    channel = pa.ListArray.from_arrays(pa.array([0, 2], pa.int32()), pa.array([1, 2**40], pa.int64()))
    with pytest.raises(EventFormatError, match="does not fit int32"):
        list(read_events(write(tmp_path / "c.parquet", table.append_column("channel", channel))))


def test_columns_limit_what_is_read_beyond_the_contract(tmp_path):
    table = baikal_table([2]).append_column("run", pa.array([7]))
    batch = next(read_events(write(tmp_path / "r.parquet", table), columns=[]))
    assert "run" not in batch.record_batch.schema.names and "x" in batch.hits


def test_with_hits_keeps_the_events_and_subsets_their_hits():
    batch = EventBatch("baikal-gvd", "f", np.array([1, 2, 3]), np.array([0, 2, 2, 5]),
                       {"t": np.arange(5.0)}, {}, None)
    subset = batch.with_hits(np.array([True, False, True, True, False]))
    assert subset.n_events == 3 and subset.offsets.tolist() == [0, 1, 1, 3]
    assert subset.hits["t"].tolist() == [0.0, 2.0, 3.0]


def test_slice_takes_events_with_their_hits():
    table = pa.table({"event_id": [7, 8, 9], "t": [[1.0], [2.0, 3.0], [4.0]]})
    batch = EventBatch("baikal-gvd", "f", np.array([7, 8, 9]), np.array([0, 1, 3, 4]), {"t": np.arange(1.0, 5.0)},
                       {"true_energy": np.array([1.0, 2.0, 3.0])}, table.to_batches()[0])
    part = batch.slice(1, 3)
    assert part.event_id.tolist() == [8, 9] and part.offsets.tolist() == [0, 2, 3]
    assert part.hits["t"].tolist() == [2.0, 3.0, 4.0] and part.events["true_energy"].tolist() == [2.0, 3.0]
    assert part.record_batch.column(0).to_pylist() == [8, 9]



@pytest.mark.parametrize("n_sensors", [4032, 2**31], ids=["one key range", "events in chunks of two"])
def test_duplicate_hits_are_found_in_their_event_only(n_sensors):
    """Two hits of one event on one sensor at one time (-0.0 and 0.0 are one time) are
    refused, naming the event; the same sensor and time in two events is valid."""
    from graphreco import detectors
    from graphreco.io.validate import refuse_duplicate_hits

    baikal = detectors.get("baikal-gvd")
    offsets = np.array([0, 2, 2, 4, 7, 9])
    sensors = np.array([1, 2, 1, 2, 1, 2, 1, 1, 3])  # events 0, 2, 3 and 4 all hit sensor 1 at 0 ns
    t = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 4.0, -0.0, 0.0, 2.0], dtype=np.float32)
    batch = EventBatch("baikal-gvd", "f.parquet", np.arange(10, 15), offsets, {"t": t}, {}, pa.record_batch([]))
    with pytest.raises(EventFormatError, match="duplicate hit") as caught:  # hits 4 and 6, of event_id 13
        refuse_duplicate_hits(batch, baikal, sensors, n_sensors)
    assert caught.value.event_id == 13 and caught.value.column == "t"
    t[6] = 0.5
    refuse_duplicate_hits(batch, baikal, sensors, n_sensors)
