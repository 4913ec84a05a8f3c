"""The classical hit selection of the toy line: a sliding time window.

Signal hits of an event span at most ``WINDOW_NS`` = ``L_max / v_min`` = 200 ns (the
longest track at the slowest speed), while noise is spread over the 2 us readout. The
cut keeps the hits inside the ``WINDOW_NS`` window that holds the most hits (the earliest
such window on a tie) and rejects the others.
"""

from __future__ import annotations

import numpy as np

from graphreco.detectors.base import DetectorConfiguration, HitColumns

from .simulation import LENGTH_RANGE, SPEED_RANGE

WINDOW_NS = LENGTH_RANGE[1] / SPEED_RANGE[0]
"""Width of the time window (ns)."""


def time_window_cut(offsets: np.ndarray, hits: HitColumns, width_ns: float = WINDOW_NS,
                    configuration: DetectorConfiguration | None = None) -> dict[str, np.ndarray]:
    """``hit_score`` 1 for the hits in each event's busiest ``width_ns`` window, else 0.

    Args:
        offsets: (n_events + 1,) CSR event boundaries.
        hits: per-hit columns; reads ``t`` (ns), shape (n_hits,).
        width_ns: width of the window (ns).
        configuration: not needed (the toy's cut reads the hit times only).

    Returns:
        ``{"hit_score": (n_hits,) float32}`` in the order of ``hits``.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    sizes = np.diff(offsets)
    t = np.asarray(hits["t"], dtype=np.float64)
    score = np.zeros(t.size, dtype=np.float32)
    if not t.size:
        return {"hit_score": score}
    event = np.repeat(np.arange(sizes.size), sizes)
    order = np.lexsort((t, event))  # by event, then time: events keep their offsets
    spacing = np.ptp(t) + 2 * width_ns + 1.0  # separates events on one time axis
    key = event * spacing + t[order]
    in_window = np.searchsorted(key, key + width_ns, side="right") - np.arange(key.size)
    starts = offsets[:-1][sizes > 0]
    busiest = np.repeat(np.maximum.reduceat(in_window, starts), sizes[sizes > 0])
    first = np.minimum.reduceat(np.where(in_window == busiest, np.arange(key.size), key.size), starts)
    opening = np.repeat(key[first], sizes[sizes > 0])
    score[order] = (key >= opening) & (key <= opening + width_ns)
    return {"hit_score": score}
