import numpy as np

from graphreco import detectors
from graphreco.detectors.baikal_gvd.geometry import MODULE_SPACING, STRING_RADIUS, design_configuration, design_geometry
from graphreco.detectors.baikal_gvd.noise import sample_noise
from graphreco.io import read_configuration


def test_the_shipped_layout_is_the_design_layout():
    shipped, design = read_configuration(detectors.get("baikal-gvd").default_configuration), design_geometry()
    assert shipped.n_sensors == 14 * 8 * 36 and shipped.live.all()
    np.testing.assert_array_equal(shipped.channel, np.arange(shipped.n_sensors))
    np.testing.assert_allclose(shipped.position, np.column_stack([design.x, design.y, design.z]), atol=0.006)
    np.testing.assert_array_equal(shipped.position, design_configuration().position)


def test_cluster_shape_follows_the_design_numbers():
    g = design_geometry(1)
    z = g.z[g.string == 0]
    np.testing.assert_allclose(np.diff(z), MODULE_SPACING)
    assert z.min() == -262.5 and z.max() == 262.5  # 750-1275 m depth, centred
    radius = np.hypot(g.x - g.x[0], g.y - g.y[0])[g.module == 0]
    np.testing.assert_allclose(radius, [0] + [STRING_RADIUS] * 7, atol=1e-9)


def test_clusters_are_about_300_m_apart():
    g = design_geometry()
    centres = np.array([[g.x[(g.cluster == c) & (g.string == 0)][0], g.y[(g.cluster == c) & (g.string == 0)][0]]
                        for c in range(14)])
    nearest = np.sort(np.hypot(*(centres[:, None] - centres[None]).transpose(2, 0, 1)), axis=1)[:, 1]
    np.testing.assert_allclose(nearest, 300.0, rtol=1e-6)


def test_noise_rate_and_window():
    rng = np.random.default_rng(0)
    offsets, module, t, charge = sample_noise(rng, 20000, 288, rate_hz=40e3, window_ns=5000.0)
    assert abs(np.diff(offsets).mean() - 288 * 40e3 * 5e-6) < 0.2  # 57.6 pulses per cluster window
    assert t.min() >= 0 and t.max() < 5000 and module.max() < 288
    assert abs(charge.mean() - 1.0) < 0.01 and 0.3 < charge.std() / charge.mean() < 0.4
    event = np.repeat(np.arange(20000), np.diff(offsets))
    assert np.all((np.diff(t) >= 0) | (np.diff(event) > 0))
