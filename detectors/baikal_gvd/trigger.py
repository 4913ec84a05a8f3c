"""The Baikal-GVD cluster trigger: two neighbouring optical modules on one string with
pulses within 100 ns, one of at least 4.5 p.e. and the other of at least 1.5 p.e.
(Baikal-GVD Collaboration, Avrorin et al., "Data acquisition system of the Baikal-GVD",
PoS(ICRC2015)1109; EPJ Web Conf. 191 (2018) 01006)."""

from __future__ import annotations

import numba
import numpy as np

HIGH_THRESHOLD = 4.5  # p.e.
LOW_THRESHOLD = 1.5  # p.e.
COINCIDENCE_WINDOW = 100.0  # ns


@numba.njit(parallel=True, cache=True)
def _trigger_times(offsets, string, module, t, charge, high, low, window, out):
    for e in numba.prange(offsets.shape[0] - 1):
        best = np.inf
        for i in range(offsets[e], offsets[e + 1]):
            if charge[i] < high:
                continue
            for j in range(offsets[e], offsets[e + 1]):
                if (string[j] == string[i] and abs(module[j] - module[i]) == 1 and charge[j] >= low
                        and abs(t[j] - t[i]) <= window):
                    best = min(best, t[i], t[j])
        out[e] = best


def trigger_times(offsets: np.ndarray, string: np.ndarray, module: np.ndarray, t: np.ndarray,
                  charge: np.ndarray) -> np.ndarray:
    """Time (ns) of the earliest trigger condition in each event, inf where none.

    ``string`` identifies a string (unique in the array) and ``module`` the position of a
    module along it, so that neighbours differ by one.
    """
    out = np.empty(len(offsets) - 1)
    _trigger_times(np.asarray(offsets, dtype=np.int64), np.asarray(string, dtype=np.int64),
                   np.asarray(module, dtype=np.int64), np.asarray(t, dtype=np.float64),
                   np.asarray(charge, dtype=np.float64), HIGH_THRESHOLD, LOW_THRESHOLD, COINCIDENCE_WINDOW, out)
    return out
