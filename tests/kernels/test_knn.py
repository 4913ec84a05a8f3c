import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphreco.kernels import knn_graph, radius_graph

from . import reference
from .strategies import event_sizes, offsets_of, points


@settings(max_examples=60, deadline=None)
@given(data=st.data(), k=st.integers(1, 9), n_features=st.integers(1, 4), tree=st.booleans())
def test_knn_matches_reference(data, k, n_features, tree):
    offsets = offsets_of(data.draw(event_sizes()))
    coords = data.draw(points(int(offsets[-1]), n_features))
    weights = data.draw(st.none() | st.just(np.linspace(0.5, 2.0, n_features)))
    edges = knn_graph(offsets, coords, k, weights, tree_min_hits=2 if tree else 256)
    expected = reference.neighbours(offsets, reference.euclidean(coords, weights), k)
    np.testing.assert_array_equal(edges, expected)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), max_n=st.integers(1, 12), r=st.floats(0.5, 8.0), tree=st.booleans())
def test_radius_matches_reference(data, max_n, r, tree):
    offsets = offsets_of(data.draw(event_sizes()))
    coords = data.draw(points(int(offsets[-1]), 3))
    edges = radius_graph(offsets, coords, r, max_n, tree_min_hits=2 if tree else 256)
    expected = reference.neighbours(offsets, reference.euclidean(coords), max_n, r)
    np.testing.assert_array_equal(edges, expected)


def test_large_event_uses_tree_and_agrees():
    rng = np.random.default_rng(1)
    offsets = np.array([0, 700, 1500])
    coords = rng.normal(size=(1500, 4)).astype(np.float32)
    edges = knn_graph(offsets, coords, 8)
    np.testing.assert_array_equal(edges, knn_graph(offsets, coords, 8, tree_min_hits=10**9))
    assert edges.shape == (2, 1500 * 8)


def test_small_events_get_fewer_neighbours():
    offsets = np.array([0, 0, 1, 3, 3])
    coords = np.array([[0.0], [0.0], [1.0]], dtype=np.float32)
    edges = knn_graph(offsets, coords, 4)
    np.testing.assert_array_equal(edges, [[2, 1], [1, 2]])


def test_output_is_int64_csr_by_target():
    offsets = np.array([0, 5, 9])
    edges = knn_graph(offsets, np.random.default_rng(0).normal(size=(9, 2)), 3)
    assert edges.dtype == np.int64
    assert np.all(np.diff(edges[1]) >= 0)


@pytest.mark.parametrize("bad, message", [
    (dict(offsets=np.array([1, 3])), "start at 0"),
    (dict(offsets=np.array([0, 4])), "offsets end at 4"),
    (dict(coords=np.full((3, 2), np.nan)), "NaN"),
    (dict(k=0), "at least 1"),
])
def test_bad_arguments_raise_value_error(bad, message):
    args = dict(offsets=np.array([0, 3]), coords=np.zeros((3, 2)), k=2) | bad
    with pytest.raises(ValueError, match=message):
        knn_graph(**args)


def test_ties_that_no_threshold_separates_still_give_k_neighbours():
    # found by hypothesis: many neighbours at one distance make the count jump past 2k; the
    # bisection then stalled between two adjacent floats and could settle below that
    # distance, keeping no neighbour at all
    coords = np.array([-1, -1, -1, 1, -1, 3, -1, 1, -1, -2], dtype=np.float32)[:, None]
    offsets = np.array([0, 10])
    for k in (1, 2):
        edges = knn_graph(offsets, coords, k, tree_min_hits=10**6)
        np.testing.assert_array_equal(edges, reference.neighbours(offsets, reference.euclidean(coords), k))
