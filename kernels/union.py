"""Union of graphs on the same hits, duplicates removed, in CSR order."""

from __future__ import annotations

import numba
import numpy as np

from ._csr import INDEX, check_offsets, gather_slots


@numba.njit(parallel=True, cache=True)
def _target_offsets(targets, n_nodes, out):
    """CSR offsets of edges grouped by target: ``out[i]`` is the first edge into node >= i."""
    n_edges = targets.shape[0]
    for s in numba.prange(n_edges + 1):
        before = targets[s - 1] if s > 0 else -1
        after = targets[s] if s < n_edges else n_nodes
        for i in range(before + 1, after + 1):
            out[i] = s


@numba.njit(inline="always")
def _sorted_copy(sources, lo, hi, buffer) -> int:
    """Copy ``sources[lo:hi]`` into ``buffer`` in increasing order (insertion sort)."""
    for s in range(lo, hi):
        value = sources[s]
        pos = s - lo
        while pos > 0 and buffer[pos - 1] > value:
            buffer[pos] = buffer[pos - 1]
            pos -= 1
        buffer[pos] = value
    return hi - lo


BLOCK = 4096  # nodes per parallel task; the sort buffers are allocated once per block


@numba.njit(parallel=True, cache=True)
def _merge(a_sources, a_offsets, b_sources, b_offsets, slot_offsets, merged, counts):
    n_nodes = a_offsets.shape[0] - 1
    max_a = np.max(a_offsets[1:] - a_offsets[:-1]) if n_nodes else 0
    max_b = np.max(b_offsets[1:] - b_offsets[:-1]) if n_nodes else 0
    for block in numba.prange((n_nodes + BLOCK - 1) // BLOCK):
        a_buffer = np.empty(max_a, dtype=np.int64)
        b_buffer = np.empty(max_b, dtype=np.int64)
        for i in range(block * BLOCK, min(n_nodes, (block + 1) * BLOCK)):
            n_a = _sorted_copy(a_sources, a_offsets[i], a_offsets[i + 1], a_buffer)
            n_b = _sorted_copy(b_sources, b_offsets[i], b_offsets[i + 1], b_buffer)
            first = slot_offsets[i]
            kept, p, q = 0, 0, 0
            while p < n_a or q < n_b:
                if q >= n_b or (p < n_a and a_buffer[p] <= b_buffer[q]):
                    value = a_buffer[p]
                    p += 1
                else:
                    value = b_buffer[q]
                    q += 1
                if kept == 0 or merged[first + kept - 1] != value:
                    merged[first + kept] = value
                    kept += 1
            counts[i] = kept


def _csr_of(edges: np.ndarray, n_nodes: int, which: int) -> np.ndarray:
    edges = np.asarray(edges)
    if edges.ndim != 2 or edges.shape[0] != 2:
        raise ValueError(f"edge_index {which} must have shape (2, E), got {edges.shape}")
    if edges.shape[1] and (np.any(np.diff(edges[1]) < 0) or edges[1, -1] >= n_nodes or edges[1, 0] < 0):
        raise ValueError(f"edge_index {which} is not grouped by target within [0, {n_nodes})")
    offsets = np.empty(n_nodes + 1, dtype=INDEX)
    _target_offsets(np.ascontiguousarray(edges[1], dtype=INDEX), n_nodes, offsets)
    return offsets


def union_graphs(offsets: np.ndarray, *edge_indices: np.ndarray) -> np.ndarray:
    """Merge graphs on the hits of ``offsets`` (each ``edge_index`` grouped by target) into
    one without repeated edges.

    Returns ``edge_index`` (2, E) int64 grouped by target, sources in increasing order.
    """
    n_nodes = int(check_offsets(offsets)[-1])
    result = np.empty((2, 0), dtype=INDEX)
    result_offsets = np.zeros(n_nodes + 1, dtype=INDEX)
    for which, edges in enumerate(edge_indices):
        edges_offsets = _csr_of(edges, n_nodes, which)
        slot_offsets = result_offsets + edges_offsets
        merged = np.empty(int(slot_offsets[-1]), dtype=INDEX)
        counts = np.zeros(n_nodes, dtype=INDEX)
        _merge(np.ascontiguousarray(result[0], dtype=INDEX), result_offsets,
               np.ascontiguousarray(np.asarray(edges)[0], dtype=INDEX), edges_offsets, slot_offsets, merged, counts)
        result = gather_slots(merged, slot_offsets, counts)
        result_offsets = np.zeros(n_nodes + 1, dtype=INDEX)
        np.cumsum(counts, out=result_offsets[1:])
    return result
