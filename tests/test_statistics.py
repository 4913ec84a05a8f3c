"""The statistical errors of measured figures (``graphreco.statistics``) against what
theory gives for large samples."""

import math
from statistics import NormalDist

import numpy as np
import pytest

from graphreco.statistics import (
    binomial_error,
    bootstrap_error,
    half_width,
    prior_under_shift,
    quantile_error,
    rounded_error,
)


def test_the_binomial_error_is_the_textbook_one_away_from_the_edges_and_not_zero_at_them():
    assert binomial_error(0.3, 10_000) == pytest.approx(math.sqrt(0.3 * 0.7 / 10_000), rel=0.01)
    assert 0 < binomial_error(1.0, 100) < 0.02 and binomial_error(0.0, 100) == binomial_error(1.0, 100)


def test_order_statistics_give_the_error_of_a_gaussian_median_and_quantile():
    rng = np.random.default_rng(3)
    samples = rng.normal(0.0, 1.0, (400, 2_000))
    for q in (0.5, 0.68):
        density = NormalDist().pdf(NormalDist().inv_cdf(q))  # at the q quantile
        expected = math.sqrt(q * (1 - q) / samples.shape[1]) / density
        errors = [quantile_error(sample, q) for sample in samples[:20]]
        spread = np.std(np.quantile(samples, q, axis=1))  # how much the quantile really varies
        assert np.mean(errors) == pytest.approx(expected, rel=0.1) and spread == pytest.approx(expected, rel=0.15)


def test_the_bootstrap_gives_the_error_of_a_mean_and_the_same_error_twice():
    values = np.random.default_rng(4).normal(0.0, 2.0, 5_000)
    assert bootstrap_error(np.mean, values) == pytest.approx(2.0 / math.sqrt(values.size), rel=0.15)
    assert bootstrap_error(half_width, values) == bootstrap_error(half_width, values)
    pairs = np.column_stack([values, values])  # resampled by row: the pair moves together
    assert bootstrap_error(lambda rows: float(np.mean(rows[:, 0] - rows[:, 1])), pairs) == 0.0


def test_an_error_keeps_two_significant_digits():
    assert rounded_error(0.0031234) == 0.0031 and rounded_error(1234.0) == 1200.0 and rounded_error(0.0) == 0.0


def test_the_prior_of_a_shifted_sample_is_found_from_calibrated_probabilities_alone():
    rng = np.random.default_rng(3)
    source_prior, target_prior = 0.67, 0.83
    n = 200_000
    label = rng.random(n) < target_prior
    x = rng.normal(np.where(label, 1.0, -1.0), 1.0)  # two unit Gaussians at -1 and +1
    source_odds = source_prior / (1 - source_prior)
    probability = 1.0 / (1.0 + np.exp(-2.0 * x) / source_odds)  # exact posterior at the source's prior
    assert abs(prior_under_shift(probability, source_prior) - target_prior) < 0.005
    assert abs(prior_under_shift(probability, source_prior) - probability.mean()) > 0.02  # the naive mean is off
