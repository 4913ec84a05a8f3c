import pyarrow.parquet as pq
import pytest

from graphreco.io import EventWriter, read_events

from .events import baikal_table


def test_file_appears_only_when_complete(tmp_path):
    path = tmp_path / "out.parquet"
    with EventWriter(path, "baikal-gvd") as writer:
        writer.write(baikal_table([1, 2]))
        assert not path.exists()
        writer.write(baikal_table([3], first_id=2))
    assert pq.read_metadata(path).num_rows == 3
    assert pq.read_schema(path).metadata[b"detector"] == b"baikal-gvd"
    assert sum(b.n_events for b in read_events(path)) == 3
    assert list(tmp_path.iterdir()) == [path]


def test_failure_leaves_no_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError):
        with EventWriter(path, "baikal-gvd") as writer:
            writer.write(baikal_table([1, 2]))
            raise RuntimeError("crash mid-way")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_is_replaced_atomically(tmp_path):
    path = tmp_path / "out.parquet"
    with EventWriter(path, "baikal-gvd") as writer:
        writer.write(baikal_table([1]))
    with pytest.raises(RuntimeError):
        with EventWriter(path, "baikal-gvd") as writer:
            writer.write(baikal_table([1, 1, 1]))
            raise RuntimeError("crash")
    assert pq.read_metadata(path).num_rows == 1
