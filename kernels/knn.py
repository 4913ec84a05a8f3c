"""k-nearest-neighbour and radius graphs in a weighted Euclidean feature space.

For each hit ``i`` of an event the builders find other hits ``j`` of the same event that
minimise ``d(i, j) = sum_f (w_f * (c_jf - c_if))**2``, ordered by (distance, index) so that
ties are resolved the same way every time. Events up to ``tree_min_hits`` hits are searched
by brute force (one vectorised distance row per hit, then a bounded heap); larger events
get a k-d tree with median splits along the widest dimension, pruned by the distance to
each splitting plane.
"""

from __future__ import annotations

import numba
import numpy as np

from ._csr import INDEX, check_offsets, compact_slots, heap_push, heap_sort, slot_layout

TREE_MIN_HITS = 256
LEAF_SIZE = 16


@numba.njit(cache=True)
def _brute_event(ct, first, n, k, r2, src, dist, counts, slot0) -> None:
    n_features = ct.shape[0]
    row = np.empty(n)
    for a in range(n):
        gi = first + a
        for m in range(n):
            row[m] = 0.0
        for f in range(n_features):
            q = ct[f, gi]
            for m in range(n):
                t = ct[f, first + m] - q
                row[m] += t * t
        base = slot0 + a * k
        size = 0
        for m in range(n):
            if m != a and row[m] < r2:
                size = heap_push(dist, src, base, size, k, row[m], first + m)
        heap_sort(dist, src, base, size)
        counts[gi] = size


@numba.njit(cache=True)
def _build_tree(ct, first, n, leaf_size, perm, split_dim, split_val) -> None:
    n_features = ct.shape[0]
    for m in range(n):
        perm[m] = m
    stack = np.empty((64, 3), dtype=np.int64)
    stack[0, 0], stack[0, 1], stack[0, 2] = 0, 0, n
    top = 1
    while top > 0:
        top -= 1
        node, lo, hi = stack[top, 0], stack[top, 1], stack[top, 2]
        if hi - lo <= leaf_size:
            continue
        best_dim, best_spread = 0, -1.0
        for f in range(n_features):
            vmin, vmax = np.inf, -np.inf
            for m in range(lo, hi):
                v = ct[f, first + perm[m]]
                vmin = min(vmin, v)
                vmax = max(vmax, v)
            if vmax - vmin > best_spread:
                best_dim, best_spread = f, vmax - vmin
        values = np.empty(hi - lo)
        for m in range(lo, hi):
            values[m - lo] = ct[best_dim, first + perm[m]]
        order = np.argsort(values, kind="mergesort")
        members = perm[lo:hi].copy()
        for m in range(hi - lo):
            perm[lo + m] = members[order[m]]
        mid = (lo + hi) // 2
        split_dim[node] = best_dim
        split_val[node] = ct[best_dim, first + perm[mid]]
        stack[top, 0], stack[top, 1], stack[top, 2] = 2 * node + 1, lo, mid
        stack[top + 1, 0], stack[top + 1, 1], stack[top + 1, 2] = 2 * node + 2, mid, hi
        top += 2


@numba.njit(cache=True)
def _tree_event(ct, first, n, k, r2, leaf_size, src, dist, counts, slot0) -> None:
    n_features = ct.shape[0]
    n_nodes = 2
    while n_nodes < 2 * n:
        n_nodes *= 2
    perm = np.empty(n, dtype=np.int64)
    split_dim = np.zeros(2 * n_nodes, dtype=np.int64)
    split_val = np.zeros(2 * n_nodes)
    _build_tree(ct, first, n, leaf_size, perm, split_dim, split_val)
    nodes = np.empty((128, 3), dtype=np.int64)
    bounds = np.empty(128)
    for a in range(n):
        gi = first + a
        base = slot0 + a * k
        size = 0
        nodes[0, 0], nodes[0, 1], nodes[0, 2] = 0, 0, n
        bounds[0] = 0.0
        top = 1
        while top > 0:
            top -= 1
            node, lo, hi, bound = nodes[top, 0], nodes[top, 1], nodes[top, 2], bounds[top]
            if bound >= r2 or (size == k and bound > dist[base]):
                continue
            if hi - lo <= leaf_size:
                for m in range(lo, hi):
                    j = first + perm[m]
                    if j == gi:
                        continue
                    d = 0.0
                    for f in range(n_features):
                        t = ct[f, j] - ct[f, gi]
                        d += t * t
                    if d < r2:
                        size = heap_push(dist, src, base, size, k, d, j)
                continue
            mid = (lo + hi) // 2
            diff = ct[split_dim[node], gi] - split_val[node]
            far_bound = max(bound, diff * diff)
            if diff < 0.0:
                near_node, near_lo, near_hi = 2 * node + 1, lo, mid
                far_node, far_lo, far_hi = 2 * node + 2, mid, hi
            else:
                near_node, near_lo, near_hi = 2 * node + 2, mid, hi
                far_node, far_lo, far_hi = 2 * node + 1, lo, mid
            nodes[top, 0], nodes[top, 1], nodes[top, 2] = far_node, far_lo, far_hi
            bounds[top] = far_bound
            nodes[top + 1, 0], nodes[top + 1, 1], nodes[top + 1, 2] = near_node, near_lo, near_hi
            bounds[top + 1] = bound
            top += 2
        heap_sort(dist, src, base, size)
        counts[gi] = size


