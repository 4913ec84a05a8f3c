"""Shared pieces of the graph builders: argument checks, the bounded sorted neighbour list, the
parallel loop over events, and the slot layout that turns per-hit neighbour lists into a CSR
``edge_index``.

Every builder writes, for each target hit, up to ``k`` source hits, nearest first, into a
fixed block of "slots" (row 0 of an array of shape (2, n_slots) allocated once for the whole batch);
``finish_slots`` then turns them into ``edge_index``, sources grouped by target.
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
    """Per-event list width ``min(k, n - 1)`` and the first slot of each event (CSR over slots)."""
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
def sorted_insert(dist, src, base, size, cap, d, j) -> int:
    """Offer candidate (d, j) to the list ``dist/src[base:base+cap]`` of ``size`` items kept
    in ascending (distance, index) order; the last item is dropped when it is full.

    Returns the new size.
    """
    if size == cap:
        if not _before(d, j, dist[base + size - 1], src[base + size - 1]):
            return size
        pos = size - 1
    else:
        pos = size
        size += 1
    while pos > 0 and _before(d, j, dist[base + pos - 1], src[base + pos - 1]):
        dist[base + pos] = dist[base + pos - 1]
        src[base + pos] = src[base + pos - 1]
        pos -= 1
    dist[base + pos] = d
    src[base + pos] = j
    return size


def over_events(search):
    """The parallel loop of a builder over events, around its per-event ``search``.

    ``search(first, n, k, slot0, out, counts, *params)`` fills the slots of one event: its
    first hit, its number of hits, its neighbours per hit (``width[e]``, at least 1: events
    without neighbours are skipped, their counts stay zero), its first slot, and the slot
    arrays. It is a ``numba.extending.register_jitable`` function, compiled into the
    returned kernel (a numba dispatcher passed here would make the kernel's cache key differ
    in every process). numba keys the kernel's on-disk cache on this file alone: after a
    change to a search's module, a cache folder that outlives it (an in-tree
    ``__pycache__``) keeps the old kernel until this file changes too or the cache is
    cleared. Returns ``kernel(offsets, width, slot_offsets, out, counts, params)``,
    ``params`` the tuple of the search's own arguments.
    """

    @numba.njit(parallel=True, cache=True)
    def kernel(offsets, width, slot_offsets, out, counts, params):
        for e in numba.prange(offsets.shape[0] - 1):
            if width[e] > 0:
                search(offsets[e], offsets[e + 1] - offsets[e], width[e], slot_offsets[e], out, counts, *params)

    return kernel


@numba.njit(inline="always")
def store_neighbours(out, counts, hit, slot, near_j, size) -> None:
    """Write the ``size`` sources kept for ``hit`` into its slots starting at ``slot``."""
    for m in range(size):
        out[0, slot + m] = near_j[m]
    counts[hit] = size


@numba.njit(parallel=True, cache=True)
def _fill_targets(offsets, width, slot_offsets, out):
    for e in numba.prange(offsets.shape[0] - 1):
        w = width[e]
        for i in range(offsets[e], offsets[e + 1]):
            slot = slot_offsets[e] + (i - offsets[e]) * w
            for m in range(w):
                out[1, slot + m] = i


def finish_slots(out: np.ndarray, counts: np.ndarray, offsets: np.ndarray, width: np.ndarray,
                 slot_offsets: np.ndarray) -> np.ndarray:
    """Turn slots (sources in ``out[0]``, ``counts`` filled per hit) into ``edge_index``.

    When every slot is filled (kNN) the slots already are the CSR layout: only the target
    row is written, in place. Otherwise the filled slots are squeezed into a new array.
    """
    if counts.sum() == out.shape[1]:
        _fill_targets(offsets, width, slot_offsets, out)
        return out
    sizes = np.diff(offsets)
    first_hit = np.repeat(offsets[:-1], sizes)
    slot_starts = np.repeat(slot_offsets[:-1], sizes) + (np.arange(counts.size) - first_hit) * np.repeat(width, sizes)
    return gather_slots(out[0], slot_starts, counts)


@numba.njit(parallel=True, cache=True)
def _gather_variable(values, slot_offsets, edge_offsets, out):
    for i in numba.prange(edge_offsets.shape[0] - 1):
        for m in range(edge_offsets[i + 1] - edge_offsets[i]):
            out[0, edge_offsets[i] + m] = values[slot_offsets[i] + m]
            out[1, edge_offsets[i] + m] = i


def gather_slots(values: np.ndarray, slot_offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``edge_index`` from per-target slots of varying size: target ``i`` has its sources in
    ``values[slot_offsets[i]:slot_offsets[i] + counts[i]]`` (only the starts are read)."""
    edge_offsets = np.zeros(counts.size + 1, dtype=INDEX)
    np.cumsum(counts, out=edge_offsets[1:])
    out = np.empty((2, int(edge_offsets[-1])), dtype=INDEX)
    _gather_variable(values, slot_offsets, edge_offsets, out)
    return out
