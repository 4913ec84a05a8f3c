"""Detector-topology graphs: neighbours by sensor position rather than by feature distance.

Positions, not channel numbers, define the topology (see the event format): the modules of
a Baikal-GVD string share x and y, Telescope Array counters sit on a square grid.
"""

from __future__ import annotations

import numba
import numpy as np

from ._csr import INDEX, check_columns, check_offsets
from .knn import radius_graph


@numba.njit(cache=True)
def _in_cylinder(x, y, z, i, j, radius2, half_height) -> bool:
    dx = x[j] - x[i]
    dy = y[j] - y[i]
    return dx * dx + dy * dy <= radius2 and abs(z[j] - z[i]) <= half_height


@numba.njit(parallel=True, cache=True)
def _count_cylinder(offsets, x, y, z, radius2, half_height, counts):
    for e in numba.prange(offsets.shape[0] - 1):
        for i in range(offsets[e], offsets[e + 1]):
            c = 0
            for j in range(offsets[e], offsets[e + 1]):
                if j != i and _in_cylinder(x, y, z, i, j, radius2, half_height):
                    c += 1
            counts[i] = c


@numba.njit(parallel=True, cache=True)
def _fill_cylinder(offsets, x, y, z, radius2, half_height, edge_offsets, out):
    for e in numba.prange(offsets.shape[0] - 1):
        for i in range(offsets[e], offsets[e + 1]):
            slot = edge_offsets[i]
            for j in range(offsets[e], offsets[e + 1]):
                if j != i and _in_cylinder(x, y, z, i, j, radius2, half_height):
                    out[0, slot] = j
                    out[1, slot] = i
                    slot += 1


def cylinder_graph(offsets: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                   radius: float, half_height: float) -> np.ndarray:
    """Connect hits of one event whose sensors lie within a vertical cylinder of each other.

    ``j`` is a source of target ``i`` when the horizontal distance is at most ``radius`` (m)
    and the vertical distance at most ``half_height`` (m). Sources of a target are in
    increasing index order. Output as in :func:`graphreco.kernels.knn_graph`.
    """
    offsets = check_offsets(offsets).astype(INDEX, copy=False)
    x, y, z = check_columns(offsets, x, y, z)
    counts = np.zeros(x.size, dtype=INDEX)
    _count_cylinder(offsets, x, y, z, float(radius) ** 2, float(half_height), counts)
    edge_offsets = np.zeros(x.size + 1, dtype=INDEX)
    np.cumsum(counts, out=edge_offsets[1:])
    out = np.empty((2, int(edge_offsets[-1])), dtype=INDEX)
    _fill_cylinder(offsets, x, y, z, float(radius) ** 2, float(half_height), edge_offsets, out)
    return out


def string_graph(offsets: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                 module_spacing: float, max_module_steps: int, string_spacing: float) -> np.ndarray:
    """String topology of a vertical-string array such as Baikal-GVD.

    A hit's neighbours are the other hits on the same string within ``max_module_steps``
    modules (repeated pulses of one module included) and the hits on adjacent strings, up
    to ``string_spacing`` (m) away horizontally, in the same depth window. Half a module
    spacing and 10 % of the string spacing are added as tolerance for survey scatter.
    """
    return cylinder_graph(offsets, x, y, z, radius=1.1 * string_spacing,
                          half_height=(max_module_steps + 0.5) * module_spacing)


def surface_grid_graph(offsets: np.ndarray, x: np.ndarray, y: np.ndarray, grid_spacing: float,
                       max_steps: float, max_neighbours: int) -> np.ndarray:
    """Neighbours on a surface array with counters on a square grid (Telescope Array SD).

    Counters within ``max_steps`` grid spacings (m), plus 10 % tolerance for the survey
    scatter of counter positions, keeping the ``max_neighbours`` nearest.
    """
    xy = np.stack(check_columns(check_offsets(offsets), x, y), axis=1)
    return radius_graph(offsets, xy, 1.1 * max_steps * grid_spacing, max_neighbours)
