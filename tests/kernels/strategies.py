"""Hypothesis strategies for batches of events: CSR offsets plus per-hit coordinates."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


@st.composite
def event_sizes(draw, max_events: int = 6, max_hits: int = 40) -> np.ndarray:
    """Hit counts per event, with 0, 1 and small events drawn often."""
    sizes = draw(st.lists(st.one_of(st.integers(0, 3), st.integers(0, max_hits)),
                          min_size=1, max_size=max_events))
    return np.array(sizes, dtype=np.int64)


def offsets_of(sizes: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


@st.composite
def points(draw, n: int, n_features: int, grid: float | None = None) -> np.ndarray:
    """``n`` points drawn from a coarse lattice (so duplicates and distance ties occur) or
    from a continuous range, as float32 like the event format's columns."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        values = rng.integers(-3, 4, size=(n, n_features)) * (grid or 1.0)
    else:
        values = rng.uniform(-10, 10, size=(n, n_features))
    return values.astype(np.float32)
