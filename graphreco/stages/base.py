"""What every stage provides to the pipeline and to training."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Batch

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

    def input_graph(self, inputs: StageInput) -> Batch:
        """The graph the stage reads a batch through (the detector's graph of all hits)."""
        return inputs.graph

    def training_graph(self, inputs: StageInput) -> Batch:
        """The graph the stage learns from, with its truth attached; raises ``KeyError``
        naming a truth column the batch lacks."""
        raise NotImplementedError

    def training_loss(self, graph: Batch) -> torch.Tensor:
        """Loss of a graph from ``training_graph``."""
        raise NotImplementedError

    def calibrate_on(self, graphs: list[Batch]) -> dict:
        """Fix uncertainty calibrations on validation graphs; returns what was measured."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"


def truth(columns: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A truth column of a batch; ``KeyError`` naming the column when it is absent."""
    if name not in columns:
        raise KeyError(name)
    return columns[name]
