import numpy as np
import pytest

from graphreco import detectors
from graphreco.detectors.ta_sd.geometry import (
    GRID_SPACING,
    ORIGIN_SITE,
    array_area,
    counter_grid,
    counter_ids,
    counter_positions,
    design_configuration,
    design_outline,
    distance_to_edge,
    in_fiducial_volume,
)
from graphreco.io import read_configuration

DESIGN = design_configuration()


def test_the_shipped_layout_is_the_design_layout():
    shipped = read_configuration(detectors.get("ta-sd").default_configuration)
    np.testing.assert_array_equal(shipped.position, counter_positions())
    np.testing.assert_array_equal(shipped.channel, counter_ids())
    assert shipped.live.all()


def test_507_counters_on_the_1200_m_grid():
    positions = counter_positions()
    assert positions.shape == (507, 3) and positions.dtype == np.float64
    steps = positions[:, :2] / GRID_SPACING
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)
    assert len({(x, y) for x, y in np.round(steps).astype(int)}) == 507
    distances = np.hypot(*(positions[:, None, :2] - positions[None, :, :2]).transpose(2, 0, 1))
    np.fill_diagonal(distances, np.inf)
    np.testing.assert_allclose(distances.min(axis=1), GRID_SPACING)


def test_ids_are_ta_xxyy_numbers_aligned_with_the_positions():
    ids, (column, row) = counter_ids(), counter_grid()
    assert ids.dtype == np.int32 and np.all(np.diff(ids) > 0)
    np.testing.assert_array_equal(ids, column * 100 + row)
    assert column.min() == 1 and column.max() == 24 and row.min() == 1 and row.max() == 28
    positions = counter_positions()
    np.testing.assert_allclose(positions[:, 0], (column - ORIGIN_SITE[0]) * GRID_SPACING)
    np.testing.assert_allclose(positions[:, 1], (row - ORIGIN_SITE[1]) * GRID_SPACING)


def test_area_is_about_700_km2_and_altitudes_differ_little():
    assert array_area(DESIGN) / 1e6 == pytest.approx(690, abs=15)
    z = counter_positions()[:, 2]
    assert np.abs(z).max() < 100.0 and z.std() > 5.0


def test_distance_to_edge_sign_and_scale():
    assert distance_to_edge(0.0, 0.0, DESIGN) > 10_000.0  # the centre is ~12 km from the nearest edge
    vertex = design_outline()[0]
    assert distance_to_edge(*vertex, DESIGN) == pytest.approx(0.0, abs=1e-6)
    west = design_outline()[:, 0].min()
    assert distance_to_edge(west - 5000.0, 0.0, DESIGN) == pytest.approx(-5000.0, rel=1e-6)
    assert distance_to_edge(west + 1200.0, 0.0, DESIGN) == pytest.approx(1200.0, rel=1e-6)
    positions = counter_positions()
    inside = distance_to_edge(positions[:, 0], positions[:, 1], DESIGN)
    assert inside.shape == (507,) and inside.min() > -1e-6 and np.sum(inside < 1.0) < 100  # the hull holds all
    grid = np.stack(np.meshgrid(np.linspace(-30e3, 30e3, 7), np.linspace(-30e3, 30e3, 5)))
    assert distance_to_edge(grid[0], grid[1], DESIGN).shape == (5, 7)


def test_fiducial_cuts_on_zenith_and_edge_distance():
    west = design_outline()[:, 0].min()
    zenith = np.radians([30.0, 30.0, 50.0, np.nan, 30.0])
    core_x = np.array([west + 1300.0, west + 1100.0, 0.0, 0.0, np.nan])
    inside = in_fiducial_volume(zenith, core_x, np.zeros(5), DESIGN)
    assert inside.tolist() == [True, False, False, False, False]
