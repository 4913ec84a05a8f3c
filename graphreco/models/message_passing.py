"""A factorised edge convolution and the encoder built from it.

EdgeBlock (after EdgeConv, Wang et al., arXiv:1801.07829, with the edge MLP factorised):

    m_ij = relu(A h_i + B h_j + E e_ij + b)
    h_i' = h_i + W [h_i, max_j m_ij, mean_j m_ij]

``A h`` and ``B h`` are computed once per node, so an edge costs an addition, not a
matrix product; ``e_ij`` holds the relative geometry of the two hits (differences of
position and time features and their norm). The max and mean over incoming edges come
from an ``EdgeAggregation`` the caller chooses (aggregation.py): ``segment_csr`` with
gradients, the fused numba kernel without, row scatters for export.
"""

from __future__ import annotations

import torch
from torch import nn

from .aggregation import EdgeAggregation, Edges, default_aggregation


class EdgeBlock(nn.Module):
    """One round of message passing with a residual update (formula in the module doc).

    Args:
        hidden: width H of the node states.
        edge_dim: width of the edge inputs e_ij.
    Shapes:
        h (N, H) -> (N, H).
    """

    def __init__(self, hidden: int, edge_dim: int):
        super().__init__()
        self.target = nn.Linear(hidden, hidden)
        self.source = nn.Linear(hidden, hidden, bias=False)
        self.edge = nn.Linear(edge_dim, hidden, bias=False)
        self.update = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.ReLU())

    def forward(self, h: torch.Tensor, edges: Edges, aggregation: EdgeAggregation) -> torch.Tensor:
        pooled_max, pooled_mean = aggregation(self.target(h), self.source(h), self.edge.weight, edges)
        return h + self.update(torch.cat([h, pooled_max, pooled_mean], dim=1))


class GraphEncoder(nn.Module):
    """Node features -> hidden node states: an input layer, then ``layers`` EdgeBlocks.

    Args:
        n_features: node features F.
        relative_features: indices of the features whose differences along an edge
            (and their norm) are the edge inputs.
        hidden: width H of the node states; layers: EdgeBlocks.
    Shapes:
        x (N, F), edge_index (2, E) -> (N, H).
    """

    def __init__(self, n_features: int, relative_features: tuple[int, ...], hidden: int = 32, layers: int = 3):
        super().__init__()
        self.n_features = n_features
        self.relative_features = tuple(relative_features)
        self.embed = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU())
        self.blocks = nn.ModuleList(EdgeBlock(hidden, len(self.relative_features) + 1) for _ in range(layers))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor,
                aggregation: EdgeAggregation | None = None) -> torch.Tensor:
        """Node states; ``aggregation`` defaults to ``default_aggregation()``."""
        aggregation = aggregation or default_aggregation()
        edges = aggregation.prepare(x, edge_index, self.relative_features)
        h = self.embed(x)
        for block in self.blocks:
            h = block(h, edges, aggregation)
        return h
