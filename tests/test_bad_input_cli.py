"""Bad inputs through ``graphreco reconstruct``: each a one-line error naming the file, the
column and the event, exit code 3, no traceback, and no output or temporary file left;
valid edge cases (empty files, empty events, the largest events) are reconstructed."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graphreco.cli import EXIT_BAD_INPUT, main
from graphreco.detectors.ta_sd.simulation import simulate_events
from graphreco.io import event_table, hit_list, write_events


@pytest.fixture(scope="module")
def showers(tmp_path_factory) -> pa.Table:
    """Twenty air showers in the event format."""
    simulated = simulate_events(20, seed=51)
    return event_table(**vars(simulated))


def _with_hits(table: pa.Table, name: str, values: np.ndarray, offsets: np.ndarray | None = None) -> pa.Table:
    """``table`` with the per-hit column ``name`` replaced (by default on the same offsets)."""
    column = table.column(name).combine_chunks()
    offsets = column.offsets.to_numpy() if offsets is None else offsets
    return table.set_column(table.schema.get_field_index(name), name, hit_list(offsets, values))


def _flat(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).combine_chunks().values.to_numpy().copy()


def _nan_in_t(table):
    t = _flat(table, "t")
    t[table.column("t").combine_chunks().offsets.to_numpy()[4] + 1] = np.nan  # event 4, its second counter
    return _with_hits(table, "t", t)


def _inf_in_signal(table):
    signal = _flat(table, "signal_upper")
    signal[table.column("signal_upper").combine_chunks().offsets.to_numpy()[7]] = np.inf
    return _with_hits(table, "signal_upper", signal)


def _shorter_signal_list(table):
    offsets = table.column("signal_lower").combine_chunks().offsets.to_numpy().copy()
    values = _flat(table, "signal_lower")
    drop = offsets[3]  # event 3 loses its first counter's signal
    offsets[4:] -= 1
    return _with_hits(table, "signal_lower", np.delete(values, drop), offsets)


def _duplicate_id(table):
    ids = table.column("event_id").to_numpy().copy()
    ids[9] = ids[2]
    return table.set_column(0, "event_id", pa.array(ids))


def _string_times(table):
    t = table.column("t").combine_chunks()
    strings = pa.ListArray.from_arrays(t.offsets, pa.array([str(v) for v in t.values.to_numpy()]))
    return table.set_column(table.schema.get_field_index("t"), "t", strings)


def _huge_event(table):
    """Event 5 made of 100,000 counters (an array has 507)."""
    sizes = np.diff(table.column("x").combine_chunks().offsets.to_numpy())
    sizes[5] = 100_000
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    rng = np.random.default_rng(0)
    for name in ("x", "y", "z", "t", "signal_upper", "signal_lower"):
        table = _with_hits(table, name, rng.uniform(1, 100, offsets[-1]).astype(np.float32), offsets)
    return table.drop_columns(["true_label", "channel"])


CASES = {  # name: (make the bad table, column named, event index named or None, words of the message)
    "nan": (_nan_in_t, "t", 4, "not finite"),
    "inf": (_inf_in_signal, "signal_upper", 7, "not finite"),
    "unequal hit lists": (_shorter_signal_list, "signal_lower", 3, "hit list length differs"),
    "duplicate ids": (_duplicate_id, "event_id", 2, "duplicate event_id"),  # the repeated id: that of event 2
    "wrong dtype": (_string_times, "t", None, ""),
    "missing column": (lambda table: table.drop_columns(["signal_lower"]), "signal_lower", None, "missing"),
    "huge event": (_huge_event, "x", 5, "100,000 hits in one event, more than the 507"),
}


def _reconstruct(source, out, capsys) -> tuple[int, str]:
    code = main(["reconstruct", "--detector", "ta-sd", str(source), "-o", str(out), "--workers", "1"])
    return code, capsys.readouterr().err


def _assert_refused(code: int, error: str, source, out) -> None:
    assert code == EXIT_BAD_INPUT and "Traceback" not in error
    assert f"graphreco: error: {source}" in error
    assert not list(out.parent.glob("*.parquet*")) and not list(out.parent.glob(".*tmp"))


@pytest.mark.parametrize("case", CASES)
def test_contract_violations_are_named_and_leave_nothing(showers, tmp_path, capsys, case):
    make, column, event, words = CASES[case]
    table = make(showers)
    source = tmp_path / "in" / "bad.parquet"
    source.parent.mkdir()
    write_events(source, table, "ta-sd")
    out = tmp_path / "out" / "reco.parquet"
    out.parent.mkdir()
    code, error = _reconstruct(source, out, capsys)
    _assert_refused(code, error, source, out)
    assert f"column '{column}'" in error and words in error
    if event is not None:
        assert f"event_id {showers.column('event_id')[event].as_py()}" in error


@pytest.mark.parametrize("damage", ["truncated", "corrupted", "empty bytes"])
def test_damaged_files_are_named(showers, tmp_path, capsys, damage):
    good = tmp_path / "in" / "good.parquet"
    good.parent.mkdir()
    write_events(good, showers, "ta-sd")
    data = good.read_bytes()
    source = tmp_path / "in" / "damaged.parquet"
    if damage == "truncated":
        source.write_bytes(data[: len(data) // 2])
    elif damage == "corrupted":  # the footer intact, the column chunks overwritten
        source.write_bytes(data[:4] + bytes(range(256)) * ((len(data) - 4 - 2000) // 256 + 1))
        source.write_bytes(source.read_bytes()[: len(data) - 2000] + data[-2000:])
    else:
        source.write_bytes(b"")
    out = tmp_path / "out" / "reco.parquet"
    out.parent.mkdir()
    code, error = _reconstruct(source, out, capsys)
    _assert_refused(code, error, source, out)


def test_a_file_of_another_detector_is_named(tmp_path, capsys):
    from graphreco.detectors.baikal_gvd.simulation import simulate_events as simulate_baikal

    source = tmp_path / "in" / "baikal.parquet"
    source.parent.mkdir()
    write_events(source, event_table(**vars(simulate_baikal(20, seed=3))), "baikal-gvd")
    out = tmp_path / "out" / "reco.parquet"
    out.parent.mkdir()
    code, error = _reconstruct(source, out, capsys)
    _assert_refused(code, error, source, out)
    assert "baikal-gvd" in error


def test_empty_events_and_files_keep_every_event(showers, tmp_path, capsys):
    sizes = np.diff(showers.column("x").combine_chunks().offsets.to_numpy())
    keep = np.repeat(np.arange(sizes.size) != 6, sizes)  # event 6 loses all its counters
    offsets = np.concatenate([[0], np.cumsum(np.where(np.arange(sizes.size) == 6, 0, sizes))])
    table = showers
    for name in ("x", "y", "z", "t", "signal_upper", "signal_lower", "true_label", "channel"):
        table = _with_hits(table, name, _flat(showers, name)[keep], offsets)
    source = tmp_path / "one_empty_event.parquet"
    write_events(source, table, "ta-sd")
    code, _ = _reconstruct(source, tmp_path / "reco.parquet", capsys)
    output = pq.read_table(tmp_path / "reco.parquet")
    assert code == 0 and output.num_rows == 20
    assert len(output.column("hit_score")[6]) == 0 and np.isnan(output.column("reco_log10_energy")[6].as_py())
    empty = tmp_path / "empty.parquet"
    write_events(empty, showers.slice(0, 0), "ta-sd")
    code, _ = _reconstruct(empty, tmp_path / "empty_reco.parquet", capsys)
    assert code == 0 and pq.read_table(tmp_path / "empty_reco.parquet").num_rows == 0


def test_a_crossing_of_100000_candidates_is_reconstructed(tmp_path, capsys):
    """An LHC crossing of 10^5 candidates, the limit, is reconstructed within memory."""
    rng = np.random.default_rng(5)
    sizes = np.array([100_000, 3])
    n, offsets = int(sizes.sum()), np.concatenate([[0], np.cumsum(sizes)])
    charge = rng.integers(-1, 2, n).astype(np.int8)
    hits = {"pt": rng.uniform(0.5, 10, n).astype(np.float32), "eta": rng.uniform(-4, 4, n).astype(np.float32),
            "phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32), "energy": rng.uniform(1, 20, n).astype(np.float32),
            "charge": charge, "pdg_id": np.where(charge == 0, 22, 211).astype(np.int32),
            "dz": np.where(charge == 0, np.nan, rng.normal(0, 1, n)).astype(np.float32),
            "pv_assoc": np.where(charge == 0, 0, 1).astype(np.int8)}
    source = tmp_path / "crossing.parquet"
    write_events(source, event_table(np.arange(2), offsets, hits, {"npv": np.full(2, 50, np.int32)}), "lhc-pf")
    code = main(["reconstruct", "--detector", "lhc-pf", str(source), "-o", str(tmp_path / "reco.parquet"),
                 "--workers", "1"])
    capsys.readouterr()
    assert code == 0 and len(pq.read_table(tmp_path / "reco.parquet").column("hit_score")[0]) == 100_000
