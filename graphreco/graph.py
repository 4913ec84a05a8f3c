"""EventBatch + detector -> ``GraphBatch``, with no per-event Python loop.

Node features and edges come from the detector (its feature spec and graph recipe on
CSR arrays); the batch vector and the node and edge offsets of each event are derived
from the CSR offsets. ``GraphBatch`` holds what torch_geometric's ``Batch`` held for us
(the tensors, ``num_graphs``, ``get_example``) without importing torch_geometric, which
costs 1.5 s of CPU per process (it imports ``torch._dynamo`` and its datasets): paid by
every command, every local worker's fork server and every Ray actor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from .detectors import Detector
from .io import EventBatch


@dataclass(frozen=True, eq=False)
class GraphBatch:
    """The events of a batch as one graph of disjoint event graphs: tensors only.

    Args:
        x: (nodes, features) float32 node features.
        edge_index: (2, edges) int64 source and target node of each edge, grouped by event
            and by target within each.
        batch: (nodes,) int64 the event of each node.
        ptr: (events + 1,) int64 where each event's nodes start.
        edge_ptr: (events + 1,) int64 where each event's edges start.
        event_id: (events,) int64.
        event_x: (events, k) float32 per-event inputs of a stage's readout (None: it takes none).
        targets: what a stage learns, by name, each (nodes, ...) or (events, ...); empty
            outside training.
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    batch: torch.Tensor
    ptr: torch.Tensor
    edge_ptr: torch.Tensor
    event_id: torch.Tensor
    event_x: torch.Tensor | None = None
    targets: Mapping[str, torch.Tensor] = field(default_factory=dict)

    @property
    def num_graphs(self) -> int:
        """Events."""
        return self.ptr.numel() - 1

    @property
    def num_nodes(self) -> int:
        """Hits, over all events."""
        return self.x.shape[0]

    def get_example(self, index: int) -> GraphBatch:
        """Event ``index`` alone (nodes numbered from 0), with its node features, edges and id."""
        start, stop = int(self.ptr[index]), int(self.ptr[index + 1])
        first, last = int(self.edge_ptr[index]), int(self.edge_ptr[index + 1])
        return GraphBatch(x=self.x[start:stop], edge_index=self.edge_index[:, first:last] - start,
                          batch=torch.zeros(stop - start, dtype=torch.long), ptr=torch.tensor([0, stop - start]),
                          edge_ptr=torch.tensor([0, last - first]), event_id=self.event_id[index:index + 1])


def build_graph(batch: EventBatch, detector: Detector, edge_index: np.ndarray | None = None) -> GraphBatch:
    """One ``GraphBatch`` holding every event of ``batch`` as a graph.

    ``x`` are the detector's node features, ``edge_index`` its default graph (or the one
    given, its edges grouped by event and ordered by target within each).
    """
    offsets = np.array(batch.offsets, dtype=np.int64)  # small; Arrow memory is read-only
    sizes = np.diff(offsets)
    if edge_index is None:
        edge_index = detector.build_edges(offsets, batch.hits)
    x = detector.node_feature_matrix(offsets, batch.hits, batch.events)
    return GraphBatch(
        x=torch.from_numpy(x),
        edge_index=torch.from_numpy(edge_index),
        batch=torch.from_numpy(np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)),
        ptr=torch.from_numpy(offsets),
        edge_ptr=torch.from_numpy(np.searchsorted(edge_index[1], offsets, side="left")),
        event_id=torch.from_numpy(np.array(batch.event_id, dtype=np.int64)),
    )
