import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from graphreco.kernels import aggregate_edge_messages, knn_graph

from .strategies import event_sizes, offsets_of


def reference(x, features, target_part, source_part, edge_weight, edge_index):
    """Per-edge messages, then max and mean per target, in plain numpy."""
    n, hidden = target_part.shape
    out_max, out_mean = np.zeros((n, hidden)), np.zeros((n, hidden))
    for i in range(n):
        incoming = edge_index[0][edge_index[1] == i]
        if incoming.size == 0:
            continue
        delta = x[incoming][:, features] - x[i, features]
        relative = np.concatenate([delta, np.linalg.norm(delta, axis=1, keepdims=True)], axis=1)
        message = np.maximum(target_part[i] + source_part[incoming] + relative @ edge_weight, 0.0)
        out_max[i], out_mean[i] = message.max(axis=0), message.mean(axis=0)
    return out_max, out_mean


@settings(max_examples=40, deadline=None)
@given(data=st.data(), hidden=st.sampled_from([1, 8, 32]), k=st.integers(1, 6))
def test_fused_messages_match_the_reference(data, hidden, k):
    offsets = offsets_of(data.draw(event_sizes(max_hits=30)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n = int(offsets[-1])
    x = rng.normal(size=(n, 5)).astype(np.float32)
    features = np.array([0, 1, 3])
    edge_index = knn_graph(offsets, x[:, :3], k)
    pointer = np.searchsorted(edge_index[1], np.arange(n + 1))
    target_part, source_part = (rng.normal(size=(n, hidden)).astype(np.float32) for _ in range(2))
    edge_weight = rng.normal(size=(features.size + 1, hidden)).astype(np.float32)
    fused = aggregate_edge_messages(x, features, target_part, source_part, edge_weight, pointer, edge_index[0])
    for got, expected in zip(fused, reference(x, features, target_part, source_part, edge_weight, edge_index)):
        np.testing.assert_allclose(got, expected, atol=2e-5, rtol=1e-4)
