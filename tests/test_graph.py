import numpy as np
import torch

from graphreco import detectors
from graphreco.graph import build_graph
from graphreco.io import read_events, write_events

from .io.events import baikal_table


def test_batch_holds_every_event_as_its_own_graph(tmp_path):
    write_events(tmp_path / "a.parquet", baikal_table([5, 0, 12, 1, 30], seed=3), "baikal-gvd")
    detector = detectors.get("baikal-gvd")
    (batch,) = read_events(tmp_path / "a.parquet")
    graph = build_graph(batch, detector)
    assert graph.num_graphs == 5 and graph.num_nodes == 48
    assert graph.x.shape == (48, len(detector.feature_names))
    np.testing.assert_array_equal(graph.ptr.numpy(), [0, 5, 5, 17, 18, 48])
    for i, size in enumerate([5, 0, 12, 1, 30]):
        example = graph.get_example(i)
        lo = int(graph.ptr[i])
        alone = detector.build_edges(np.array([0, size]), {k: v[lo:lo + size] for k, v in batch.hits.items()})
        assert example.num_nodes == size and int(example.event_id) == i
        np.testing.assert_array_equal(example.edge_index.numpy(), alone)
        torch.testing.assert_close(example.x, graph.x[lo:lo + size])
