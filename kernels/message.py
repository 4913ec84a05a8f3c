"""Fused message passing for inference: the EdgeBlock aggregation without per-edge tensors.

For every target node i and its incoming edges (grouped by target, ``pointer`` CSR):

    e_ij = [x_j[f] - x_i[f] for f in features] + [norm of those differences]
    m_ij = relu(target_part_i + source_part_j + e_ij @ edge_weight)
    out_max_i = max_j m_ij,   out_mean_i = mean_j m_ij     (0 without edges)

The autograd path (graphreco.models.EdgeBlock) materialises m_ij for every edge, an
(E, hidden) tensor per layer whose allocation and memory traffic dominate on a CPU; here
each message lives in registers and only the two (N, hidden) results are written.
"""

from __future__ import annotations

import numba
import numpy as np

BLOCK = 256  # target nodes per parallel task; scratch buffers are allocated once per block


@numba.njit(parallel=True, fastmath=True, cache=True)
def _aggregate(x, features, target_part, source_part, edge_weight, pointer, sources, out_max, out_mean):
    n_nodes = target_part.shape[0]
    hidden = numba.uint64(target_part.shape[1])  # unsigned indices: no wraparound checks,
    n_relative = numba.uint64(features.shape[0])  # so the channel loops vectorise
    for block in numba.prange((n_nodes + BLOCK - 1) // BLOCK):
        delta = np.empty(features.shape[0] + 1, dtype=np.float32)
        value = np.empty(target_part.shape[1], dtype=np.float32)
        for node in range(block * BLOCK, min(n_nodes, (block + 1) * BLOCK)):
            i = numba.uint64(node)
            for c in range(hidden):
                out_max[i, c] = 0.0
                out_mean[i, c] = 0.0
            for e in range(pointer[node], pointer[node + 1]):
                j = numba.uint64(sources[e])
                norm = np.float32(0.0)
                for r in range(n_relative):
                    d = x[j, features[r]] - x[i, features[r]]
                    delta[r] = d
                    norm += d * d
                delta[n_relative] = np.sqrt(norm)
                for c in range(hidden):
                    value[c] = target_part[i, c] + source_part[j, c]
                for r in range(n_relative + numba.uint64(1)):
                    weight = delta[r]
                    for c in range(hidden):
                        value[c] += weight * edge_weight[r, c]
                for c in range(hidden):
                    v = max(value[c], np.float32(0.0))
                    out_max[i, c] = max(out_max[i, c], v)
                    out_mean[i, c] += v
            degree = pointer[node + 1] - pointer[node]
            if degree > 0:
                scale = np.float32(1.0 / degree)
                for c in range(hidden):
                    out_mean[i, c] *= scale


def aggregate_edge_messages(x: np.ndarray, features: np.ndarray, target_part: np.ndarray, source_part: np.ndarray,
                            edge_weight: np.ndarray, pointer: np.ndarray,
                            sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max and mean over incoming edges of the messages defined in the module docstring.

    ``x`` (N, F) node features; ``features`` the indices used for relative geometry;
    ``target_part`` and ``source_part`` (N, H) the node linears (bias in the first);
    ``edge_weight`` (len(features) + 1, H) the edge linear, transposed; ``pointer``
    (N + 1) CSR over edges grouped by target; ``sources`` (E) their source nodes.
    Returns two float32 arrays (N, H).
    """
    out_max = np.empty_like(target_part)
    out_mean = np.empty_like(target_part)
    _aggregate(x, np.asarray(features, dtype=np.int64), target_part, source_part, edge_weight,
               pointer, sources, out_max, out_mean)
    return out_max, out_mean
