"""Union of several graphs on the same hits, duplicates removed, in CSR order."""

from __future__ import annotations

import numba
import numpy as np

from ._csr import INDEX


@numba.njit(parallel=True, cache=True)
def _merge(n_nodes, sources, target_offsets, slot_offsets, merged, counts):
    n_graphs = target_offsets.shape[0]
    for i in numba.prange(n_nodes):
        first = slot_offsets[i]
        m = 0
        for g in range(n_graphs):
            for s in range(target_offsets[g, i], target_offsets[g, i + 1]):
                merged[first + m] = sources[g][s]
                m += 1
        block = np.sort(merged[first:first + m])
        kept = 0
        for s in range(m):
            if s == 0 or block[s] != block[s - 1]:
                merged[first + kept] = block[s]
                kept += 1
        counts[i] = kept


@numba.njit(parallel=True, cache=True)
def _gather(merged, slot_offsets, edge_offsets, out):
    for i in numba.prange(edge_offsets.shape[0] - 1):
        for m in range(edge_offsets[i + 1] - edge_offsets[i]):
            out[0, edge_offsets[i] + m] = merged[slot_offsets[i] + m]
            out[1, edge_offsets[i] + m] = i


def union_graphs(n_nodes: int, *edge_indices: np.ndarray) -> np.ndarray:
    """Merge ``edge_index`` arrays (each grouped by target) into one without repeated edges.

    Returns ``edge_index`` (2, E) int64 grouped by target, sources in increasing order.
    """
    target_offsets = np.zeros((len(edge_indices), n_nodes + 1), dtype=INDEX)
    for g, edges in enumerate(edge_indices):
        edges = np.asarray(edges)
        if edges.ndim != 2 or edges.shape[0] != 2:
            raise ValueError(f"edge_index {g} must have shape (2, E), got {edges.shape}")
        if edges.shape[1] and (np.any(np.diff(edges[1]) < 0) or edges[1, -1] >= n_nodes or edges[1, 0] < 0):
            raise ValueError(f"edge_index {g} is not grouped by target within [0, {n_nodes})")
        target_offsets[g] = np.searchsorted(edges[1], np.arange(n_nodes + 1), side="left")
    per_node = (target_offsets[:, 1:] - target_offsets[:, :-1]).sum(axis=0)
    slot_offsets = np.zeros(n_nodes + 1, dtype=INDEX)
    np.cumsum(per_node, out=slot_offsets[1:])
    merged = np.empty(int(slot_offsets[-1]), dtype=INDEX)
    counts = np.zeros(n_nodes, dtype=INDEX)
    sources = numba.typed.List([np.ascontiguousarray(e[0], dtype=INDEX) for e in edge_indices])
    _merge(n_nodes, sources, target_offsets, slot_offsets, merged, counts)
    edge_offsets = np.zeros(n_nodes + 1, dtype=INDEX)
    np.cumsum(counts, out=edge_offsets[1:])
    out = np.empty((2, int(edge_offsets[-1])), dtype=INDEX)
    _gather(merged, slot_offsets, edge_offsets, out)
    return out
