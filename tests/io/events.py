"""Small event tables made on the fly for the I/O tests."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from graphreco import detectors
from graphreco.io import event_table
from graphreco.io.configuration import default_configuration

BAIKAL_HITS = ("x", "y", "z", "t", "charge")


def on_sensors(detector: str, rng: np.random.Generator, n_hits: int) -> dict[str, np.ndarray]:
    """Positions ``x``, ``y``, ``z`` (float32) of ``n_hits`` hits on random live sensors of
    the detector's default layout (empty for a detector without one)."""
    configuration = default_configuration(detectors.get(detector))
    if configuration is None:
        return {}
    position = configuration.live_positions[rng.integers(0, configuration.live.sum(), n_hits)]
    return {name: position[:, k].astype(np.float32) for k, name in enumerate("xyz")}


def baikal_table(sizes: list[int], seed: int = 0, first_id: int = 0) -> pa.Table:
    """A valid Baikal-GVD table with events of the given hit counts."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    hits = {name: rng.normal(size=offsets[-1]).astype(np.float32) for name in BAIKAL_HITS}
    hits |= on_sensors("baikal-gvd", rng, int(offsets[-1]))
    event_id = np.arange(first_id, first_id + len(sizes), dtype=np.int64)
    return event_table(event_id, offsets, hits, {"true_energy": rng.uniform(1, 1e5, len(sizes))},
                       detector="baikal-gvd")


def replace_column(table: pa.Table, name: str, column: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, column)
