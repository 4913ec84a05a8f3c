"""k-nearest-neighbour and radius graphs in a weighted Euclidean feature space.

For each hit ``i`` of an event the builders find other hits ``j`` of the same event that
minimise ``d(i, j) = sum_f (w_f * (c_jf - c_if))**2`` (summed in feature order, float64),
ordered by (distance, index) so that ties are resolved the same way every time.

Events below ``tree_min_hits`` hits are searched by brute force: one vectorised distance
row per hit, a threshold that admits k to 2k candidates found by counting passes
(bisection, warm-started from the previous hit), and an insertion sort of those few.
Larger events get a k-d tree (median splits along the widest dimension, points stored
feature-major in tree order so a leaf's distances are one vectorised loop), searched
nearest cell first and pruned with the incremental distance to each cell (Arya & Mount,
SODA 1993). Each hit's neighbours are collected in a small sorted list and written
straight into the output slots.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.extending import register_jitable

from ._csr import INDEX, check_offsets, finish_slots, over_events, slot_layout, sorted_insert, store_neighbours

TREE_MIN_HITS = 768
LEAF_SIZE = 32
THRESHOLD_SLACK = 2
SAFE = 1.0 - 1e-12  # shrinks pruning bounds so rounding never prunes a true neighbour


@numba.njit(inline="always")
def _count_at_most(row, n, threshold) -> int:
    count = 0
    for m in range(n):
        count += row[m] <= threshold
    return count


@numba.njit(inline="always")
def _select_row(row, n, k, r2, guess, candidates, near_d, near_j, first):
    """Keep the k nearest entries (< r2) of a distance row in ``near_d/near_j``, nearest
    first; return how many and the threshold used, at most r2 (the next row's guess)."""
    low, high = -1.0, np.inf  # count(row <= low) < k, count(row <= high) > THRESHOLD_SLACK * k
    threshold = guess if guess > 0.0 else 1.0
    count = 0
    for _ in range(400):
        count = _count_at_most(row, n, threshold)
        if count < k:
            low = threshold
            if threshold >= r2:
                break
        elif count > THRESHOLD_SLACK * k:
            high = threshold
        else:
            break
        following = 0.5 * (low + high) if high < np.inf else 4.0 * threshold
        if following <= low or following >= high:  # ties: no threshold separates them
            threshold = high
            break
        threshold = following
    if count < k:
        threshold = high
    count = 0
    for m in range(n):
        candidates[count] = m
        count += (row[m] <= threshold) & (row[m] < r2)
    # An insertion sort specialised to candidates arriving in increasing index, so a tie
    # never displaces the earlier one and only distances are compared: ~35 % faster on
    # 64-100 hit events than the general sorted_insert (bench_kernels.py).
    size = 0
    for c in range(count):
        m = candidates[c]
        d = row[m]
        if size == k:
            if not d < near_d[k - 1]:
                continue
            pos = k - 1
        else:
            pos = size
            size += 1
        while pos > 0 and near_d[pos - 1] > d:
            near_d[pos] = near_d[pos - 1]
            near_j[pos] = near_j[pos - 1]
            pos -= 1
        near_d[pos] = d
        near_j[pos] = first + m
    return size, min(threshold, r2)


@numba.njit(cache=True)
def _brute_event(ct, first, n, k, r2, out, counts, slot0) -> None:
    row = np.empty(n)
    candidates = np.empty(n, dtype=np.int64)
    near_d = np.empty(k)
    near_j = np.empty(k, dtype=np.int64)
    guess = 0.0
    for a in range(n):
        row[:] = 0.0
        for f in range(ct.shape[0]):
            q = ct[f, first + a]
            column = ct[f, first:first + n]
            for m in range(n):
                t = column[m] - q
                row[m] += t * t
        row[a] = np.inf
        size, guess = _select_row(row, n, k, r2, guess, candidates, near_d, near_j, first)
        store_neighbours(out, counts, first + a, slot0 + a * k, near_j, size)


@numba.njit(cache=True)
def _partition(values, perm, lo, hi, nth) -> None:
    """Reorder ``perm[lo:hi]`` so that ``values[perm[nth]]`` is in sorted position, smaller
    or equal values before it and larger or equal after (quickselect, median of three)."""
    while hi - lo > 1:
        mid = (lo + hi - 1) // 2
        a, b, c = values[perm[lo]], values[perm[mid]], values[perm[hi - 1]]
        pivot = max(min(a, b), min(max(a, b), c))
        i, j = lo, hi - 1
        while i <= j:
            while values[perm[i]] < pivot:
                i += 1
            while values[perm[j]] > pivot:
                j -= 1
            if i <= j:
                perm[i], perm[j] = perm[j], perm[i]
                i += 1
                j -= 1
        if nth <= j:
            hi = j + 1
        elif nth >= i:
            lo = i
        else:
            return


@numba.njit(cache=True)
def _build_tree(points, leaf_size, perm, split_dim, split_val) -> None:
    """Order ``perm`` so that node ``i`` covers a halving range of it (node 0: all;
    children ``2i + 1`` and ``2i + 2``); split at the median of the widest feature."""
    n, n_features = points.shape
    for m in range(n):
        perm[m] = m
    column = np.empty(n)
    stack = np.empty((128, 3), dtype=np.int64)
    stack[0, 0], stack[0, 1], stack[0, 2] = 0, 0, n
    top = 1
    while top > 0:
        top -= 1
        node, lo, hi = stack[top, 0], stack[top, 1], stack[top, 2]
        if hi - lo <= leaf_size:
            continue
        best_dim, best_spread = 0, -1.0
        for f in range(n_features):
            low, high = np.inf, -np.inf
            for m in range(lo, hi):
                v = points[perm[m], f]
                low = min(low, v)
                high = max(high, v)
            if high - low > best_spread:
                best_dim, best_spread = f, high - low
        for m in range(lo, hi):
            column[perm[m]] = points[perm[m], best_dim]
        mid = (lo + hi) // 2
        _partition(column, perm, lo, hi, mid)
        split_dim[node] = best_dim
        split_val[node] = column[perm[mid]]
        stack[top, 0], stack[top, 1], stack[top, 2] = 2 * node + 1, lo, mid
        stack[top + 1, 0], stack[top + 1, 1], stack[top + 1, 2] = 2 * node + 2, mid, hi
        top += 2


@numba.njit(cache=True)
def _tree_event(ct, first, n, k, r2, leaf_size, out, counts, slot0) -> None:
    n_features = ct.shape[0]
    points = np.empty((n, n_features))
    for m in range(n):
        for f in range(n_features):
            points[m, f] = ct[f, first + m]
    n_nodes = 2
    while n_nodes < 2 * n:
        n_nodes *= 2
    perm = np.empty(n, dtype=np.int64)
    split_dim = np.zeros(2 * n_nodes, dtype=np.int64)
    split_val = np.zeros(2 * n_nodes)
    _build_tree(points, leaf_size, perm, split_dim, split_val)
    ordered = np.empty((n_features, n))  # coordinates in tree order: leaves are contiguous
    for m in range(n):
        for f in range(n_features):
            ordered[f, m] = points[perm[m], f]
    row = np.empty(leaf_size)
    nodes = np.empty((128, 3), dtype=np.int64)
    bounds = np.empty(128)
    gaps = np.zeros((128, n_features))  # distance from the query to the cell, per feature
    near_d = np.empty(k)
    near_j = np.empty(k, dtype=np.int64)
    for p in range(n):  # queries in tree order: neighbouring queries touch the same cells
        size = 0
        worst = r2
        nodes[0, 0], nodes[0, 1], nodes[0, 2] = 0, 0, n
        bounds[0] = 0.0
        for f in range(n_features):
            gaps[0, f] = 0.0
        top = 1
        while top > 0:
            top -= 1
            node, lo, hi, bound = nodes[top, 0], nodes[top, 1], nodes[top, 2], bounds[top]
            if (size < k and bound * SAFE >= r2) or (size == k and bound * SAFE > worst):
                continue
            if hi - lo <= leaf_size:
                width = numba.uint64(hi - lo)  # unsigned indices: no wraparound check,
                start = numba.uint64(lo)  # so the distance loop vectorises
                for m in range(width):
                    row[m] = 0.0
                for f in range(n_features):
                    q = ordered[f, p]
                    for m in range(width):
                        t = ordered[f, start + m] - q
                        row[m] += t * t
                for m in range(hi - lo):
                    d = row[m]
                    if d < r2 and d <= worst and lo + m != p:
                        size = sorted_insert(near_d, near_j, 0, size, k, d, first + perm[lo + m])
                        if size == k:
                            worst = near_d[k - 1]
                continue
            dim = split_dim[node]
            diff = ordered[dim, p] - split_val[node]
            far_bound = max(bound, bound - gaps[top, dim] * gaps[top, dim] + diff * diff)
            mid = (lo + hi) // 2
            if diff < 0.0:
                near_node, near_lo, near_hi, far_node, far_lo, far_hi = 2 * node + 1, lo, mid, 2 * node + 2, mid, hi
            else:
                near_node, near_lo, near_hi, far_node, far_lo, far_hi = 2 * node + 2, mid, hi, 2 * node + 1, lo, mid
            for f in range(n_features):  # the near child (pushed last, popped first) keeps the gaps
                gaps[top + 1, f] = gaps[top, f]
            gaps[top, dim] = diff
            nodes[top, 0], nodes[top, 1], nodes[top, 2] = far_node, far_lo, far_hi
            bounds[top] = far_bound
            nodes[top + 1, 0], nodes[top + 1, 1], nodes[top + 1, 2] = near_node, near_lo, near_hi
            bounds[top + 1] = bound
            top += 2
        store_neighbours(out, counts, first + perm[p], slot0 + perm[p] * k, near_j, size)


@register_jitable
def _search(first, n, k, slot0, out, counts, ct, r2, tree_min_hits, leaf_size) -> None:
    """One event: brute force below ``tree_min_hits`` hits, else a k-d tree."""
    if n < tree_min_hits:
        _brute_event(ct, first, n, k, r2, out, counts, slot0)
    else:
        _tree_event(ct, first, n, k, r2, leaf_size, out, counts, slot0)


_neighbours = over_events(_search)


def scaled_coordinates(coords: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Return ``(coords * weights).T`` as a C-contiguous float64 array of shape (F, N)."""
    coords = np.asarray(coords)
    if coords.ndim == 1:
        coords = coords[:, None]
    if coords.ndim != 2:
        raise ValueError(f"coords must have shape (n_hits, n_features), got {coords.shape}")
    scaled = np.empty((coords.shape[1], coords.shape[0]))
    scaled[:] = coords.T
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (coords.shape[1],):
            raise ValueError(f"weights must have shape ({coords.shape[1]},), got {weights.shape}")
        scaled *= weights[:, None]
    if not np.isfinite(scaled).all():
        raise ValueError("coords contain NaN or inf")
    return scaled


def _build(offsets, coords, k, r, weights, tree_min_hits) -> np.ndarray:
    offsets = check_offsets(offsets).astype(INDEX, copy=False)
    ct = scaled_coordinates(coords, weights)
    check_offsets(offsets, ct.shape[1])
    if k < 1:
        raise ValueError(f"the number of neighbours must be at least 1, got {k}")
    width, slot_offsets = slot_layout(offsets, int(k))
    out = np.empty((2, int(slot_offsets[-1])), dtype=INDEX)
    counts = np.zeros(ct.shape[1], dtype=INDEX)
    _neighbours(offsets, width, slot_offsets, out, counts,
                (ct, float(r) ** 2, max(int(tree_min_hits), 2), LEAF_SIZE))
    return finish_slots(out, counts, offsets, width, slot_offsets)


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
