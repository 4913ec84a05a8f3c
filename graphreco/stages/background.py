"""Background suppression: the probability that an event is signal (a neutrino), not an
atmospheric-muon bundle.

Node states from the GraphEncoder are pooled per event (max and mean) and an MLP gives
one logit; the stage writes ``event_score = sigmoid(logit)``. Loss: binary cross entropy.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..models import GraphEncoder, event_pool


class BackgroundSuppression(nn.Module):
    """GraphEncoder + event readout + MLP -> one logit per event."""

    writes = ("event_score",)

    def __init__(self, n_features: int, relative_features: tuple[int, ...], hidden: int = 32, layers: int = 3):
        super().__init__()
        self.config = {"n_features": n_features, "relative_features": list(relative_features),
                       "hidden": hidden, "layers": layers}
        self.encoder = GraphEncoder(n_features, tuple(relative_features), hidden, layers)
        self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, ptr: torch.Tensor) -> torch.Tensor:
        """Signal logit per event (events given by the CSR pointer ``ptr``)."""
        return self.head(event_pool(self.encoder(x, edge_index), ptr)).squeeze(1)

    @staticmethod
    def loss(logits: torch.Tensor, is_signal: torch.Tensor) -> torch.Tensor:
        return nn.functional.binary_cross_entropy_with_logits(logits, is_signal.float())

    @staticmethod
    def event_score(logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits)

    def outputs(self, graph) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per-hit and per-event output columns for a graph batch."""
        return {}, {"event_score": self.event_score(self(graph.x, graph.edge_index, graph.ptr)).numpy()}

    def __repr__(self) -> str:
        return f"BackgroundSuppression({self.config})"
