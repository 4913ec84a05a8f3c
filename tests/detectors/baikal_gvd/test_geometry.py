import numpy as np

from graphreco.detectors.baikal_gvd.geometry import MODULE_SPACING, STRING_RADIUS, design_geometry, load_geometry
from graphreco.detectors.baikal_gvd.noise import sample_noise


def test_shipped_table_is_the_design_layout():
    shipped, design = load_geometry(), design_geometry()
    assert shipped.n_modules == 14 * 8 * 36
    np.testing.assert_array_equal(shipped.channel, np.arange(shipped.n_modules))
    for name in ("x", "y", "z"):
        np.testing.assert_allclose(getattr(shipped, name), getattr(design, name), atol=0.006)


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
