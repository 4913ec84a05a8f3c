import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from graphreco.kernels import (
    cylinder_graph,
    knn_graph,
    spacetime_string_graph,
    string_graph,
    surface_grid_graph,
    union_graphs,
)
from graphreco.kernels.topology import MAX_TOPOLOGY_NEIGHBOURS

from . import reference
from .strategies import event_sizes, offsets_of


@st.composite
def string_hits(draw, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hits on modules of a small string array: strings 60 m apart, modules 15 m apart."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    strings = np.array([[0, 0], [60, 0], [30, 52], [300, 0]], dtype=np.float32)
    which = rng.integers(0, len(strings), n)
    z = (rng.integers(0, 36, n) * 15.0 - 262.5).astype(np.float32)
    return strings[which, 0], strings[which, 1], z


@settings(max_examples=50, deadline=None)
@given(data=st.data(), steps=st.integers(0, 3), cap=st.sampled_from([1, 3, 10, MAX_TOPOLOGY_NEIGHBOURS]))
def test_string_graph_matches_reference(data, steps, cap):
    offsets = offsets_of(data.draw(event_sizes(max_hits=50)))
    x, y, z = data.draw(string_hits(int(offsets[-1])))
    edges = string_graph(offsets, x, y, z, module_spacing=15.0, max_module_steps=steps, string_spacing=60.0,
                         max_neighbours=cap)

    def connected(i: int, j: int) -> bool:
        horizontal = np.hypot(float(x[j]) - float(x[i]), float(y[j]) - float(y[i]))
        return horizontal <= 66.0 and abs(float(z[j]) - float(z[i])) <= (steps + 0.5) * 15.0

    distance = reference.euclidean(np.stack([x, y, z], axis=1))
    np.testing.assert_array_equal(edges, reference.nearest_connected(offsets, connected, distance, cap))


def test_coincident_hits_get_a_bounded_number_of_edges():
    """10,000 hits of one module at one time linked every pair (10^8 edges, 1.6 GB for
    one event): the string topology keeps the nearest ``MAX_TOPOLOGY_NEIGHBOURS``, the
    first by index among equals."""
    n, k = 10_000, 8
    offsets = np.array([0, n, 2 * n])
    same = np.full(2 * n, 10.0, dtype=np.float32)
    edges = spacetime_string_graph(offsets, same, same, same, same, k, 0.22, 15.0, 2, 60.0)
    assert edges.shape[1] <= 2 * n * (k + MAX_TOPOLOGY_NEIGHBOURS)
    first = edges[0, edges[1] == 0]
    np.testing.assert_array_equal(first, np.arange(1, MAX_TOPOLOGY_NEIGHBOURS + 1))
    assert np.all(edges[0] // n == edges[1] // n), "edges cross events"


def test_cylinder_graph_separates_strings_and_depths():
    offsets = np.array([0, 4])
    x = np.array([0, 0, 0, 500], dtype=np.float32)
    y = np.zeros(4, dtype=np.float32)
    z = np.array([0, 15, 100, 0], dtype=np.float32)
    edges = cylinder_graph(offsets, x, y, z, radius=70.0, half_height=20.0)
    np.testing.assert_array_equal(edges, [[1, 0], [0, 1]])


@settings(max_examples=50, deadline=None)
@given(data=st.data(), steps=st.sampled_from([1.0, 1.5, 2.0]), max_n=st.integers(1, 12))
def test_surface_grid_graph_matches_reference(data, steps, max_n):
    offsets = offsets_of(data.draw(event_sizes(max_hits=30)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    xy = (rng.integers(-4, 5, size=(int(offsets[-1]), 2)) * 1200.0).astype(np.float32)
    edges = surface_grid_graph(offsets, xy[:, 0], xy[:, 1], 1200.0, steps, max_n)
    expected = reference.neighbours(offsets, reference.euclidean(xy), max_n, 1.1 * steps * 1200.0)
    np.testing.assert_array_equal(edges, expected)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_union_is_the_set_union(data):
    offsets = offsets_of(data.draw(event_sizes()))
    n = int(offsets[-1])
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a = knn_graph(offsets, rng.normal(size=(n, 2)), 3)
    b = knn_graph(offsets, rng.normal(size=(n, 2)), 2)
    merged = union_graphs(offsets, a, b, a)
    expected = sorted(set(zip(a[1], a[0])) | set(zip(b[1], b[0])))
    np.testing.assert_array_equal(merged, np.array([[s for _, s in expected], [t for t, _ in expected]],
                                                   dtype=np.int64).reshape(2, -1))


@settings(max_examples=50, deadline=None)
@given(data=st.data(), k=st.integers(1, 9), steps=st.integers(0, 2), cap=st.sampled_from([2, 7, 128]))
def test_spacetime_string_graph_is_knn_united_with_strings(data, k, steps, cap):
    offsets = offsets_of(data.draw(event_sizes(max_hits=50)))
    x, y, z = data.draw(string_hits(int(offsets[-1])))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    t = rng.uniform(0, 5000, int(offsets[-1])).astype(np.float32)
    fused = spacetime_string_graph(offsets, x, y, z, t, k, 0.22, 15.0, steps, 60.0, max_neighbours=cap)
    coords = np.stack([x, y, z, t], axis=1)
    expected = union_graphs(offsets, knn_graph(offsets, coords, k, np.array([1, 1, 1, 0.22])),
                            string_graph(offsets, x, y, z, 15.0, steps, 60.0, max_neighbours=cap))
    np.testing.assert_array_equal(fused, expected)


def test_spacetime_string_graph_large_events_take_the_tree_path():
    rng = np.random.default_rng(3)
    offsets = np.array([0, 900])
    x, y = rng.choice([0.0, 60.0, 120.0], 900), np.zeros(900)
    z, t = rng.integers(0, 36, 900) * 15.0, rng.uniform(0, 5000, 900)
    fused = spacetime_string_graph(offsets, x, y, z, t, 8, 0.22, 15.0, 1, 60.0)
    coords = np.stack([x, y, z, t], axis=1)
    assert fused.shape[1] > 900 * 8
    np.testing.assert_array_equal(fused, union_graphs(offsets, knn_graph(offsets, coords, 8, np.array([1, 1, 1, 0.22])),
                                                      string_graph(offsets, x, y, z, 15.0, 1, 60.0)))


def test_spacetime_string_graph_rejects_k_below_one():
    with np.testing.assert_raises_regex(ValueError, "at least 1"):
        spacetime_string_graph(np.array([0, 2]), *(np.zeros(2),) * 4, 0, 0.22, 15.0, 1, 60.0)
