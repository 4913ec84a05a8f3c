"""Background suppression: the probability that an event is signal (for Baikal-GVD a
neutrino), not background (an atmospheric-muon bundle).

Node states from the GraphEncoder are pooled per event (max and mean) and an MLP gives
one logit; the stage writes ``event_score = sigmoid(logit)``. Loss: binary cross entropy.
Training truth: events whose ``true_kind`` is one of ``background_kinds`` are background
(the recipe names them; for Baikal-GVD ``eas``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..models import EventReduction, GraphEncoder
from .base import GRAPH_BUILDING, Stage, StageExport, StageGraph, truth
from .inputs import StageInput


class BackgroundSuppression(Stage):
    """GraphEncoder + event readout + MLP -> one logit per event."""

    writes = ("event_score",)

    def __init__(self, n_features: int, relative_features: tuple[int, ...], *, background_kinds: Sequence[str],
                 hidden: int = 32, layers: int = 3):
        super().__init__()
        self.config = {"n_features": n_features, "relative_features": list(relative_features),
                       "hidden": hidden, "layers": layers, "background_kinds": list(background_kinds)}
        self.encoder = GraphEncoder(n_features, tuple(relative_features), hidden, layers)
        self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def readout(self, h: torch.Tensor, x: torch.Tensor, events: EventReduction,
                event_x: torch.Tensor | None) -> torch.Tensor:
        """Signal logit per event, (events,), from the pooled node states."""
        return self.head(events.pool(h)).squeeze(1)

    @property
    def export_spec(self) -> StageExport:
        return StageExport("logit", "events", None, "signal logit per event",
                           (GRAPH_BUILDING, "event_score = sigmoid(logit) (BackgroundSuppression.event_score)"))

    @staticmethod
    def event_score(logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits)

    def outputs(self, inputs: StageInput) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        graph = self.input_graph(inputs).graph
        return {}, {"event_score": self.event_score(self(graph.x, graph.edge_index, graph.ptr)).numpy()}

    def training_graph(self, inputs: StageInput) -> StageGraph:
        """Target ``is_signal`` (events,) bool: the event's kind is none of ``background_kinds``."""
        kinds = truth(inputs.batch, "true_kind").astype(str)
        return self.input_graph(inputs).with_targets(
            {"is_signal": torch.from_numpy(~np.isin(kinds, self.config["background_kinds"]))})

    def training_loss(self, stage_graph: StageGraph) -> torch.Tensor:
        graph = stage_graph.graph
        return nn.functional.binary_cross_entropy_with_logits(self(graph.x, graph.edge_index, graph.ptr),
                                                              graph.targets["is_signal"].float())
