"""EventBatch + detector -> torch_geometric ``Batch``, with no per-event Python loop.

Node features and edges come from the detector (its feature spec and graph recipe on
CSR arrays); the batch vector, ``ptr`` and the slice bookkeeping that lets
``Batch.get_example(i)`` return event ``i`` are derived from the CSR offsets.
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Batch

from .detectors import Detector
from .io import EventBatch


def build_graph(batch: EventBatch, detector: Detector, edge_index: np.ndarray | None = None) -> Batch:
    """One torch_geometric ``Batch`` holding every event of ``batch`` as a graph.

    ``x`` are the detector's node features, ``edge_index`` its default graph (or the one
    given), ``batch`` the event of each hit, ``event_id`` the events' ids.
    """
    offsets = np.array(batch.offsets, dtype=np.int64)  # small; Arrow memory is read-only
    sizes = np.diff(offsets)
    if edge_index is None:
        edge_index = detector.build_edges(offsets, batch.hits)
    x = detector.node_feature_matrix(offsets, batch.hits, batch.events)
    edge_ptr = np.searchsorted(edge_index[1], offsets, side="left")
    graph = Batch(
        x=torch.from_numpy(x),
        edge_index=torch.from_numpy(edge_index),
        batch=torch.from_numpy(np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)),
        ptr=torch.from_numpy(offsets),
        event_id=torch.from_numpy(np.array(batch.event_id, dtype=np.int64)),
    )
    graph._num_graphs = sizes.size
    event_ptr = torch.arange(sizes.size + 1)
    graph._slice_dict = {"x": torch.from_numpy(offsets), "edge_index": torch.from_numpy(edge_ptr),
                         "event_id": event_ptr}
    graph._inc_dict = {"x": torch.zeros(sizes.size, dtype=torch.long),
                       "edge_index": torch.from_numpy(offsets[:-1]),
                       "event_id": torch.zeros(sizes.size, dtype=torch.long)}
    return graph
