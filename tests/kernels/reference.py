"""Brute-force references for the graph builders: plain loops, obviously right, slow."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

PairDistance = Callable[[int, int], float]


def neighbours(offsets: np.ndarray, distance: PairDistance, k: int, r: float = np.inf) -> np.ndarray:
    """For each hit, the ``k`` other hits of its event with distance < r, by (distance, index)."""
    sources, targets = [], []
    for e in range(len(offsets) - 1):
        hits = range(offsets[e], offsets[e + 1])
        for i in hits:
            candidates = sorted((distance(i, j), j) for j in hits if j != i)
            kept = [j for d, j in candidates if d < r * r][:k]
            sources += kept
            targets += [i] * len(kept)
    return np.array([sources, targets], dtype=np.int64).reshape(2, -1)


def criterion(offsets: np.ndarray, connected: Callable[[int, int], bool]) -> np.ndarray:
    """For each hit, the other hits of its event for which ``connected(i, j)``, by index."""
    sources, targets = [], []
    for e in range(len(offsets) - 1):
        hits = range(offsets[e], offsets[e + 1])
        for i in hits:
            kept = [j for j in hits if j != i and connected(i, j)]
            sources += kept
            targets += [i] * len(kept)
    return np.array([sources, targets], dtype=np.int64).reshape(2, -1)


def nearest_connected(offsets: np.ndarray, connected: Callable[[int, int], bool], distance: PairDistance,
                      k: int) -> np.ndarray:
    """For each hit, of the other hits of its event for which ``connected(i, j)``, the
    ``k`` first by (distance, index), listed by index."""
    sources, targets = [], []
    for e in range(len(offsets) - 1):
        hits = range(offsets[e], offsets[e + 1])
        for i in hits:
            kept = sorted(j for _, j in sorted((distance(i, j), j) for j in hits if j != i and connected(i, j))[:k])
            sources += kept
            targets += [i] * len(kept)
    return np.array([sources, targets], dtype=np.int64).reshape(2, -1)


def euclidean(coords: np.ndarray, weights: np.ndarray | None = None) -> PairDistance:
    """Squared weighted distance summed feature by feature, as the kernels sum it."""
    scaled = np.asarray(coords, dtype=np.float64)
    if weights is not None:
        scaled = scaled * np.asarray(weights, dtype=np.float64)

    def distance(i: int, j: int) -> float:
        d = 0.0
        for f in range(scaled.shape[1]):
            t = scaled[j, f] - scaled[i, f]
            d += t * t
        return d

    return distance


def delta_r2(eta: np.ndarray, phi: np.ndarray) -> PairDistance:
    """Squared Delta R with the azimuthal difference wrapped into [0, pi]."""
    eta = np.asarray(eta, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)

    def distance(i: int, j: int) -> float:
        dphi = abs(phi[j] - phi[i]) % (2 * np.pi)
        if dphi > np.pi:
            dphi = 2 * np.pi - dphi
        deta = eta[j] - eta[i]
        return deta * deta + dphi * dphi

    return distance
