"""Baikal-GVD event simulation in the event format's terms (CSR arrays with truth).

Noise-only readout windows so far: the physics of muon tracks, cascades and
atmospheric-muon bundles, and the trigger, build on this (issue: Baikal-GVD).
"""

from __future__ import annotations

import numpy as np

from ..base import SimulatedEvents
from .geometry import load_geometry
from .noise import DEFAULT_RATE_HZ, DEFAULT_WINDOW_NS, sample_noise


def simulate_noise_events(n_events: int, seed: int = 0, n_clusters: int = 1,
                          noise_rate_hz: float = DEFAULT_RATE_HZ,
                          window_ns: float = DEFAULT_WINDOW_NS) -> SimulatedEvents:
    """Readout windows of ``n_clusters`` clusters holding only optical noise."""
    rng = np.random.default_rng(seed)
    geometry = load_geometry().select_clusters(np.arange(n_clusters))
    offsets, module, t, charge = sample_noise(rng, n_events, geometry.n_modules, noise_rate_hz, window_ns)
    hits = {"x": geometry.x[module].astype(np.float32), "y": geometry.y[module].astype(np.float32),
            "z": geometry.z[module].astype(np.float32), "t": t, "charge": charge,
            "channel": geometry.channel[module].astype(np.int32),
            "true_label": np.zeros(t.size, dtype=np.int8)}
    events = {"true_kind": np.full(n_events, "noise", dtype=object)}
    return SimulatedEvents("baikal-gvd", np.arange(n_events, dtype=np.int64), offsets, hits, events)
