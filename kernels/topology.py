"""Detector-topology graphs: neighbours by sensor position rather than by feature distance.

Positions, not channel numbers, define the topology (see the event format): the modules of
a Baikal-GVD string share x and y, Telescope Array counters sit on a square grid.
"""

from __future__ import annotations

import numba
import numpy as np

from ._csr import INDEX, check_columns, check_offsets, gather_slots
from .knn import TREE_MIN_HITS, _select_row, knn_graph, radius_graph, scaled_coordinates
from .union import union_graphs

MAX_TOPOLOGY_NEIGHBOURS = 128
"""Sources a topology graph keeps per target, the nearest: a bound on the edges of any
event (coincident hits would otherwise link every pair: 10,000 hits on one module gave
10^8 edges). Simulated Baikal-GVD windows (80 kHz noise) reach 57 on the string topology."""


@numba.njit(cache=True)
def _keep_nearest(flags, d2, count, cap, scratch):
    """Of the ``count`` hits flagged in ``flags``, leave flagged the ``cap`` with the
    smallest squared distance ``d2`` (ties by the smaller index)."""
    c = 0
    for j in range(flags.shape[0]):
        if flags[j]:
            scratch[c] = d2[j]
            c += 1
    threshold = np.partition(scratch[:count], cap - 1)[cap - 1]
    ties = cap
    for j in range(flags.shape[0]):
        ties -= flags[j] & (d2[j] < threshold)
    for j in range(flags.shape[0]):
        if flags[j] and d2[j] >= threshold:
            if d2[j] == threshold and ties > 0:
                ties -= 1
            else:
                flags[j] = 0


@numba.njit(cache=True)
def _cylinder_flags(x, y, z, i, radius2, half_height, cap, flags, d2, scratch) -> int:
    """Flag (``flags[j] = 1``) the hits j != i of one event whose sensors lie within the
    cylinder around hit i, at most ``cap``: the nearest in 3-D, ties by the smaller index
    (``d2`` receives the squared distances, ``scratch`` is workspace); return how many."""
    count = 0
    for j in range(x.shape[0]):
        dx = x[j] - x[i]
        dy = y[j] - y[i]
        dz = z[j] - z[i]
        horizontal = dx * dx + dy * dy
        inside = (horizontal <= radius2) & (abs(dz) <= half_height) & (j != i)
        flags[j] = inside
        d2[j] = horizontal + dz * dz
        count += inside
    if count > cap:
        _keep_nearest(flags, d2, count, cap, scratch)
        count = cap
    return count


@numba.njit(parallel=True, cache=True)
def _count_cylinder(offsets, x, y, z, radius2, half_height, cap, counts):
    for e in numba.prange(offsets.shape[0] - 1):
        lo, hi = offsets[e], offsets[e + 1]
        xe, ye, ze = x[lo:hi], y[lo:hi], z[lo:hi]
        for i in range(hi - lo):
            count = 0
            for j in range(hi - lo):  # a vectorised count; the hit itself is taken off below
                dx = xe[j] - xe[i]
                dy = ye[j] - ye[i]
                count += (dx * dx + dy * dy <= radius2) & (abs(ze[j] - ze[i]) <= half_height)
            counts[lo + i] = min(count - 1, cap)


@numba.njit(parallel=True, cache=True)
def _fill_cylinder(offsets, x, y, z, radius2, half_height, cap, edge_offsets, out):
    for e in numba.prange(offsets.shape[0] - 1):
        lo, hi = offsets[e], offsets[e + 1]
        flags = np.empty(hi - lo, dtype=np.int64)
        d2 = np.empty(hi - lo)
        scratch = np.empty(hi - lo)
        for i in range(hi - lo):
            _cylinder_flags(x[lo:hi], y[lo:hi], z[lo:hi], i, radius2, half_height, cap, flags, d2, scratch)
            slot = edge_offsets[lo + i]
            for j in range(hi - lo):
                if flags[j]:
                    out[0, slot] = lo + j
                    out[1, slot] = lo + i
                    slot += 1


def cylinder_graph(offsets: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                   radius: float, half_height: float, max_neighbours: int = MAX_TOPOLOGY_NEIGHBOURS) -> np.ndarray:
    """Connect hits of one event whose sensors lie within a vertical cylinder of each other.

    ``j`` is a source of target ``i`` when the horizontal distance is at most ``radius`` (m)
    and the vertical distance at most ``half_height`` (m); of more than ``max_neighbours``
    such hits, the nearest in 3-D (ties by the smaller index). Sources of a target are in
    increasing index order. Output as in :func:`graphreco.kernels.knn_graph`.
    """
    if max_neighbours < 1:
        raise ValueError(f"the number of neighbours must be at least 1, got {max_neighbours}")
    offsets = check_offsets(offsets).astype(INDEX, copy=False)
    x, y, z = check_columns(offsets, x, y, z)
    counts = np.zeros(x.size, dtype=INDEX)
    _count_cylinder(offsets, x, y, z, float(radius) ** 2, float(half_height), int(max_neighbours), counts)
    edge_offsets = np.zeros(x.size + 1, dtype=INDEX)
    np.cumsum(counts, out=edge_offsets[1:])
    out = np.empty((2, int(edge_offsets[-1])), dtype=INDEX)
    _fill_cylinder(offsets, x, y, z, float(radius) ** 2, float(half_height), int(max_neighbours), edge_offsets, out)
    return out


