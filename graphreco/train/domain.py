"""Domain-adversarial training (Ganin & Lempitsky, "Unsupervised Domain Adaptation by
Backpropagation", arXiv:1409.7495): a critic learns to tell events of the training
condition (source, labelled) from events of a shifted condition (target, unlabelled)
from the stage's pooled encoder states; a gradient reversal between the two makes the
encoder learn states the critic cannot tell apart, so what the task head learns on the
source carries over to the target.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..graph import GraphBatch
from ..models import event_pool
from ..stages import Stage


class GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient multiplied by ``-weight`` backward."""

    @staticmethod
    def forward(ctx, values: torch.Tensor, weight: float) -> torch.Tensor:
        ctx.weight = weight
        return values.view_as(values)

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.weight * gradient, None


def reversal_weight(progress: float, weight: float) -> float:
    """Ganin & Lempitsky's ramp ``weight * (2 / (1 + exp(-10 p)) - 1)`` over training
    progress ``p`` in [0, 1]: the critic's pull on the encoder starts at 0."""
    return weight * (2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0)


class DomainCritic(nn.Module):
    """Per-event logit "target condition" from a stage's pooled encoder states."""

    def __init__(self, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def loss(self, stage: Stage, source: GraphBatch, target: GraphBatch, weight: float) -> torch.Tensor:
        """Binary cross entropy of the critic on one source and one target graph, with
        the gradient into the stage's encoder reversed and scaled by ``weight``."""
        total = 0.0
        for graph, label in ((source, 0.0), (target, 1.0)):
            pooled = event_pool(stage.encoder(graph.x, graph.edge_index), graph.ptr)
            logits = self.net(GradientReversal.apply(pooled, weight)).squeeze(1)
            total = total + nn.functional.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))
        return total / 2
