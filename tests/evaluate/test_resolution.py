import numpy as np
import pytest

from graphreco.evaluate.resolution import angular_error, direction_report, energy_report


def test_angular_error_of_known_rotations():
    truth = {"true_zenith": np.array([0.0, np.pi / 2, np.pi / 2]), "true_azimuth": np.array([0.0, 0.0, 1.0])}
    reco = {"reco_zenith": np.array([0.1, np.pi / 2, np.nan]), "reco_azimuth": np.array([2.0, 0.3, 1.0])}
    np.testing.assert_allclose(angular_error(truth, reco)[:2], [0.1, 0.3], atol=1e-12)
    assert np.isnan(angular_error(truth, reco)[2])


def test_direction_report_counts_unreconstructed_events_and_bins_by_signal_hits():
    n = 1000
    rng = np.random.default_rng(1)
    error = np.radians(rng.uniform(0, 10, n))
    truth = {"true_zenith": np.full(n, np.pi / 2), "true_azimuth": np.zeros(n), "signal_hits": np.arange(n) % 30}
    reco = {"reco_zenith": np.pi / 2 - error, "reco_azimuth": np.zeros(n),
            "reco_angle_sigma": np.full(n, np.radians(5))}
    reco["reco_zenith"][:100] = np.nan
    report = direction_report(truth, reco)
    assert report["reconstructed_fraction"] == 0.9
    assert report["median_deg"] == pytest.approx(5.0, abs=0.5)
    assert report["coverage_68_cone"] == pytest.approx(0.5, abs=0.05)
    # 900 reconstructed errors uniform in 0-10 deg: density 0.1 / deg at the median
    assert report["median_deg_error"] == pytest.approx(np.sqrt(0.25 / 900) / 0.1, rel=0.2)
    assert report["coverage_68_cone_error"] == pytest.approx(np.sqrt(0.25 / 900), rel=0.05)
    assert report["by_signal_hits"][">=10"]["events"] == int(np.sum(truth["signal_hits"] >= 10))


def test_energy_report_of_a_gaussian_with_honest_sigma():
    rng = np.random.default_rng(2)
    true = 10 ** rng.uniform(2, 5, 20000)
    residual = rng.normal(0.05, 0.2, true.size)
    report = energy_report({"true_energy": true}, {"reco_log10_energy": np.log10(true) + residual,
                                                   "reco_log10_energy_sigma": np.full(true.size, 0.2)})
    assert report["bias_log10"] == pytest.approx(0.05, abs=0.01)
    assert report["resolution_log10"] == pytest.approx(0.2, abs=0.01)
    assert report["coverage_1_sigma"] == pytest.approx(0.6827, abs=0.02)
