import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from graphreco.kernels import eta_phi_knn_graph, eta_phi_radius_graph

from . import reference
from .strategies import event_sizes, offsets_of


@st.composite
def eta_phi(draw, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidates spread over the detector, bunched near phi = +-pi, or on a coarse lattice."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mode = draw(st.sampled_from(["uniform", "seam", "lattice"]))
    eta = rng.uniform(-4.0, 4.0, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    if mode == "seam":
        eta = rng.uniform(-0.3, 0.3, n)
        phi = np.where(rng.random(n) < 0.5, np.pi - 0.05, -np.pi) + rng.uniform(0, 0.05, n)
    elif mode == "lattice":
        eta = rng.integers(-2, 3, n) * 0.2
        phi = rng.integers(-8, 8, n) * (np.pi / 8)
    return eta.astype(np.float32), phi.astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), k=st.integers(1, 8))
def test_eta_phi_knn_matches_reference(data, k):
    offsets = offsets_of(data.draw(event_sizes(max_hits=60)))
    eta, phi = data.draw(eta_phi(int(offsets[-1])))
    edges = eta_phi_knn_graph(offsets, eta, phi, k)
    np.testing.assert_array_equal(edges, reference.neighbours(offsets, reference.delta_r2(eta, phi), k))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), r0=st.floats(0.05, 4.0), max_n=st.integers(1, 10))
def test_eta_phi_radius_matches_reference(data, r0, max_n):
    offsets = offsets_of(data.draw(event_sizes(max_hits=60)))
    eta, phi = data.draw(eta_phi(int(offsets[-1])))
    edges = eta_phi_radius_graph(offsets, eta, phi, r0, max_n)
    expected = reference.neighbours(offsets, reference.delta_r2(eta, phi), max_n, r0)
    np.testing.assert_array_equal(edges, expected)


def test_neighbours_across_the_phi_seam():
    offsets = np.array([0, 3])
    eta = np.zeros(3, dtype=np.float32)
    phi = np.array([np.pi - 0.01, -np.pi + 0.01, 0.0], dtype=np.float32)
    edges = eta_phi_radius_graph(offsets, eta, phi, 0.4, 8)
    np.testing.assert_array_equal(edges, [[1, 0], [0, 1]])


def test_coincident_candidates_cost_linear_time():
    """30,000 candidates at one point: each query scanned its whole cell (25 s; 10^5,
    the largest crossing the reader takes, ran 286 s). The first k of its cell by index
    are the nearest, and the query stops there."""
    eta_phi_radius_graph(np.array([0, 10]), np.zeros(10), np.zeros(10), 0.4, 8)  # compiled
    n = 30_000
    start = time.perf_counter()
    edges = eta_phi_radius_graph(np.array([0, n]), np.zeros(n), np.zeros(n), 0.4, 8)
    seconds = time.perf_counter() - start
    np.testing.assert_array_equal(edges[0, :16], [1, 2, 3, 4, 5, 6, 7, 8, 0, 2, 3, 4, 5, 6, 7, 8])
    assert edges.shape == (2, 8 * n) and seconds < 3.0, f"{seconds:.1f} s"
