"""A factorised edge convolution and the encoder built from it.

EdgeBlock (after EdgeConv, Wang et al., arXiv:1801.07829, with the edge MLP factorised):

    m_ij = relu(A h_i + B h_j + E e_ij + b)
    h_i' = h_i + W [h_i, max_j m_ij, mean_j m_ij]

``A h`` and ``B h`` are computed once per node, so an edge costs an addition, not a
matrix product; ``e_ij`` holds the relative geometry of the two hits (differences of
position and time features and their norm). Edges arrive grouped by target (the kernels'
CSR order), so aggregation is ``torch_scatter.segment_csr``. Without gradients
(inference) the same block runs through the fused numba kernel
``graphreco.kernels.aggregate_edge_messages``, which never builds per-edge tensors.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch_scatter import segment_csr

from ..kernels import aggregate_edge_messages


def edge_pointer(edge_index: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """CSR pointer (n_nodes + 1) of edges grouped by target node."""
    return torch.searchsorted(edge_index[1], torch.arange(n_nodes + 1, device=edge_index.device))


def relative_geometry(x: torch.Tensor, edge_index: torch.Tensor, features: tuple[int, ...]) -> torch.Tensor:
    """Edge inputs: feature differences source - target and their Euclidean norm."""
    delta = x[edge_index[0]][:, features] - x[edge_index[1]][:, features]
    return torch.cat([delta, delta.norm(dim=1, keepdim=True)], dim=1)


class EdgeBlock(nn.Module):
    """One round of message passing with a residual update (formula in the module doc)."""

    def __init__(self, hidden: int, edge_dim: int):
        super().__init__()
        self.target = nn.Linear(hidden, hidden)
        self.source = nn.Linear(hidden, hidden, bias=False)
        self.edge = nn.Linear(edge_dim, hidden, bias=False)
        self.update = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.ReLU())

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor, edge_features: torch.Tensor | None,
                pointer: torch.Tensor, x: torch.Tensor, relative_features: tuple[int, ...]) -> torch.Tensor:
        """Without gradients (inference) the fused numba kernel aggregates the messages;
        ``edge_features`` is then not needed and may be None."""
        if torch.is_grad_enabled():
            message = torch.relu(self.target(h)[edge_index[1]] + self.source(h)[edge_index[0]]
                                 + self.edge(edge_features))
            pooled_max = segment_csr(message, pointer, reduce="max")
            pooled_mean = segment_csr(message, pointer, reduce="mean")
        else:
            pooled_max, pooled_mean = (torch.from_numpy(a) for a in aggregate_edge_messages(
                x.numpy(), np.asarray(relative_features), self.target(h).numpy(), self.source(h).numpy(),
                np.ascontiguousarray(self.edge.weight.numpy().T), pointer.numpy(), edge_index[0].numpy()))
        return h + self.update(torch.cat([h, pooled_max, pooled_mean], dim=1))


class GraphEncoder(nn.Module):
    """Node features -> hidden node states: an input layer, then ``layers`` EdgeBlocks."""

    def __init__(self, n_features: int, relative_features: tuple[int, ...], hidden: int = 32, layers: int = 3):
        super().__init__()
        self.n_features = n_features
        self.relative_features = tuple(relative_features)
        self.embed = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU())
        self.blocks = nn.ModuleList(EdgeBlock(hidden, len(self.relative_features) + 1) for _ in range(layers))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        pointer = edge_pointer(edge_index, x.shape[0])
        edge_features = relative_geometry(x, edge_index, self.relative_features) if torch.is_grad_enabled() else None
        h = self.embed(x)
        for block in self.blocks:
            h = block(h, edge_index, edge_features, pointer, x, self.relative_features)
        return h


def event_pool(h: torch.Tensor, ptr: torch.Tensor) -> torch.Tensor:
    """Per-event readout: max and mean of the node states (events given by ``ptr``)."""
    return torch.cat([segment_csr(h, ptr, reduce="max"), segment_csr(h, ptr, reduce="mean")], dim=1)
