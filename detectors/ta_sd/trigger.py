"""The TA SD trigger: level-0 and level-1 counter signals, level-2 (event) trigger.

(Abu-Zayyad et al., NIM A 689 (2012) 87, and the TA SD Monte Carlo and trigger backup
``sdmc_spctr.c`` / ``sdtrgbk`` of B. Stokes and D. Ivanov):
- level-0: > 15 FADC counts (0.3 MIP) above pedestal in both layers; such counters are
  read out, with their waveforms, when within +-32 us of a level-2 trigger;
- level-1: > 150 FADC counts (3 MIP) in both layers;
- level-2: three level-1 counters within 8 us of each other (every pair) that are
  adjacent: one of them is a nearest grid neighbour (1.2 km, along a row or a column) of
  the other two, i.e. three in a line or an L. That is the condition the TA Monte Carlo
  applies, and it equals ``sdtrgbk``'s "triangle or line" pattern (all pairs at most two
  grid steps apart, squared distance <= 4, one pair on a grid line). The trigger time is the
  mean time of the earliest such triplet, as in ``sdmc_spctr.c``.
Signals are compared in VEM (1 MIP = 1 VEM here); the level-0 sliding 8-bin (160 ns)
window is not modelled, the whole signal counts.
"""

from __future__ import annotations

import numba
import numpy as np

LEVEL0_VEM = 0.3
LEVEL1_VEM = 3.0
LEVEL2_WINDOW = 8000.0  # ns


def passes(signal_upper: np.ndarray, signal_lower: np.ndarray, threshold: float) -> np.ndarray:
    """Counters whose two layers both exceed ``threshold`` (VEM)."""
    return (signal_upper > threshold) & (signal_lower > threshold)


@numba.njit(cache=True)
def _level2(offsets, column, row, t, level1, window, out):
    for e in range(offsets.shape[0] - 1):
        best = np.inf
        start, stop = offsets[e], offsets[e + 1]
        for j in range(start, stop):
            if not level1[j]:
                continue
            for k in range(start, stop):
                if k == j or not level1[k] or abs(column[k] - column[j]) + abs(row[k] - row[j]) != 1 \
                        or abs(t[k] - t[j]) > window:
                    continue
                for m in range(k + 1, stop):
                    if m == j or not level1[m] or abs(column[m] - column[j]) + abs(row[m] - row[j]) != 1 \
                            or abs(t[m] - t[j]) > window or abs(t[m] - t[k]) > window:
                        continue
                    best = min(best, (t[j] + t[k] + t[m]) / 3.0)
        out[e] = best


def level2_trigger_times(offsets: np.ndarray, column: np.ndarray, row: np.ndarray, t: np.ndarray,
                         level1: np.ndarray, window: float = LEVEL2_WINDOW) -> np.ndarray:
    """Level-2 trigger time (ns) of each event, inf where it does not trigger.

    Per counter hit in CSR order (``offsets``): grid ``column`` and ``row`` (integers,
    1.2 km steps), signal time ``t`` (ns) and whether it has a ``level1`` signal.
    """
    out = np.empty(len(offsets) - 1)
    _level2(np.asarray(offsets, dtype=np.int64), np.asarray(column, dtype=np.int64), np.asarray(row, dtype=np.int64),
            np.asarray(t, dtype=np.float64), np.asarray(level1, dtype=np.bool_), float(window), out)
    return out
