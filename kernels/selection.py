"""Hit selection on CSR events: keep the hits a score accepts, and never fewer than a
minimum per event (its best-scored hits), so that with ``min_hits >= 1`` every event with
hits keeps some."""

from __future__ import annotations

import numba
import numpy as np

from ._csr import check_offsets


@numba.njit(parallel=True, cache=True)
def _select(offsets, score, threshold, min_hits, keep):
    for event in numba.prange(offsets.size - 1):
        start, stop = offsets[event], offsets[event + 1]
        accepted = 0
        for hit in range(start, stop):
            keep[hit] = score[hit] >= threshold
            accepted += keep[hit]
        if accepted >= min_hits or accepted == stop - start:
            continue
        order = np.argsort(-score[start:stop])
        for rank in range(min(min_hits, stop - start)):
            keep[start + order[rank]] = True


def select_hits(offsets: np.ndarray, score: np.ndarray, threshold: float, min_hits: int) -> np.ndarray:
    """Boolean mask over hits: ``score >= threshold``, topped up per event with its
    highest-scored hits until it holds ``min_hits`` (or all its hits)."""
    offsets = check_offsets(offsets, len(score)).astype(np.int64)
    if min_hits < 0:
        raise ValueError(f"min_hits must be >= 0, got {min_hits}")
    keep = np.empty(len(score), dtype=np.bool_)
    _select(offsets, np.asarray(score, dtype=np.float64), float(threshold), int(min_hits), keep)
    return keep