def _string_cylinder(module_spacing: float, max_module_steps: int, string_spacing: float) -> tuple[float, float]:
    """Radius and half height (m) of the string neighbourhood, with half a module spacing
    and 10 % of the string spacing added as tolerance for survey scatter."""
    return 1.1 * string_spacing, (max_module_steps + 0.5) * module_spacing


def string_graph(offsets: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                 module_spacing: float, max_module_steps: int, string_spacing: float,
                 max_neighbours: int = MAX_TOPOLOGY_NEIGHBOURS) -> np.ndarray:
    """String topology of a vertical-string array such as Baikal-GVD.

    A hit's neighbours are the other hits on the same string within ``max_module_steps``
    modules (repeated pulses of one module included) and the hits on adjacent strings, up
    to ``string_spacing`` (m) away horizontally, in the same depth window: the
    ``max_neighbours`` nearest of them (``cylinder_graph``).
    """
    radius, half_height = _string_cylinder(module_spacing, max_module_steps, string_spacing)
    return cylinder_graph(offsets, x, y, z, radius, half_height, max_neighbours)


@numba.njit(parallel=True, cache=True)
def _spacetime_string(offsets, ct, k, radius2, half_height, cap, slot_offsets, sources, counts):
    for e in numba.prange(offsets.shape[0] - 1):
        lo, hi = offsets[e], offsets[e + 1]
        n = hi - lo
        kk = min(k, n - 1)
        if kk < 1:  # counts start at zero
            continue
        row = np.empty(n)
        flags = np.empty(n, dtype=np.int64)
        candidates = np.empty(n, dtype=np.int64)
        near_d = np.empty(kk)
        near_j = np.empty(kk, dtype=np.int64)
        d2 = np.empty(n)
        scratch = np.empty(n)
        x, y, z = ct[0, lo:hi], ct[1, lo:hi], ct[2, lo:hi]
        guess = 0.0
        for a in range(n):
            row[:] = 0.0
            for f in range(ct.shape[0]):
                q = ct[f, lo + a]
                column = ct[f, lo:hi]
                for m in range(n):
                    t = column[m] - q
                    row[m] += t * t
            _cylinder_flags(x, y, z, a, radius2, half_height, cap, flags, d2, scratch)
            row[a] = np.inf
            size, guess = _select_row(row, n, kk, np.inf, guess, candidates, near_d, near_j, 0)
            for s in range(size):
                flags[near_j[s]] = 1
            flags[a] = 0
            first = slot_offsets[lo + a]
            count = 0
            for m in range(n):  # branch-free compaction; the slot block has one spare
                sources[first + count] = lo + m
                count += flags[m]
            counts[lo + a] = count


def spacetime_string_graph(offsets: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray, t: np.ndarray,
                           k: int, light_speed: float, module_spacing: float, max_module_steps: int,
                           string_spacing: float, max_neighbours: int = MAX_TOPOLOGY_NEIGHBOURS) -> np.ndarray:
    """kNN in space-time united with the string topology, fused: one counting pass for the
    output size, then one pass computing both neighbourhoods of each hit.

    The same edges as ``union_graphs(offsets, knn_graph(offsets, [x, y, z, t], k,
    weights=[1, 1, 1, light_speed]), string_graph(offsets, x, y, z, ..., max_neighbours))``,
    sources of a target in increasing index order: at most ``k + max_neighbours`` each.
    Positions in m, times in ns, ``light_speed`` in m/ns (the group velocity in the medium).
    """
    if k < 1:
        raise ValueError(f"the number of neighbours must be at least 1, got {k}")
    offsets = check_offsets(offsets).astype(INDEX, copy=False)
    coords = np.stack(check_columns(offsets, x, y, z, t), axis=0).T
    weights = np.array([1.0, 1.0, 1.0, light_speed])
    radius, half_height = _string_cylinder(module_spacing, max_module_steps, string_spacing)
    sizes = np.diff(offsets)
    if sizes.size and sizes.max() >= TREE_MIN_HITS:  # large events: the k-d tree path
        return union_graphs(offsets, knn_graph(offsets, coords, k, weights),
                            cylinder_graph(offsets, x, y, z, radius, half_height, max_neighbours))
    ct = scaled_coordinates(coords, weights)
    in_cylinder = np.zeros(ct.shape[1], dtype=INDEX)
    _count_cylinder(offsets, ct[0], ct[1], ct[2], radius**2, half_height, int(max_neighbours), in_cylinder)
    capacity = np.minimum(np.repeat(sizes - 1, sizes), in_cylinder + k) + 1
    slot_offsets = np.zeros(ct.shape[1] + 1, dtype=INDEX)
    np.cumsum(capacity, out=slot_offsets[1:])
    sources = np.empty(int(slot_offsets[-1]), dtype=INDEX)
    counts = np.zeros(ct.shape[1], dtype=INDEX)
    _spacetime_string(offsets, ct, int(k), radius**2, half_height, int(max_neighbours), slot_offsets, sources,
                      counts)
    return gather_slots(sources, slot_offsets, counts)


def surface_grid_graph(offsets: np.ndarray, x: np.ndarray, y: np.ndarray, grid_spacing: float,
                       max_steps: float, max_neighbours: int) -> np.ndarray:
    """Neighbours on a surface array with counters on a square grid (Telescope Array SD).

    Counters within ``max_steps`` grid spacings (m), plus 10 % tolerance for the survey
    scatter of counter positions, keeping the ``max_neighbours`` nearest.
    """
    xy = np.stack(check_columns(check_offsets(offsets), x, y), axis=1)
    return radius_graph(offsets, xy, 1.1 * max_steps * grid_spacing, max_neighbours)
