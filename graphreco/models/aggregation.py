"""How the network reduces over a node's incoming edges and over an event's nodes.

An ``EdgeBlock`` (message_passing.py) sends every edge the message

    m_ij = relu(t_i + s_j + W e_ij),   t = A h + b,  s = B h,  e_ij = relative geometry

and reads the max and mean of the messages into each target node. Three interchangeable
``EdgeAggregation``s compute those two reductions; the caller picks one:

- ``SegmentCsr``: per-edge messages reduced by ``torch_scatter.segment_csr`` over edges
  grouped by target (differentiable: training);
- ``FusedKernel``: the numba kernel ``graphreco.kernels.aggregate_edge_messages``, which
  never builds per-edge tensors (no gradients: inference);
- ``RowScatter``: per-edge messages reduced by row scatters by target, in ops that export
  to ONNX (edges in any order).

Event readouts reduce node states per event through an ``EventReduction``: ``CsrEvents``
(event offsets ``ptr``, ``segment_csr``) or ``ScatterEvents`` (the event of each node,
row scatters, for export).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch_scatter import segment_csr

from ..kernels import aggregate_edge_messages
from .scatter import segment_count, segment_max_mean, segment_sum


def edge_pointer(edge_index: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """CSR pointer (n_nodes + 1) of edges grouped by target node."""
    return torch.searchsorted(edge_index[1], torch.arange(n_nodes + 1, device=edge_index.device))


def relative_geometry(x: torch.Tensor, edge_index: torch.Tensor, features: tuple[int, ...]) -> torch.Tensor:
    """Edge inputs e_ij, (E, len(features) + 1): the differences source - target of the
    node features ``features`` and their Euclidean norm."""
    delta = x[edge_index[0]][:, features] - x[edge_index[1]][:, features]
    return torch.cat([delta, delta.norm(p=2, dim=1, keepdim=True)], dim=1)


def edge_messages(target_part: torch.Tensor, source_part: torch.Tensor, edge_weight: torch.Tensor,
                  geometry: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
    """The messages m_ij of the module docstring, (E, H).

    Args:
        target_part: (N, H) ``A h + b``; source_part: (N, H) ``B h``.
        edge_weight: (H, len(features) + 1) ``W``, as ``nn.Linear`` stores it.
        geometry: (E, len(features) + 1) ``e_ij`` (``relative_geometry``).
        edge_index: (2, E) source and target node of each edge.
    """
    return torch.relu(target_part[edge_index[1]] + source_part[edge_index[0]]
                      + torch.nn.functional.linear(geometry, edge_weight))


@dataclass(frozen=True)
class Edges:
    """A graph's edges as an aggregation reads them, prepared once for all blocks.

    ``index`` (2, E) source and target node of each edge; ``x`` (N, F) the node
    features; ``features`` the indices of the relative-geometry features; ``pointer``
    (N + 1) the CSR of the edges grouped by target (CSR aggregations); ``geometry``
    (E, len(features) + 1) the edge inputs (aggregations that build messages).
    """

    index: torch.Tensor
    x: torch.Tensor
    features: tuple[int, ...]
    pointer: torch.Tensor | None = None
    geometry: torch.Tensor | None = None


class EdgeAggregation:
    """Max and mean of the messages over each node's incoming edges."""

    def prepare(self, x: torch.Tensor, edge_index: torch.Tensor, features: tuple[int, ...]) -> Edges:
        """What ``__call__`` reads of the graph, computed once per forward."""
        raise NotImplementedError

    def __call__(self, target_part: torch.Tensor, source_part: torch.Tensor, edge_weight: torch.Tensor,
                 edges: Edges) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, H) max and (N, H) mean of m_ij over incoming edges (0 without edges)."""
        raise NotImplementedError


class SegmentCsr(EdgeAggregation):
    """Per-edge messages reduced by ``segment_csr`` (edges grouped by target); differentiable."""

    def prepare(self, x, edge_index, features):
        return Edges(edge_index, x, features, pointer=edge_pointer(edge_index, x.shape[0]),
                     geometry=relative_geometry(x, edge_index, features))

    def __call__(self, target_part, source_part, edge_weight, edges):
        message = edge_messages(target_part, source_part, edge_weight, edges.geometry, edges.index)
        return segment_csr(message, edges.pointer, reduce="max"), segment_csr(message, edges.pointer, reduce="mean")


class FusedKernel(EdgeAggregation):
    """The fused numba kernel (edges grouped by target); no gradients, CPU tensors."""

    def prepare(self, x, edge_index, features):
        return Edges(edge_index, x, features, pointer=edge_pointer(edge_index, x.shape[0]))

    def __call__(self, target_part, source_part, edge_weight, edges):
        pooled_max, pooled_mean = aggregate_edge_messages(
            edges.x.numpy(), np.asarray(edges.features), target_part.numpy(), source_part.numpy(),
            np.ascontiguousarray(edge_weight.numpy().T), edges.pointer.numpy(), edges.index[0].numpy())
        return torch.from_numpy(pooled_max), torch.from_numpy(pooled_mean)


class RowScatter(EdgeAggregation):
    """Per-edge messages reduced by row scatters by target (``scatter.segment_max_mean``):
    exports to ONNX, edges in any order."""

    def prepare(self, x, edge_index, features):
        return Edges(edge_index, x, features, geometry=relative_geometry(x, edge_index, features))

    def __call__(self, target_part, source_part, edge_weight, edges):
        message = edge_messages(target_part, source_part, edge_weight, edges.geometry, edges.index)
        return segment_max_mean(message, edges.index[1], target_part.shape[0])


def default_aggregation() -> EdgeAggregation:
    """``SegmentCsr`` where autograd records (training), else ``FusedKernel`` (inference)."""
    return SegmentCsr() if torch.is_grad_enabled() else FusedKernel()


class EventReduction:
    """Reductions of per-node rows over the nodes of each event."""

    def pool(self, h: torch.Tensor) -> torch.Tensor:
        """(events, 2 C): max and mean of the node states ``h`` (N, C) per event (0 for an
        event without nodes)."""
        raise NotImplementedError

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """(events, C): sum of ``values`` (N, C) per event."""
        raise NotImplementedError

    def count(self, dtype: torch.dtype) -> torch.Tensor:
        """(events,): nodes per event, as ``dtype``."""
        raise NotImplementedError


class CsrEvents(EventReduction):
    """Events given by their node offsets ``ptr`` (events + 1), reduced by ``segment_csr``."""

    def __init__(self, ptr: torch.Tensor):
        self.ptr = ptr

    def pool(self, h):
        return torch.cat([segment_csr(h, self.ptr, reduce="max"), segment_csr(h, self.ptr, reduce="mean")], dim=1)

    def sum(self, values):
        return segment_csr(values, self.ptr, reduce="sum")

    def count(self, dtype):
        return (self.ptr[1:] - self.ptr[:-1]).to(dtype)


class ScatterEvents(EventReduction):
    """Events given by the event of each node, ``batch`` (N,), reduced by row scatters
    (exports to ONNX). The events are ``max(batch) + 1``, a tensor, so that a traced graph
    keeps the events axis dynamic: events without nodes after the last one with nodes
    have no row."""

    def __init__(self, batch: torch.Tensor):
        self.batch = batch
        self.n_events = torch.cat([batch, batch.new_full((1,), -1)]).max() + 1  # 0 without nodes

    def pool(self, h):
        return torch.cat(segment_max_mean(h, self.batch, self.n_events), dim=1)

    def sum(self, values):
        return segment_sum(values, self.batch, self.n_events)

    def count(self, dtype):
        return segment_count(self.batch, self.n_events, dtype)


def event_pool(h: torch.Tensor, ptr: torch.Tensor) -> torch.Tensor:
    """Per-event readout (events, 2 C): max and mean of the node states ``h`` (N, C), the
    events given by ``ptr``."""
    return CsrEvents(ptr).pool(h)
