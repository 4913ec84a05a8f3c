"""Optical noise of Baikal-GVD modules: uncorrelated single photo-electron pulses.

Lake-water luminescence and 40K decays give each module a noise rate of 20-100 kHz,
seasonal, typically 30-50 kHz (Baikal-GVD Collaboration, "Time-dependent luminescence of
Lake Baikal water", PoS(ICRC2021)1034; Avrorin et al., arXiv:2106.06288). Pulses are
uniform in time and independent between modules. Their charge follows the single-p.e.
response of the R7081-100 photomultiplier: mean 1 p.e., ~35 % width, modelled as a gamma
distribution of shape 8 (positive, slightly skewed like a measured SPE peak).
"""

from __future__ import annotations

import numpy as np

DEFAULT_RATE_HZ = 40e3
DEFAULT_WINDOW_NS = 5000.0
SPE_SHAPE = 8.0


def single_pe_charges(rng: np.random.Generator, n: int) -> np.ndarray:
    """Charges (p.e.) of ``n`` single photo-electron pulses."""
    return rng.gamma(SPE_SHAPE, 1.0 / SPE_SHAPE, n).astype(np.float32)


def sample_noise(rng: np.random.Generator, n_events: int, n_modules: int, rate_hz: float = DEFAULT_RATE_HZ,
                 window_ns: float = DEFAULT_WINDOW_NS) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Noise pulses of ``n_events`` readout windows over ``n_modules`` modules.

    Returns CSR ``offsets``, and per pulse the module index (into the caller's module
    list), time (ns, uniform in [0, window)) and charge (p.e.), sorted by time in each event.
    """
    mean = n_modules * rate_hz * window_ns * 1e-9
    counts = rng.poisson(mean, n_events)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    module = rng.integers(0, n_modules, offsets[-1])
    event = np.repeat(np.arange(n_events), counts)
    time = rng.uniform(0.0, window_ns, offsets[-1])
    order = np.lexsort((time, event))
    return offsets, module[order], time[order].astype(np.float32), single_pe_charges(rng, int(offsets[-1]))
