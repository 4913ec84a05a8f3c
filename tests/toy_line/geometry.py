"""Where the sensors of the toy line are: ``sensors.csv`` (columns ``sensor``, ``x_m``),
one row per sensor, positions in metres along the line, 2 m apart with one missing
sensor at 18 m (a gap that a graph recipe must bridge)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TABLE = Path(__file__).with_name("sensors.csv")


def sensor_positions(path: Path = TABLE) -> np.ndarray:
    """Positions (m) of the sensors along the line, shape (n_sensors,) float64, indexed by
    sensor number (the table lists sensors 0..n-1 in order)."""
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    if not np.array_equal(table[:, 0], np.arange(len(table))):
        raise ValueError(f"{path}: sensors must be numbered 0..{len(table) - 1} in order")
    return table[:, 1]


POSITIONS = sensor_positions()
"""Sensor positions (m), shape (16,)."""
