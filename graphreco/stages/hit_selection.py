"""Hit selection: for every hit, the probability that it is signal rather than noise.

The head classifies each hit into the event format's ``true_label`` classes (0 noise,
1 muon light, 2 cascade light, or just 0/1 for detectors with two classes); the stage
writes ``hit_score = 1 - p(noise)`` and, with three classes, ``hit_track_score =
p(muon light) / (1 - p(noise))``, the probability that a signal hit is track light
rather than cascade light. Loss: cross entropy over hits, each weighted by a hit column
capped at a maximum when ``loss_weight_column`` is set (LHC: the candidate's pT up to
20 GeV, so that the candidates that make jets and missing pT count as much as their
momentum does, not one per soft pile-up particle).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Batch

from ..models import GraphEncoder
from .base import Stage, truth
from .inputs import StageInput


class HitSelection(Stage):
    """GraphEncoder + a per-hit linear classifier."""

    def __init__(self, n_features: int, relative_features: tuple[int, ...], n_classes: int = 3,
                 hidden: int = 32, layers: int = 3, loss_weight_column: str | None = None,
                 loss_weight_cap: float = float("inf")):
        super().__init__()
        self.config = {"n_features": n_features, "relative_features": list(relative_features),
                       "n_classes": n_classes, "hidden": hidden, "layers": layers}
        if loss_weight_column is not None:
            self.config |= {"loss_weight_column": loss_weight_column, "loss_weight_cap": loss_weight_cap}
        self.encoder = GraphEncoder(n_features, tuple(relative_features), hidden, layers)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Class logits per hit, shape (n_hits, n_classes)."""
        return self.head(self.encoder(x, edge_index))

    @property
    def writes(self) -> tuple[str, ...]:
        return ("hit_score", "hit_track_score") if self.config["n_classes"] == 3 else ("hit_score",)

    def scores(self, logits: torch.Tensor) -> dict[str, np.ndarray]:
        """``hit_score`` (probability of any signal class) and, with three classes,
        ``hit_track_score`` (probability of track light given signal) from class logits."""
        probability = torch.softmax(logits, dim=1)
        columns = {"hit_score": (1.0 - probability[:, 0]).numpy()}
        if self.config["n_classes"] == 3:
            signal = (probability[:, 1] + probability[:, 2]).clamp_min(1e-12)
            columns["hit_track_score"] = (probability[:, 1] / signal).numpy()
        return columns

    def outputs(self, inputs: StageInput) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        graph = self.input_graph(inputs)
        return self.scores(self(graph.x, graph.edge_index)), {}

    def training_graph(self, inputs: StageInput) -> Batch:
        classes = self.config["n_classes"]
        labels = truth(inputs.batch, "true_label", lambda label: (label >= 0) & (label < classes),
                       f"training needs classes 0..{classes - 1}")
        graph = self.input_graph(inputs)
        graph.true_label = torch.from_numpy(labels.astype(np.int64))
        column = self.config.get("loss_weight_column")
        if column is not None:
            weights = truth(inputs.batch, column, lambda values: np.isfinite(values) & (values >= 0),
                            "loss weights must be finite and non-negative")
            graph.loss_weight = torch.from_numpy(np.minimum(weights, self.config["loss_weight_cap"]).astype(np.float32))
        return graph

    def training_loss(self, graph: Batch) -> torch.Tensor:
        losses = nn.functional.cross_entropy(self(graph.x, graph.edge_index), graph.true_label, reduction="none")
        if "loss_weight" not in graph:
            return losses.mean()
        return (losses * graph.loss_weight).sum() / graph.loss_weight.sum().clamp_min(1e-12)
