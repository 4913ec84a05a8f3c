"""Reconstruction rows matched to truth events, and their per-hit lists checked."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graphreco.evaluate.matching import hit_values, read_reco, reco_rows
from graphreco.io import EventFormatError


def test_reconstruction_rows_are_found_by_event_id_and_a_missing_event_is_named():
    assert reco_rows(np.array([5, 3, 9]), np.array([9, 5]), "reco.parquet").tolist() == [2, 0]
    with pytest.raises(EventFormatError, match="reco.parquet.*event_id.*4"):
        reco_rows(np.array([5, 3, 9]), np.array([3, 4]), "reco.parquet")
    with pytest.raises(EventFormatError, match="event_id.*1"):
        reco_rows(np.array([], dtype=np.int64), np.array([1]), "reco.parquet")


def test_hit_lists_are_taken_in_row_order_and_a_wrong_length_names_the_event():
    column = pa.chunked_array([pa.array([[0.1, 0.2], [0.3]]), pa.array([[0.4, 0.5, 0.6]])])
    values = hit_values(column, np.array([2, 0]), np.array([3, 2]), np.array([70, 71]), "reco.parquet", "hit_score")
    np.testing.assert_allclose(values, [0.4, 0.5, 0.6, 0.1, 0.2], rtol=1e-6)
    assert values.dtype == np.float32
    assert hit_values(column, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
                      "reco.parquet", "hit_score").size == 0
    with pytest.raises(EventFormatError, match="reco.parquet.*hit_score.*event_id 71"):
        hit_values(column, np.array([2, 1]), np.array([3, 2]), np.array([70, 71]), "reco.parquet", "hit_score")


def test_a_reconstruction_without_a_requested_column_is_bad_input(tmp_path):
    # pq.ParquetFile.read alone would drop a missing column without a word
    reco = tmp_path / "reco.parquet"
    pq.write_table(pa.table({"event_id": [1, 2]}), reco)
    with pytest.raises(EventFormatError, match="reco.parquet.*no column 'hit_score'"):
        read_reco(reco, columns=["event_id", "hit_score"])
    assert read_reco(reco, columns=["event_id"]).column("event_id").to_pylist() == [1, 2]
