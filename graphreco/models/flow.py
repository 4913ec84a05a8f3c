"""A conditional normalizing flow whose transforms are all set per event by a
hypernetwork of the event's context, built from zuko's transforms.

From data to the standard normal, each of ``transforms`` layers applies a monotonic
rational-quadratic spline to every coordinate on its own (zuko's
``MonotonicRQSTransform``, Durkan et al. 2019, arXiv:1906.04032) and then a
lower-triangular linear map with a shift (zuko's ``LULinearTransform`` with a unit upper
factor). Their parameters depend on the context alone, never on the coordinates, so:

- sampling costs one hypernetwork pass per event, then only elementwise splines and
  triangular solves per sample;
- the flow is block-triangular: a coordinate never depends on later ones, so the first
  k coordinates of a sample follow the flow restricted to them (``marginal``), and
  their marginal density is exact, not estimated;
- the triangular maps give every Gaussian (any covariance is a Cholesky factor times a
  standard normal); the splines bend, skew and split it (a spline can make a density
  bimodal along one axis, the next triangular map turns that axis).

The hypernetwork's last layer starts at zero: an untrained flow is the standard normal.
"""

from __future__ import annotations

import torch
from torch import nn

from ..extras import require

BOUND = 5.0
"""The splines act on [-BOUND, BOUND] (in standard deviations of the base); they are the
identity outside."""


