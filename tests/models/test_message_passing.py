import numpy as np
import pytest
import torch

from graphreco import detectors
from graphreco.graph import build_graph
from graphreco.io import read_events, write_events
from graphreco.models import CsrEvents, FusedKernel, GraphEncoder, RowScatter, ScatterEvents, SegmentCsr
from graphreco.stages import HitSelection

from ..io.events import baikal_table


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    path = tmp_path_factory.mktemp("mp") / "events.parquet"
    write_events(path, baikal_table([40, 0, 1, 7, 90], seed=4), "baikal-gvd")
    return build_graph(next(read_events(path)), detectors.get("baikal-gvd"))


def test_fused_inference_matches_the_autograd_path(graph):
    torch.manual_seed(0)
    detector = detectors.get("baikal-gvd")
    model = HitSelection(len(detector.feature_names), detector.relative_features, hidden=24, layers=3)
    with torch.no_grad():
        fused = model(graph.x, graph.edge_index)
    reference = model(graph.x, graph.edge_index).detach()  # gradients on: per-edge tensors
    assert torch.allclose(fused, reference, atol=1e-5)


def test_events_do_not_talk_to_each_other(graph):
    torch.manual_seed(1)
    detector = detectors.get("baikal-gvd")
    model = HitSelection(len(detector.feature_names), detector.relative_features).eval()
    with torch.no_grad():
        whole = model(graph.x, graph.edge_index)
        for i in range(graph.num_graphs):
            event = graph.get_example(i)
            lo, hi = int(graph.ptr[i]), int(graph.ptr[i + 1])
            assert torch.allclose(model(event.x, event.edge_index), whole[lo:hi], atol=1e-5)


def test_hit_scores_are_the_probabilities_of_signal_and_of_track_light_given_signal():
    logits = torch.tensor([[2.0, 0.0, 0.0], [-5.0, 1.0, 3.0]])
    probability = torch.softmax(logits, 1).numpy()
    columns = HitSelection(5, (0, 1, 2, 3), n_classes=3).scores(logits)
    assert columns["hit_score"][0] < 0.5 < columns["hit_score"][1]
    np.testing.assert_allclose(columns["hit_score"], 1 - probability[:, 0], rtol=1e-6)
    np.testing.assert_allclose(columns["hit_track_score"], probability[:, 1] / probability[:, 1:].sum(1), rtol=1e-6)
    assert set(HitSelection(5, (0, 1, 2, 3), n_classes=2).scores(logits[:, :2])) == {"hit_score"}


def test_the_three_aggregations_give_the_same_node_states(graph):
    """One block, three reductions: segment_csr, the fused kernel, row scatters."""
    torch.manual_seed(2)
    detector = detectors.get("baikal-gvd")
    encoder = GraphEncoder(len(detector.feature_names), detector.relative_features, hidden=16, layers=2)
    with torch.no_grad():
        states = [encoder(graph.x, graph.edge_index, aggregation)
                  for aggregation in (SegmentCsr(), FusedKernel(), RowScatter())]
    assert torch.allclose(states[0], states[1], atol=1e-5) and torch.allclose(states[0], states[2], atol=1e-5)


def test_event_reductions_by_offsets_and_by_node_events_agree(graph):
    """CsrEvents (offsets) and ScatterEvents (event of each node) up to the last event with
    nodes; an inner event without nodes gets zeros from both."""
    h = torch.randn(graph.x.shape[0], 4, generator=torch.Generator().manual_seed(3))
    csr, scatter = CsrEvents(graph.ptr), ScatterEvents(graph.batch)
    rows = int(graph.batch.max()) + 1
    assert torch.allclose(csr.pool(h)[:rows], scatter.pool(h), atol=1e-6)
    assert torch.allclose(csr.sum(h)[:rows], scatter.sum(h), atol=1e-5)
    assert torch.equal(csr.count(torch.float32)[:rows], scatter.count(torch.float32))
    assert torch.all(scatter.count(torch.float32)[1] == 0) and torch.all(scatter.pool(h)[1] == 0)
