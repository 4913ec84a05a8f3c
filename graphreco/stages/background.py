"""Background suppression: the probability that an event is signal (for Baikal-GVD a
neutrino), not background (an atmospheric-muon bundle).

Node states from the GraphEncoder are pooled per event (max and mean) and an MLP gives
one logit; the stage writes ``event_score = sigmoid(logit)``. Loss: binary cross entropy.
Training truth: events whose ``true_kind`` is one of ``background_kinds`` are background
(the recipe names them; for Baikal-GVD ``eas``). ``working_point_on`` fixes, on labelled
reference events, the ``event_score`` threshold that keeps a chosen fraction of their
signal events (``graphreco calibrate --efficiency``) or lets a chosen fraction of their
background events through (``--rejection``); it is kept in the config as
``working_point`` and changes no output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..models import EventReduction, GraphEncoder
from .base import GRAPH_BUILDING, Stage, StageExport, StageGraph, truth
from .calibration import MIN_REFERENCE_EVENTS, TooFewReferenceEvents
from .inputs import StageInput

MIN_BACKGROUND_PASSING = 10
"""Fewest reference background events passing a working point fixed at a rejection: its
passing fraction is then known to about 1 / sqrt(10) = 30 % (with 2 passing, a threshold
fixed at a rejection of 1,000 on 2,347 bundles let 1 in 411 of 30,000 others through)."""


class BackgroundSuppression(Stage):
    """GraphEncoder + event readout + MLP -> one logit per event."""

    writes = ("event_score",)

    def __init__(self, n_features: int, relative_features: tuple[int, ...], *, background_kinds: Sequence[str],
                 hidden: int = 32, layers: int = 3, working_point: dict | None = None):
        super().__init__()
        self.config = {"n_features": n_features, "relative_features": list(relative_features),
                       "hidden": hidden, "layers": layers, "background_kinds": list(background_kinds)}
        if working_point is not None:
            self.config["working_point"] = dict(working_point)
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

    def working_point_on(self, stage_graphs: list[StageGraph], efficiency: float | None = None,
                         rejection: float | None = None) -> dict:
        """Fix ``working_point`` on ``stage_graphs`` (from ``training_graph``): the
        lowest ``event_score`` kept such that ``efficiency`` of their signal events
        pass, or the lowest that lets at most ``1 / rejection`` of their background
        events through (exactly one of the two); with how many of each pass it.
        ``TooFewReferenceEvents`` with fewer than ``MIN_REFERENCE_EVENTS`` signal
        events, or, for a rejection, fewer than ``MIN_BACKGROUND_PASSING`` background
        events passing (``MIN_BACKGROUND_PASSING * rejection`` in all)."""
        if (efficiency is None) == (rejection is None):
            raise ValueError("give a signal efficiency or a background rejection to fix the working point at")
        with torch.inference_mode():
            score = np.concatenate([self.event_score(self(g.graph.x, g.graph.edge_index, g.graph.ptr)).numpy()
                                    for g in stage_graphs])
        signal = np.concatenate([g.graph.targets["is_signal"].numpy() for g in stage_graphs])
        if signal.sum() < MIN_REFERENCE_EVENTS:
            raise TooFewReferenceEvents(f"a working point needs at least {MIN_REFERENCE_EVENTS} signal reference "
                                        f"events; the reference files give {int(signal.sum())}")
        if efficiency is not None:
            threshold = float(np.quantile(score[signal], 1.0 - efficiency, method="inverted_cdf"))
            chosen = {"signal_efficiency": efficiency}
        else:
            background = np.sort(score[~signal])
            needed = int(np.ceil(MIN_BACKGROUND_PASSING * rejection))
            if background.size < needed:
                raise TooFewReferenceEvents(
                    f"a background rejection of {rejection:g} is fixed by the {MIN_BACKGROUND_PASSING} or more "
                    f"background events that pass it: it needs at least {needed} background reference events; "
                    f"the reference files give {background.size}")
            passing = int(background.size // rejection)  # the most that may pass
            threshold = float(np.nextafter(background[-passing - 1], np.inf))
            chosen = {"background_rejection": rejection}
        self.config["working_point"] = chosen | {
            "event_score_threshold": threshold,
            "signal_passing": float(np.mean(score[signal] >= threshold)), "signal_events": int(signal.sum()),
            "background_passing": int(np.sum(score[~signal] >= threshold)), "background_events": int(np.sum(~signal))}
        return self.config["working_point"]

    def training_graph(self, inputs: StageInput) -> StageGraph:
        """Target ``is_signal`` (events,) bool: the event's kind is none of ``background_kinds``."""
        kinds = truth(inputs.batch, "true_kind").astype(str)
        return self.input_graph(inputs).with_targets(
            {"is_signal": torch.from_numpy(~np.isin(kinds, self.config["background_kinds"]))})

    def training_loss(self, stage_graph: StageGraph) -> torch.Tensor:
        graph = stage_graph.graph
        return nn.functional.binary_cross_entropy_with_logits(self(graph.x, graph.edge_index, graph.ptr),
                                                              graph.targets["is_signal"].float())
