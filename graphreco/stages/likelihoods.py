"""Likelihoods of the regression heads and the uncertainties they imply.

Direction: von Mises-Fisher on the unit sphere, ``p(x) = kappa / (4 pi sinh kappa) *
exp(kappa mu.x)``; the network predicts a 3-vector whose direction is mu and whose norm is
kappa (as in GraphNeT's direction tasks). The cone holding 68 % of the probability has
``1 - cos(theta) = -ln(1 - 0.68 (1 - exp(-2 kappa))) / kappa`` (Mardia & Jupp,
"Directional Statistics", 2000, ch. 9). Energy: a Gaussian in log10 E with predicted sigma.
Position on a plane (an air shower's core): an isotropic 2-D Gaussian, whose circle of
radius ``sigma sqrt(-2 ln(1 - c))`` holds the fraction ``c`` (the Rayleigh distribution).
"""

from __future__ import annotations

import math

import numpy as np
import torch

CONTAINMENT = 0.68
MIN_KAPPA = 1e-6


def log_sinh(kappa: torch.Tensor) -> torch.Tensor:
    """log(sinh(kappa)) without overflow at large or cancellation at small kappa."""
    large = kappa + torch.log1p(-torch.exp(-2.0 * kappa)) - math.log(2.0)
    small = torch.log(kappa) + kappa**2 / 6.0
    return torch.where(kappa > 1e-2, large, small)


def vmf_nll(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of unit vectors ``target`` (n, 3) under the vMF
    distributions given by ``prediction`` (n, 3): direction = mean, norm = kappa."""
    kappa = prediction.norm(dim=1).clamp_min(MIN_KAPPA)
    cosine = (prediction * target).sum(dim=1) / kappa
    return (-torch.log(kappa) + math.log(4 * math.pi) + log_sinh(kappa) - kappa * cosine).mean()


def vmf_cone(kappa: np.ndarray, containment: float = CONTAINMENT) -> np.ndarray:
    """Opening angle (rad) of the cone around the mean holding ``containment`` of a vMF."""
    kappa = np.maximum(np.asarray(kappa, dtype=np.float64), MIN_KAPPA)
    one_minus_cos = -np.log1p(-containment * -np.expm1(-2.0 * kappa)) / kappa
    return np.arccos(np.clip(1.0 - one_minus_cos, -1.0, 1.0))


def gaussian_nll(mean: torch.Tensor, sigma: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of ``target`` under Normal(mean, sigma)."""
    return (torch.log(sigma) + 0.5 * ((target - mean) / sigma) ** 2).mean() + 0.5 * math.log(2 * math.pi)


def gaussian_2d_nll(mean: torch.Tensor, sigma: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of points ``target`` (n, 2) under isotropic 2-D
    Gaussians of centres ``mean`` (n, 2) and per-coordinate widths ``sigma`` (n,)."""
    squared = ((target - mean) ** 2).sum(dim=1)
    return (2.0 * torch.log(sigma) + 0.5 * squared / sigma ** 2).mean() + math.log(2 * math.pi)


def gaussian_2d_radius(containment: float = CONTAINMENT) -> float:
    """Radius, in units of sigma, of the circle holding ``containment`` of an isotropic 2-D Gaussian."""
    return math.sqrt(-2.0 * math.log1p(-containment))
