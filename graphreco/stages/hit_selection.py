"""Hit selection: for every hit, the probability that it is signal rather than noise.

The head classifies each hit into the event format's ``true_label`` classes (0 noise,
1 muon light, 2 cascade light, or just 0/1 for detectors with two classes); the stage
writes ``hit_score = 1 - p(noise)`` and, with three classes, ``hit_track_score =
p(muon light) / (1 - p(noise))``, the probability that a signal hit is track light
rather than cascade light. Loss: cross entropy over hits, each weighted by a hit column
capped at a maximum when ``loss_weight_column`` is set (LHC: the candidate's pT up to
20 GeV, so that the candidates that make jets and missing pT count as much as their
momentum does, not one per soft pile-up particle). With ``group_loss_column`` set, the
loss adds ``group_loss_weight`` times the mean over groups (hits sharing a non-negative
value of that column within an event; LHC: the candidates within Delta R 0.4 of a
leading-interaction jet) of the squared relative error of the score-weighted sum of
``group_sum_column`` (LHC: pT), ``(sum (p_i - y_i) s_i / sum y_i s_i)**2``: the jet's pT
error, which per-hit cross entropy leaves free when the errors of a jet's candidates add
up instead of cancelling. Where the detector declares ``hit_score_bounds`` (what it knows
of a hit before any network), the score is mapped into them: the network orders hits
within what is known, never against it.

Where the fraction of noise hits differs from the training's (Baikal-GVD at 80 kHz: 0.83
of the hits against 0.67 at 40 kHz) the network still ranks hits as well (hit AUC 0.9990
against 0.9992) but its probabilities assume the training's fraction: a prior shift,
which no change of the network's features (domain-adversarial training) can correct.
``adapt_on`` estimates the noise fraction of unlabelled events of the new condition
(``statistics.prior_under_shift``) and sets ``noise_odds_ratio``, the factor on the odds
of noise: ``p(noise)`` becomes ``r p / (r p + 1 - p)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from ..models import EventReduction, GraphEncoder
from ..statistics import prior_under_shift
from .base import GRAPH_BUILDING, Stage, StageExport, StageGraph, truth
from .inputs import StageInput


class HitSelection(Stage):
    """GraphEncoder + a per-hit linear classifier."""

    def __init__(self, n_features: int, relative_features: tuple[int, ...], n_classes: int = 3,
                 hidden: int = 32, layers: int = 3, loss_weight_column: str | None = None,
                 loss_weight_cap: float = float("inf"), group_loss_column: str | None = None,
                 group_sum_column: str | None = None, group_loss_weight: float = 1.0,
                 noise_odds_ratio: float = 1.0):
        super().__init__()
        self.config = {"n_features": n_features, "relative_features": list(relative_features),
                       "n_classes": n_classes, "hidden": hidden, "layers": layers}
        if loss_weight_column is not None:
            self.config |= {"loss_weight_column": loss_weight_column, "loss_weight_cap": loss_weight_cap}
        if group_loss_column is not None:
            if group_sum_column is None:
                raise ValueError("group_loss_column needs group_sum_column, the quantity summed over each group")
            self.config |= {"group_loss_column": group_loss_column, "group_sum_column": group_sum_column,
                            "group_loss_weight": group_loss_weight}
        if noise_odds_ratio != 1.0:
            self.config["noise_odds_ratio"] = float(noise_odds_ratio)
        self.encoder = GraphEncoder(n_features, tuple(relative_features), hidden, layers)
        self.head = nn.Linear(hidden, n_classes)

    def readout(self, h: torch.Tensor, x: torch.Tensor, events: EventReduction,
                event_x: torch.Tensor | None) -> torch.Tensor:
        """Class logits per hit, shape (n_hits, n_classes)."""
        return self.head(h)

    @property
    def export_spec(self) -> StageExport:
        return StageExport(
            "logits", "nodes", self.config["n_classes"],
            "class logits per hit (0 noise, 1 track light, 2 cascade light; or 0 noise, 1 signal)",
            (GRAPH_BUILDING, "hit_score = 1 - p0 with p0 = softmax(logits)[:, 0] (with noise_odds_ratio r in the "
                             "config: p0 = r p0 / (r p0 + 1 - p0)) and, with three classes, hit_track_score = "
                             "p1 / max(p1 + p2, 1e-12) (HitSelection.scores)",
             "where the detector declares hit_score_bounds (low, high) per hit: hit_score = low + (high - low) * "
             "hit_score (LHC PF: charged candidates of the leading vertex as CHS defines it within [0.5, 1], "
             "those of pile-up vertices within [0, 0.5])"))

    @property
    def writes(self) -> tuple[str, ...]:
        return ("hit_score", "hit_track_score") if self.config["n_classes"] == 3 else ("hit_score",)

    @property
    def hit_writes(self) -> tuple[str, ...]:
        return self.writes

    def scores(self, logits: torch.Tensor) -> dict[str, np.ndarray]:
        """``hit_score`` (probability of any signal class) and, with three classes,
        ``hit_track_score`` (probability of track light given signal) from class logits."""
        probability = torch.softmax(logits, dim=1)
        ratio = self.config.get("noise_odds_ratio", 1.0)
        noise = probability[:, 0] if ratio == 1.0 else ratio * probability[:, 0] / (
            ratio * probability[:, 0] + 1.0 - probability[:, 0]).clamp_min(1e-12)
        columns = {"hit_score": (1.0 - noise).numpy()}
        if self.config["n_classes"] == 3:
            signal = (probability[:, 1] + probability[:, 2]).clamp_min(1e-12)
            columns["hit_track_score"] = (probability[:, 1] / signal).numpy()
        return columns

    def outputs(self, inputs: StageInput) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        graph = self.input_graph(inputs).graph
        columns = self.scores(self(graph.x, graph.edge_index))
        bounds = inputs.detector.hit_score_bounds
        if bounds is not None:
            low, high = bounds(inputs.batch.offsets, inputs.batch.hits)
            columns["hit_score"] = (low + (high - low) * columns["hit_score"]).astype(np.float32)
        return columns, {}

    def adapt_on(self, labelled: list[StageGraph], unlabelled: list[StageGraph]) -> dict:
        """Set ``noise_odds_ratio`` for the noise fraction of the ``unlabelled`` graphs
        (from ``input_graph``), estimated from this stage's probabilities on them, the
        ``labelled`` graphs (from ``training_graph``) giving the fraction it was made for.
        Returns both fractions and the ratio."""
        self.config.pop("noise_odds_ratio", None)
        source = float(np.mean(np.concatenate([graph.graph.targets["true_label"].numpy() == 0
                                               for graph in labelled])))
        with torch.inference_mode():
            noise = np.concatenate([1.0 - self.scores(self(graph.graph.x, graph.graph.edge_index))["hit_score"]
                                    for graph in unlabelled])
        target = prior_under_shift(noise, source)
        ratio = (target / source) / ((1.0 - target) / (1.0 - source))
        self.config["noise_odds_ratio"] = ratio
        return {"noise_fraction_labelled": source, "noise_fraction_unlabelled": target, "noise_odds_ratio": ratio,
                "unlabelled_hits": int(noise.size)}

    def training_graph(self, inputs: StageInput) -> StageGraph:
        """Targets: ``true_label`` (hits,) int64; with a loss weight column ``loss_weight``
        (hits,), capped; with group loss ``group`` (hits,), a group index unique in the
        batch (-1 outside any), and ``group_sum`` (hits,), the summed quantity."""
        classes = self.config["n_classes"]
        labels = truth(inputs.batch, "true_label", lambda label: (label >= 0) & (label < classes),
                       f"training needs classes 0..{classes - 1}")
        targets = {"true_label": torch.from_numpy(labels.astype(np.int64))}
        column = self.config.get("loss_weight_column")
        if column is not None:
            weights = truth(inputs.batch, column, lambda values: np.isfinite(values) & (values >= 0),
                            "loss weights must be finite and non-negative")
            targets["loss_weight"] = torch.from_numpy(np.minimum(weights, self.config["loss_weight_cap"])
                                                      .astype(np.float32))
        if "group_loss_column" in self.config:
            targets["group"], targets["group_sum"] = self._groups(inputs)
        return self.input_graph(inputs).with_targets(targets)

    def _groups(self, inputs: StageInput) -> tuple[torch.Tensor, torch.Tensor]:
        """Per hit: a group index unique in the batch (-1 outside any group) and the summed quantity."""
        batch = inputs.batch
        group = truth(batch, self.config["group_loss_column"]).astype(np.int64)
        quantity = truth(batch, self.config["group_sum_column"], np.isfinite, "group sums must be finite")
        event = np.repeat(np.arange(batch.offsets.size - 1), np.diff(batch.offsets))
        groups_per_event = np.zeros(batch.offsets.size - 1, dtype=np.int64)
        np.maximum.at(groups_per_event, event, group + 1)
        first = np.concatenate([[0], np.cumsum(groups_per_event)[:-1]])
        global_group = np.where(group >= 0, group + first[event], -1)
        return torch.from_numpy(global_group), torch.from_numpy(quantity.astype(np.float32))

    def training_loss(self, stage_graph: StageGraph) -> torch.Tensor:
        graph = stage_graph.graph
        targets = graph.targets
        logits = self(graph.x, graph.edge_index)
        losses = nn.functional.cross_entropy(logits, targets["true_label"], reduction="none")
        if "loss_weight" in targets:
            loss = (losses * targets["loss_weight"]).sum() / targets["loss_weight"].sum().clamp_min(1e-12)
        else:
            loss = losses.mean()
        if "group" in targets:
            loss = loss + self.config["group_loss_weight"] * self._group_loss(logits, targets)
        return loss

    @staticmethod
    def _group_loss(logits: torch.Tensor, targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Mean squared relative error of the score-weighted group sums (0 without groups)."""
        member = targets["group"] >= 0
        if not member.any():
            return logits.new_zeros(())
        group = targets["group"][member]
        signal = (targets["true_label"][member] > 0).float()
        score = 1.0 - torch.softmax(logits[member], dim=1)[:, 0]
        quantity = targets["group_sum"][member]
        n_groups = int(group.max()) + 1
        error = logits.new_zeros(n_groups).index_add_(0, group, (score - signal) * quantity)
        reference = logits.new_zeros(n_groups).index_add_(0, group, signal * quantity)
        present = reference > 0
        return ((error[present] / reference[present]) ** 2).mean() if present.any() else logits.new_zeros(())
