import numpy as np
import pytest

from graphreco.evaluate import efficiency_at_rejection, rejection_at_efficiency


def test_rejection_counts_the_background_above_the_signal_cut():
    signal = np.linspace(0, 1, 101)           # 70 % efficiency: cut at 0.30
    background = np.r_[np.zeros(990), np.full(10, 0.5)]
    result = rejection_at_efficiency(signal, background, 0.7)
    assert result["threshold"] == pytest.approx(0.3)
    assert result["background_passing"] == 10 and result["rejection"] == pytest.approx(100.0)
    assert result["passing_fraction"] == 0.01 and result["passing_fraction_error"] == pytest.approx(0.0033, abs=3e-4)


def test_no_background_passing_gives_a_lower_limit():
    result = rejection_at_efficiency(np.ones(10), np.zeros(1000), 0.5)
    assert "rejection" not in result and result["rejection_lower_limit_90cl"] == pytest.approx(1000 / 2.303, rel=1e-3)
    assert "passing_fraction" not in result and result["passing_fraction_upper_limit_90cl"] == 0.002303


def test_efficiency_at_rejection_and_too_small_samples():
    background = np.arange(10_000) / 10_000
    signal = np.r_[np.full(80, 2.0), np.zeros(20)]
    assert efficiency_at_rejection(signal, background, 1e3)["efficiency"] == pytest.approx(0.8)
    assert efficiency_at_rejection(signal, background[:500], 1e3)["efficiency"] is None


def test_a_random_score_rejects_as_a_random_score_does():
    rng = np.random.default_rng(3)
    signal, background = rng.random(2000), rng.random(2000)
    signal[:5] = np.nan
    for efficiency in (0.5, 0.7, 0.9):
        result = rejection_at_efficiency(signal, background, efficiency)
        assert result["rejection"] == pytest.approx(1 / efficiency, rel=0.1)
    out_of_reach = rejection_at_efficiency(np.r_[np.full(60, np.nan), rng.random(40)], background, 0.5)
    assert out_of_reach["threshold"] is None and "rejection" not in out_of_reach
