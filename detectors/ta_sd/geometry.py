"""Telescope Array surface-detector geometry: 507 counters on a 1.2 km square grid.

The array (Abu-Zayyad et al., "The surface detector array of the Telescope Array
experiment", NIM A 689 (2012) 87): 507 scintillator counters on a square grid of 1.2 km
spacing covering ~700 km^2 of the Utah desert at ~1,400 m a.s.l.; each counter has two
layers (upper, lower) of 1.2 cm plastic scintillator of 3 m^2 each.

Outline. TA labels a counter by its grid position XXYY (column XX, row YY, 1.2 km steps;
x east, y north). Its reconstruction cuts on the distance of the core to the array edge,
a convex polygon through the outermost counters: here the convex hull of the live
counters of the configuration in use (``edge_polygon``). The design outline, which
places the counters of the design layout, is given in grid units in D. Ivanov's
``sdanalysis`` (``sdparamborder.c``, ``sdedgelinesRAW``):
(6,1) (18,1) (24,8) (24,12) (23,17) (21,23) (19,28) (15,28) (11,26) (1,16) (1,6).
Its area is 479 grid cells = 690 km^2. The grid sites inside or on it number 506; the real
array has 507 because counters stand a little off their nominal sites, so the one site
nearest outside the polygon, (19, 2) (130 m outside), is added. Counters sit exactly on
their nominal sites here (the real ones deviate by tens of metres).

Frame: x east, y north, origin at the grid site nearest the counters' centroid (XXYY
1313), so positions are multiples of 1,200 m. ``z`` is the altitude relative to that
counter: a smooth synthetic relief (-58 to +22 m, rms 18 m; the surveyed altitudes are
not public in a form we could ship) plus the drop of the Earth's surface below the
tangent plane, d^2 / (2 R_earth) (up to 30 m at the far corners), which the TA SD Monte
Carlo applies too. Channel ids are TA's XXYY numbers. The shipped default layout
(``layout.geometry.parquet``, written by scripts/make_default_layouts.py) is this design.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from ..base import DetectorConfiguration

GRID_SPACING = 1200.0  # m
N_COUNTERS = 507
LAYER_AREA = 3.0  # m^2 per scintillator layer
LAYER_THICKNESS = 0.012  # m
CENTRE_ALTITUDE = 1400.0  # m a.s.l.
EARTH_RADIUS = 6.371e6  # m
FIDUCIAL_MAX_ZENITH = math.radians(45.0)  # rad
FIDUCIAL_MIN_EDGE_DISTANCE = GRID_SPACING  # m
"""TA's fiducial cuts of its SD spectrum (Abu-Zayyad et al., ApJL 768 (2013) L1): zenith
below 45 deg and the core at least 1.2 km inside the array's edge, where the footprint is
not clipped by the border."""
EDGE_GRID = np.array([(6, 1), (18, 1), (24, 8), (24, 12), (23, 17), (21, 23), (19, 28), (15, 28),
                      (11, 26), (1, 16), (1, 6)], dtype=float)  # counter-clockwise
EXTRA_SITE = (19, 2)
ORIGIN_SITE = (13, 13)


def _inside_or_on(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which points (n, 2) lie inside or on a convex counter-clockwise polygon."""
    start, edge = polygon, np.roll(polygon, -1, axis=0) - polygon
    cross = edge[None, :, 0] * (points[:, None, 1] - start[None, :, 1]) \
        - edge[None, :, 1] * (points[:, None, 0] - start[None, :, 0])
    return np.all(cross >= -1e-9, axis=1)


@cache
def counter_grid() -> tuple[np.ndarray, np.ndarray]:
    """Grid column and row (XX, YY) of each counter, ordered by XXYY."""
    xx, yy = np.meshgrid(np.arange(0, 30), np.arange(0, 30), indexing="ij")
    sites = np.column_stack([xx.ravel(), yy.ravel()])
    sites = np.vstack([sites[_inside_or_on(sites.astype(float), EDGE_GRID)], [EXTRA_SITE]])
    sites = sites[np.argsort(sites[:, 0] * 100 + sites[:, 1])]
    sites.setflags(write=False)
    return sites[:, 0], sites[:, 1]


def counter_ids() -> np.ndarray:
    """TA counter ids XXYY (int32), aligned with :func:`counter_positions`."""
    xx, yy = counter_grid()
    return (xx * 100 + yy).astype(np.int32)


