"""Baikal-GVD event simulation, written in the event format with truth.

Noise-only readout windows so far: the physics of muon tracks, cascades and
atmospheric-muon bundles, and the trigger, build on this (issue: Baikal-GVD).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .geometry import load_geometry
from .noise import DEFAULT_RATE_HZ, DEFAULT_WINDOW_NS, sample_noise


def simulate_noise_events(n_events: int, seed: int = 0, n_clusters: int = 1,
                          noise_rate_hz: float = DEFAULT_RATE_HZ,
                          window_ns: float = DEFAULT_WINDOW_NS) -> pa.Table:
    """Readout windows of ``n_clusters`` clusters holding only optical noise."""
    rng = np.random.default_rng(seed)
    geometry = load_geometry().select_clusters(np.arange(n_clusters))
    offsets, module, t, charge = sample_noise(rng, n_events, geometry.n_modules, noise_rate_hz, window_ns)
    hits = {"x": geometry.x[module].astype(np.float32), "y": geometry.y[module].astype(np.float32),
            "z": geometry.z[module].astype(np.float32), "t": t, "charge": charge,
            "channel": geometry.channel[module].astype(np.int32),
            "true_label": np.zeros(t.size, dtype=np.int8)}
    columns = {"event_id": pa.array(np.arange(n_events, dtype=np.int64))}
    columns |= {name: pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))
                for name, values in hits.items()}
    columns["true_kind"] = pa.array(["noise"] * n_events)
    return pa.table(columns).replace_schema_metadata({"detector": "baikal-gvd"})
