"""Composition: the probability of each primary class (for air showers proton, iron,
photon) given an event's hits.

The node features get the hit-selection score as one more column (so the network tells
the shower's counters from accidental ones); node states from the GraphEncoder are pooled
per event (max and mean) with the log of the number of hits scored as signal, and an MLP
gives one logit per class; the stage writes ``reco_p_<class> = softmax(logits)``. Loss:
cross entropy. The probabilities are those of the training mix (equal parts for the
shipped TA SD stage): for another mix ``f_c``, the posterior is ``p_c f_c / sum p f``.
Training truth: ``true_primary`` (PDG id); ``classes`` maps each class name to its list
of ids (the recipe gives them; for TA SD those of ``Detector.primaries``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from ..models import EventReduction, GraphEncoder
from .base import GRAPH_BUILDING, Stage, StageExport, StageGraph, truth
from .inputs import StageInput


class Composition(Stage):
    """GraphEncoder on all hits (hit_score as a feature) + event readout -> class logits."""

    reads = ("hit_score",)

    def __init__(self, n_features: int, relative_features: tuple[int, ...], *, classes: dict[str, list[int]],
                 hidden: int = 48, layers: int = 3):
        super().__init__()
        classes = dict(classes)
        self.config = {"n_features": n_features, "relative_features": list(relative_features), "hidden": hidden,
                       "layers": layers, "classes": classes}
        self.encoder = GraphEncoder(n_features + 1, tuple(relative_features), hidden, layers)
        self.head = nn.Sequential(nn.Linear(2 * hidden + 1, hidden), nn.ReLU(), nn.Linear(hidden, len(classes)))

    @property
    def writes(self) -> tuple[str, ...]:
        return tuple(f"reco_p_{name}" for name in self.config["classes"])

    def readout(self, h: torch.Tensor, x: torch.Tensor, events: EventReduction,
                event_x: torch.Tensor | None) -> torch.Tensor:
        """Class logits (events, classes) from the pooled node states and the log of the
        number of hits scored as signal (the last column of ``x`` is the hit score)."""
        signal_hits = events.sum((x[:, -1:] >= 0.5).to(x.dtype))
        return self.head(torch.cat([events.pool(h), torch.log1p(signal_hits)], dim=1))

    @property
    def export_spec(self) -> StageExport:
        return StageExport(
            "logits", "events", len(self.config["classes"]),
            "class logits per event, the classes in the order of the stage config's 'classes'",
            (GRAPH_BUILDING, "x gets one more column: the hit_score of the hit selection before it "
                             "(Composition.input_graph)", "reco_p_<class> = softmax(logits)"))

    def input_graph(self, inputs: StageInput) -> StageGraph:
        """The detector's graph of all hits, its node features with the hit score appended."""
        score = torch.from_numpy(np.asarray(inputs.hit_columns["hit_score"], dtype=np.float32))
        return StageGraph(replace(inputs.graph, x=torch.cat([inputs.graph.x, score[:, None]], dim=1)), inputs.batch)

    def outputs(self, inputs: StageInput) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        graph = self.input_graph(inputs).graph
        probabilities = torch.softmax(self(graph.x, graph.edge_index, graph.ptr), dim=1).numpy()
        return {}, {name: probabilities[:, column] for column, name in enumerate(self.writes)}

    def training_graph(self, inputs: StageInput) -> StageGraph:
        """Target ``primary_class`` (events,) int64: the index of the class of the primary."""
        codes = [code for members in self.config["classes"].values() for code in members]
        primary = truth(inputs.batch, "true_primary", lambda values: np.isin(values, codes),
                        f"primary is none of the classes {self.config['classes']}")
        label = np.zeros(primary.size, dtype=np.int64)
        for index, members in enumerate(self.config["classes"].values()):
            label[np.isin(primary, members)] = index
        return self.input_graph(inputs).with_targets({"primary_class": torch.from_numpy(label)})

    def training_loss(self, stage_graph: StageGraph) -> torch.Tensor:
        graph = stage_graph.graph
        return nn.functional.cross_entropy(self(graph.x, graph.edge_index, graph.ptr), graph.targets["primary_class"])