def _relief(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Synthetic ground altitude (m) relative to the origin site, before curvature."""
    def shape(u, v):
        return 30.0 * np.sin(2 * np.pi * u / 17e3 + 0.7) * np.cos(2 * np.pi * v / 23e3) - 0.8e-3 * u + 0.5e-3 * v

    return shape(x, y) - shape(0.0, 0.0)


@cache
def _positions() -> np.ndarray:
    xx, yy = counter_grid()
    x = (xx - ORIGIN_SITE[0]) * GRID_SPACING
    y = (yy - ORIGIN_SITE[1]) * GRID_SPACING
    z = _relief(x, y) - (x * x + y * y) / (2.0 * EARTH_RADIUS)
    positions = np.column_stack([x, y, z]).astype(np.float64)
    positions.setflags(write=False)
    return positions


def counter_positions() -> np.ndarray:
    """Design counter positions (507, 3) float64 in m: x east, y north, z up relative to
    the array centre; row i is counter ``counter_ids()[i]``. The shipped default layout
    (``layout.geometry.parquet``) is written from these; reconstruction reads the
    configuration in use instead."""
    return _positions().copy()


def design_configuration() -> DetectorConfiguration:
    """The design layout as a configuration: every counter of :func:`counter_positions`
    live, channel XXYY."""
    return DetectorConfiguration("ta-sd", counter_positions(), counter_ids(), np.ones(N_COUNTERS, dtype=bool),
                                 "ta-sd design layout")


def design_outline() -> np.ndarray:
    """Vertices (m) of the design outline (``EDGE_GRID``), counter-clockwise: where the
    simulation throws cores."""
    return (EDGE_GRID - np.array(ORIGIN_SITE, dtype=float)) * GRID_SPACING


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Vertices of the convex hull of ``points`` (n, 2), counter-clockwise, without
    collinear points (Andrew's monotone chain)."""
    points = np.unique(points, axis=0)  # sorted by x, then y

    def half(ordered: np.ndarray) -> list:
        chain: list = []
        for point in ordered:
            while len(chain) >= 2 and ((chain[-1][0] - chain[-2][0]) * (point[1] - chain[-2][1])
                                       - (chain[-1][1] - chain[-2][1]) * (point[0] - chain[-2][0])) <= 1e-9:
                chain.pop()
            chain.append(point)
        return chain[:-1]

    return np.array(half(points) + half(points[::-1]))


def edge_polygon(configuration: DetectorConfiguration) -> np.ndarray:
    """Vertices (m) of the array edge of ``configuration``, counter-clockwise: the convex
    hull of its live counters (x, y). TA's border cut uses a polygon through the outermost
    counters (``EDGE_GRID``, from sdanalysis); the hull is that polygon for any survey
    frame, layout or set of dead counters (for the design layout it adds the one counter
    outside the sdanalysis polygon, (19, 2): 0.5 grid cells more area)."""
    live = configuration.live_positions[:, :2]
    if len(live) < 3:
        raise ValueError(f"{configuration.source}: {len(live)} live counters do not span an array")
    return _convex_hull(live)


def array_area(configuration: DetectorConfiguration) -> float:
    """Area (m^2) inside the array edge of ``configuration``."""
    v = edge_polygon(configuration)
    return 0.5 * float(np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1]))


def distance_to_polygon(x: np.ndarray | float, y: np.ndarray | float, polygon: np.ndarray) -> np.ndarray:
    """Signed distance (m) of ground points (x, y) in m to a convex counter-clockwise
    ``polygon`` (k, 2) m: positive inside, negative outside; the shape of x and y."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    points = np.stack([x.ravel(), y.ravel()], axis=1)
    start = polygon
    edge = np.roll(start, -1, axis=0) - start
    length = np.hypot(edge[:, 0], edge[:, 1])
    relative = points[:, None, :] - start[None, :, :]
    inward = (edge[None, :, 0] * relative[..., 1] - edge[None, :, 1] * relative[..., 0]) / length
    along = np.clip((relative * edge[None]).sum(axis=-1) / length ** 2, 0.0, 1.0)
    gap = relative - along[..., None] * edge[None]
    outside = np.hypot(gap[..., 0], gap[..., 1]).min(axis=1)
    inside = inward.min(axis=1)
    return np.where(inside >= 0.0, inside, -outside).reshape(x.shape)


def distance_to_edge(x: np.ndarray | float, y: np.ndarray | float,
                     configuration: DetectorConfiguration) -> np.ndarray:
    """Signed distance (m) of ground points (x, y) in m to the array edge of
    ``configuration`` (:func:`edge_polygon`): positive inside, negative outside. The TA
    border cut keeps cores >= 1200 m inside."""
    return distance_to_polygon(x, y, edge_polygon(configuration))


def in_fiducial_volume(zenith: np.ndarray, core_x: np.ndarray, core_y: np.ndarray,
                       configuration: DetectorConfiguration) -> np.ndarray:
    """Whether showers of ``zenith`` (rad) and core (m) pass TA's fiducial cuts
    (``FIDUCIAL_MAX_ZENITH``, ``FIDUCIAL_MIN_EDGE_DISTANCE`` inside the edge of
    ``configuration``); False where any is NaN."""
    return (np.asarray(zenith) < FIDUCIAL_MAX_ZENITH) \
        & (distance_to_edge(core_x, core_y, configuration) >= FIDUCIAL_MIN_EDGE_DISTANCE)
