"""What every stage provides to the pipeline and to training."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..graph import GraphBatch
from ..io import EventBatch, EventFormatError
from .inputs import StageInput


class Stage(nn.Module):
    """A trainable reconstruction step.

    ``reads`` names the per-hit columns of earlier stages it needs, ``writes`` its output
    columns, ``config`` its constructor arguments (stored in artifacts).
    """

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    config: dict

    def outputs(self, inputs: StageInput) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per-hit and per-event output columns for a batch."""
        raise NotImplementedError

    def input_graph(self, inputs: StageInput) -> GraphBatch:
        """The graph the stage reads a batch through (the detector's graph of all hits)."""
        return inputs.graph

    def training_graph(self, inputs: StageInput) -> GraphBatch:
        """The graph the stage learns from, with its truth attached; raises ``KeyError``
        naming a truth column the batch lacks."""
        raise NotImplementedError

    def training_loss(self, graph: GraphBatch) -> torch.Tensor:
        """Loss of a graph from ``training_graph``."""
        raise NotImplementedError

    def calibrate_on(self, graphs: list[GraphBatch]) -> dict:
        """Fix uncertainty calibrations on validation graphs; returns what was measured."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"


def truth(batch: EventBatch, name: str, valid: Callable[[np.ndarray], np.ndarray] | None = None,
          problem: str = "") -> np.ndarray:
    """Truth column ``name`` of a batch (per hit or per event). ``KeyError`` names the
    column when it is absent; where ``valid(values)`` is false, ``EventFormatError``
    names the file, the column, the first offending event and ``problem``."""
    columns = batch.hits if name in batch.hits else batch.events
    if name not in columns:
        raise KeyError(name)
    values = columns[name]
    if valid is not None and not np.all(accepted := valid(values)):
        bad = int(np.argmin(accepted))
        event = bad if columns is batch.events else int(np.searchsorted(batch.offsets, bad, side="right") - 1)
        raise EventFormatError(batch.source, problem, column=name, event_id=int(batch.event_id[event]))
    return values