class ConditionalFlow(nn.Module):
    """Density over ``features`` real coordinates given a ``context`` vector per event.

    Args:
        features: coordinates of a sample (D).
        context: width of the context vector (C).
        hidden: width of the hypernetwork's two hidden layers.
        transforms: spline-then-triangular layers.
        bins: spline bins per coordinate and layer.
    """

    def __init__(self, features: int, context: int, hidden: int = 64, transforms: int = 3, bins: int = 8):
        super().__init__()
        self.features, self.transforms, self.bins = features, transforms, bins
        per_layer = features * (3 * bins - 1) + features * (features + 1) // 2 + features
        self.hyper = nn.Sequential(nn.Linear(context, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                   nn.Linear(hidden, transforms * per_layer))
        nn.init.zeros_(self.hyper[-1].weight)
        nn.init.zeros_(self.hyper[-1].bias)
        self.register_buffer("lower", torch.tril_indices(features, features, offset=-1), persistent=False)

    def parameters_of(self, context: torch.Tensor) -> torch.Tensor:
        """(events, transforms * per-layer parameters): the raw flow parameters of each
        event's context (events, C); what an exported conditioner returns."""
        return self.hyper(context)

    def distribution(self, parameters: torch.Tensor, marginal: int | None = None):
        """The flow (a zuko ``NormalizingFlow`` with batch shape (events,)) of raw
        ``parameters`` (from ``parameters_of``), over its first ``marginal`` coordinates
        (None: all of them)."""
        zuko = require("zuko", "posterior", "the posterior flow")
        d, k, bins = self.features, marginal or self.features, self.bins
        layers = parameters.reshape(parameters.shape[0], self.transforms, -1)
        chain = []
        for layer in range(self.transforms):
            values = layers[:, layer]
            spline, values = values[:, :d * (3 * bins - 1)], values[:, d * (3 * bins - 1):]
            spline = spline.reshape(-1, d, 3 * bins - 1)[:, :k]
            widths, heights, derivatives = spline[..., :bins], spline[..., bins:2 * bins], spline[..., 2 * bins:]
            chain.append(zuko.transforms.DependentTransform(
                zuko.transforms.MonotonicRQSTransform(widths, heights, derivatives, bound=BOUND), 1))
            n_lower = d * (d - 1) // 2
            off_diagonal, log_diagonal, shift = values[:, :n_lower], values[:, n_lower:n_lower + d], values[:, -d:]
            matrix = parameters.new_zeros(parameters.shape[0], d, d)
            matrix[:, self.lower[0], self.lower[1]] = off_diagonal
            matrix = matrix + torch.diag_embed(torch.exp(log_diagonal))
            chain.append(zuko.transforms.LULinearTransform(matrix[:, :k, :k]))
            chain.append(zuko.transforms.DependentTransform(
                zuko.transforms.MonotonicAffineTransform(shift[:, :k], torch.zeros_like(shift[:, :k])), 1))
        base = zuko.distributions.DiagNormal(parameters.new_zeros(parameters.shape[0], k),
                                             parameters.new_ones(parameters.shape[0], k))
        return zuko.distributions.NormalizingFlow(zuko.transforms.ComposedTransform(*chain), base)

    def log_prob(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """log density of ``x`` (..., events, k <= D; the first k coordinates, their
        marginal when k < D) given ``context`` (events, C): (..., events)."""
        return self.distribution(self.parameters_of(context), x.shape[-1]).log_prob(x)

    def sample(self, context: torch.Tensor, n: int, marginal: int | None = None) -> torch.Tensor:
        """(n, events, marginal or D) samples given ``context`` (events, C): standard
        normal draws through the inverse of ``distribution``'s transforms, computed here
        in the layout (events, coordinates, n), so that each event's parameters are
        gathered, never copied per sample (zuko's own inverse broadcasts them to every
        sample: 2-3x slower; ``tests/test_posterior.py`` checks that both agree)."""
        flow = self.distribution(self.parameters_of(context), marginal)
        k = flow.base.event_shape[0]
        x = torch.randn(context.shape[0], k, n, dtype=context.dtype)
        for transform in reversed(flow.transform.transforms):
            x = _inverse(transform, x)
        return x.permute(2, 0, 1)


def _inverse(transform, y: torch.Tensor) -> torch.Tensor:
    """The inverse of one of ``ConditionalFlow.distribution``'s transforms (an affine
    shift, a lower-triangular linear map or a spline, with parameters (events, k, ...))
    on samples ``y`` (events, k, n)."""
    zuko = require("zuko", "posterior", "the posterior flow")
    inner = transform.base if isinstance(transform, zuko.transforms.DependentTransform) else transform
    if isinstance(inner, zuko.transforms.MonotonicAffineTransform):
        return (y - inner.shift[..., None]) / inner.scale[..., None]
    if isinstance(inner, zuko.transforms.LULinearTransform):
        lower, rows = inner.L, []
        for i in range(y.shape[1]):  # forward substitution
            row = y[:, i]
            for j in range(i):
                row = row - lower[:, i, j, None] * rows[j]
            rows.append(row / lower[:, i, i, None])
        return torch.stack(rows, dim=1)
    return _spline_inverse(inner, y)


def _spline_inverse(spline, y: torch.Tensor) -> torch.Tensor:
    """The inverse of a zuko ``MonotonicRQSTransform`` (knots (events, k, bins + 1)) on
    samples ``y`` (events, k, n): zuko's formula, with the knots gathered per bin."""
    bins = spline.horizontal.shape[-1] - 1
    index = torch.searchsorted(spline.vertical.contiguous(), y.contiguous()) - 1
    inside = (index >= 0) & (index < bins)
    index = index.clamp(0, bins - 1)
    x0, x1 = spline.horizontal.gather(-1, index), spline.horizontal.gather(-1, index + 1)
    y0, y1 = spline.vertical.gather(-1, index), spline.vertical.gather(-1, index + 1)
    d0, d1 = spline.derivatives.gather(-1, index), spline.derivatives.gather(-1, index + 1)
    slope = (y1 - y0) / (x1 - x0)
    offset = inside * (y - y0)
    curvature = d0 + d1 - 2 * slope
    a = (y1 - y0) * (slope - d0) + offset * curvature
    b = (y1 - y0) * d0 - offset * curvature
    c = -slope * offset
    z = 2 * c / (-b - (b ** 2 - 4 * a * c).clamp_min(0).sqrt())
    return torch.where(inside, x0 + z * (x1 - x0), y)
