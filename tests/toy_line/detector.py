"""The toy line as a ``Detector``: its event format, node features and graph recipe.

Sensors are ~2 m apart and signal hits follow ``t = t0 + (x - x0) / v`` with v of 0.1 to
0.3 m/ns, so hits are compared in (x, 0.2 m/ns * t): a hit's nearest neighbours in that
plane are its track neighbours when it is signal. Features: x and t relative to the
event's mean, in units of 10 m and 200 ns (the extent of the line and of a track).
"""

from __future__ import annotations

import numpy as np

from graphreco.detectors import Column, Detector, Scaled
from graphreco.detectors.base import HitColumns
from graphreco.kernels import knn_graph

from .baseline import time_window_cut
from .geometry import POSITIONS
from .simulation import NAME, SIMULATOR

NEIGHBOURS = 6
SPEED_REFERENCE = 0.2
"""Speed (m/ns) that converts hit times to lengths in the graph's distance."""


def build_edges(offsets: np.ndarray, hits: HitColumns) -> np.ndarray:
    """Each hit connected to its ``NEIGHBOURS`` nearest hits in (x, SPEED_REFERENCE * t), m."""
    coords = np.stack([hits["x"], hits["t"]], axis=1).astype(np.float64)
    return knn_graph(offsets, coords, NEIGHBOURS, np.array([1.0, SPEED_REFERENCE]))


DETECTOR = Detector(
    name=NAME,
    description=f"toy line of {POSITIONS.size} sensors crossed by one particle, with noise (used by the tests)",
    columns=(
        Column("sensor", "int32", per_hit=True),
        Column("x", "float32", per_hit=True, finite=True),
        Column("t", "float32", per_hit=True, finite=True),
        Column("true_label", "int8", per_hit=True, required=False),
        *(Column(name, "float64", per_hit=False, required=False)
          for name in ("true_position", "true_time", "true_speed", "true_length")),
    ),
    node_features=(
        Scaled("x", 10.0, centre="event_mean"),
        Scaled("t", 200.0, centre="event_mean"),
    ),
    build_edges=build_edges,
    relative_features=(0, 1),
    baseline=time_window_cut,
    max_hits_per_event=1000,
    simulator=SIMULATOR,
    evaluation="hits",
)