@numba.njit(parallel=True, cache=True)
def _neighbours(offsets, ct, width, slot_offsets, r2, tree_min_hits, leaf_size, src, dist, counts):
    for e in numba.prange(offsets.shape[0] - 1):
        first = offsets[e]
        n = offsets[e + 1] - first
        k = width[e]
        if k == 0:
            for a in range(n):
                counts[first + a] = 0
        elif n < tree_min_hits:
            _brute_event(ct, first, n, k, r2, src, dist, counts, slot_offsets[e])
        else:
            _tree_event(ct, first, n, k, r2, leaf_size, src, dist, counts, slot_offsets[e])


def scaled_coordinates(coords: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Return ``(coords * weights).T`` as a C-contiguous float64 array of shape (F, N)."""
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim == 1:
        coords = coords[:, None]
    if coords.ndim != 2:
        raise ValueError(f"coords must have shape (n_hits, n_features), got {coords.shape}")
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (coords.shape[1],):
            raise ValueError(f"weights must have shape ({coords.shape[1]},), got {weights.shape}")
        coords = coords * weights
    if not np.all(np.isfinite(coords)):
        raise ValueError("coords contain NaN or inf")
    return np.ascontiguousarray(coords.T)


def _build(offsets, coords, k, r, weights, tree_min_hits) -> np.ndarray:
    offsets = check_offsets(offsets).astype(INDEX, copy=False)
    ct = scaled_coordinates(coords, weights)
    check_offsets(offsets, ct.shape[1])
    if k < 1:
        raise ValueError(f"the number of neighbours must be at least 1, got {k}")
    width, slot_offsets = slot_layout(offsets, int(k))
    n_slots = int(slot_offsets[-1])
    src = np.empty(n_slots, dtype=INDEX)
    dist = np.empty(n_slots)
    counts = np.zeros(ct.shape[1], dtype=INDEX)
    _neighbours(offsets, ct, width, slot_offsets, float(r) ** 2, int(tree_min_hits), LEAF_SIZE,
                src, dist, counts)
    return compact_slots(src, counts, offsets, width, slot_offsets)


def knn_graph(offsets: np.ndarray, coords: np.ndarray, k: int, weights: np.ndarray | None = None,
              *, tree_min_hits: int = TREE_MIN_HITS) -> np.ndarray:
    """Connect every hit to its ``k`` nearest other hits of the same event.

    Parameters
    ----------
    offsets : (n_events + 1,) int
        CSR event boundaries: hits of event ``e`` are ``offsets[e]:offsets[e + 1]``.
    coords : (n_hits, n_features) float
        Feature-space position of every hit, in any consistent units.
    k : int
        Neighbours per hit; an event of ``n <= k`` hits gives each hit its ``n - 1`` others.
    weights : (n_features,) float, optional
        Per-feature scale applied before the Euclidean distance (e.g. the speed of light in
        water, m/ns, to put times and positions on one footing).
    tree_min_hits : int
        Events with at least this many hits are searched with a k-d tree, smaller ones by
        brute force; the result is the same, only the speed differs.

    Returns
    -------
    edge_index : (2, E) int64
        Row 0 the source (neighbour), row 1 the target hit, global hit indices; grouped by
        target in increasing order, nearest source first, ties by the smaller index.
    """
    return _build(offsets, coords, k, np.inf, weights, tree_min_hits)


def radius_graph(offsets: np.ndarray, coords: np.ndarray, r: float, max_neighbours: int,
                 weights: np.ndarray | None = None, *, tree_min_hits: int = TREE_MIN_HITS) -> np.ndarray:
    """Connect every hit to the other hits of its event closer than ``r`` (strictly).

    At most ``max_neighbours`` sources per target are kept, the nearest ones (ties by the
    smaller index). Arguments and output as in :func:`knn_graph`; ``r`` is in the units of
    the weighted coordinates.
    """
    if not r > 0:
        raise ValueError(f"radius must be positive, got {r}")
    return _build(offsets, coords, max_neighbours, r, weights, tree_min_hits)
