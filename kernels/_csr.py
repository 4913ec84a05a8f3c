"""Shared pieces of the graph builders: argument checks, the bounded neighbour heap, and
the slot layout that turns per-hit heaps into a CSR ``edge_index``.

Every builder writes, for each target hit, up to ``k`` source hits into a fixed block of
"slots" that the caller allocated once for the whole batch; ``compact_slots`` then squeezes
the filled slots into ``edge_index`` of shape (2, E), sources grouped by target.
"""

from __future__ import annotations

import numba
import numpy as np

INDEX = np.int64


def check_offsets(offsets: np.ndarray, n_hits: int | None = None) -> np.ndarray:
    """Return ``offsets`` as a 1-D integer array, raising ``ValueError`` if it is not CSR."""
    offsets = np.asarray(offsets)
    if offsets.ndim != 1 or offsets.size == 0 or offsets.dtype.kind not in "iu":
        raise ValueError(f"offsets must be a non-empty 1-D integer array, got {offsets.dtype}{offsets.shape}")
    if offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        raise ValueError("offsets must start at 0 and be non-decreasing")
    if n_hits is not None and offsets[-1] != n_hits:
        raise ValueError(f"offsets end at {offsets[-1]} but there are {n_hits} hits")
    return offsets


def check_columns(offsets: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
    """Check that per-hit 1-D columns match ``offsets``; return them as float64 arrays."""
    out = []
    for column in columns:
        column = np.asarray(column, dtype=np.float64)
        if column.ndim != 1 or column.shape[0] != offsets[-1]:
            raise ValueError(f"hit column has shape {column.shape}, expected ({offsets[-1]},)")
        out.append(column)
    return out


def slot_layout(offsets: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-event heap width ``min(k, n - 1)`` and the first slot of each event (CSR over slots)."""
    sizes = np.diff(offsets).astype(INDEX)
    width = np.clip(np.minimum(sizes - 1, k), 0, None)
    slot_offsets = np.zeros(sizes.size + 1, dtype=INDEX)
    np.cumsum(sizes * width, out=slot_offsets[1:])
    return width, slot_offsets


@numba.njit(inline="always")
def _before(d1: float, j1: int, d2: float, j2: int) -> bool:
    """Total order of candidates: by distance, ties by the smaller hit index."""
    return d1 < d2 or (d1 == d2 and j1 < j2)


@numba.njit(inline="always")
def heap_push(dist, src, base, size, cap, d, j) -> int:
    """Offer candidate (d, j) to the max-heap ``dist/src[base:base+cap]`` holding ``size`` items.

    Returns the new size. The root holds the worst kept candidate.
    """
    if size < cap:
        pos = size
        size += 1
        while pos > 0:
            parent = (pos - 1) >> 1
            if _before(dist[base + parent], src[base + parent], d, j):
                dist[base + pos] = dist[base + parent]
                src[base + pos] = src[base + parent]
                pos = parent
            else:
                break
        dist[base + pos] = d
        src[base + pos] = j
        return size
    if not _before(d, j, dist[base], src[base]):
        return size
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and _before(dist[base + child], src[base + child],
                                        dist[base + child + 1], src[base + child + 1]):
            child += 1
        if _before(d, j, dist[base + child], src[base + child]):
            dist[base + pos] = dist[base + child]
            src[base + pos] = src[base + child]
            pos = child
        else:
            break
    dist[base + pos] = d
    src[base + pos] = j
    return size


@numba.njit(inline="always")
def heap_sort(dist, src, base, size) -> None:
    """Sort a max-heap in place into ascending (distance, index) order."""
    for end in range(size - 1, 0, -1):
        d, j = dist[base + end], src[base + end]
        dist[base + end], src[base + end] = dist[base], src[base]
        pos = 0
        while True:
            child = 2 * pos + 1
            if child >= end:
                break
            if child + 1 < end and _before(dist[base + child], src[base + child],
                                           dist[base + child + 1], src[base + child + 1]):
                child += 1
            if _before(d, j, dist[base + child], src[base + child]):
                dist[base + pos] = dist[base + child]
                src[base + pos] = src[base + child]
                pos = child
            else:
                break
        dist[base + pos] = d
        src[base + pos] = j


@numba.njit(parallel=True, cache=True)
def _gather(src, counts, offsets, width, slot_offsets, edge_offsets, out):
    n_events = offsets.shape[0] - 1
    for e in numba.prange(n_events):
        w = width[e]
        for i in range(offsets[e], offsets[e + 1]):
            slot = slot_offsets[e] + (i - offsets[e]) * w
            first = edge_offsets[i]
            for m in range(counts[i]):
                out[0, first + m] = src[slot + m]
                out[1, first + m] = i


def compact_slots(src: np.ndarray, counts: np.ndarray, offsets: np.ndarray,
                  width: np.ndarray, slot_offsets: np.ndarray) -> np.ndarray:
    """Squeeze filled heap slots into ``edge_index`` (2, E) int64, grouped by target hit."""
    edge_offsets = np.zeros(counts.size + 1, dtype=INDEX)
    np.cumsum(counts, out=edge_offsets[1:])
    out = np.empty((2, int(edge_offsets[-1])), dtype=INDEX)
    if counts.size:
        _gather(src, counts, offsets.astype(INDEX, copy=False), width, slot_offsets, edge_offsets, out)
    return out
