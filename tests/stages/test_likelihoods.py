import math

import numpy as np
import pytest
import torch

from graphreco.stages.likelihoods import gaussian_2d_nll, gaussian_2d_radius, gaussian_nll, log_sinh, vmf_cone, vmf_nll
from graphreco.statistics import calibration_scale, coverage


def sample_vmf_angles(kappa: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Angles to the mean of vMF samples (Wood 1994: w = 1 + ln(u + (1 - u) e^-2k) / k)."""
    u = rng.random(n)
    w = 1.0 + np.log(u + (1.0 - u) * np.exp(-2.0 * kappa)) / kappa
    return np.arccos(np.clip(w, -1.0, 1.0))


def vmf_density(kappa: float, cosine: np.ndarray) -> np.ndarray:
    """exp(-vmf_nll) at the given cosines to a mean along z."""
    target = torch.tensor(np.stack([np.zeros_like(cosine), np.sqrt(1 - cosine**2), cosine], 1))
    prediction = torch.tensor([[0.0, 0.0, kappa]], dtype=torch.float64)
    return np.array([math.exp(-vmf_nll(prediction, t[None]).item()) for t in target])


@pytest.mark.parametrize("kappa", [0.5, 5.0, 200.0])
def test_vmf_density_is_the_closed_form(kappa):
    cosine = np.linspace(-1.0, 1.0, 11)
    expected = kappa / (4 * np.pi * np.sinh(kappa)) * np.exp(kappa * cosine)
    np.testing.assert_allclose(vmf_density(kappa, cosine), expected, rtol=1e-9)


@pytest.mark.parametrize("kappa", [0.5, 5.0, 200.0, 5000.0])
def test_vmf_density_integrates_to_one(kappa):
    s = np.linspace(0.0, min(2.0, 60.0 / kappa), 4001)  # 1 - cos: the mass lies within ~1 / kappa
    assert 2 * np.pi * np.trapezoid(vmf_density(kappa, 1.0 - s), s) == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("kappa", [1.0, 30.0, 1000.0])
def test_vmf_cone_holds_68_percent_of_samples(kappa):
    angles = sample_vmf_angles(kappa, 200_000, np.random.default_rng(0))
    assert np.mean(angles <= vmf_cone(np.array([kappa]))[0]) == pytest.approx(0.68, abs=0.005)


def test_log_sinh_is_stable_at_both_ends():
    kappa = torch.tensor([1e-5, 1e-2, 1.0, 50.0, 1e4], dtype=torch.float64)
    expected = torch.tensor([math.log(math.sinh(k)) if k < 700 else k - math.log(2) for k in kappa.tolist()],
                            dtype=torch.float64)
    torch.testing.assert_close(log_sinh(kappa), expected, rtol=1e-6, atol=1e-9)


def test_gaussian_nll_matches_torch():
    mean, sigma, target = torch.randn(50), torch.rand(50) + 0.1, torch.randn(50)
    reference = torch.nn.GaussianNLLLoss(full=True)(mean, target, sigma**2)
    torch.testing.assert_close(gaussian_nll(mean, sigma, target), reference)


def test_calibration_scale_restores_one_sigma_coverage():
    rng = np.random.default_rng(1)
    sigma = rng.uniform(0.5, 2.0, 100_000)
    errors = rng.normal(0.0, 1.5 * sigma)  # reported sigma too small by 1.5
    assert coverage(errors, sigma) == pytest.approx(0.495, abs=0.01)
    scale = calibration_scale(errors, sigma)
    assert scale == pytest.approx(1.5, rel=0.02) and coverage(errors, scale * sigma) == pytest.approx(0.6827, abs=0.002)


def test_gaussian_2d_nll_is_the_product_of_two_normals():
    mean, sigma, target = torch.tensor([[0.5, -1.0]]), torch.tensor([0.7]), torch.tensor([[1.0, 0.2]])
    normal = torch.distributions.Normal(mean[0], sigma[0])
    assert float(gaussian_2d_nll(mean, sigma, target)) == pytest.approx(-float(normal.log_prob(target[0]).sum()))


def test_gaussian_2d_circle_holds_68_percent_of_samples():
    rng = np.random.default_rng(1)
    radius = np.hypot(*rng.normal(0.0, 2.0, (2, 200_000)))
    assert np.mean(radius <= 2.0 * gaussian_2d_radius(0.68)) == pytest.approx(0.68, abs=0.005)
