"""Neighbours in the (eta, phi) plane of a collider detector, with phi periodic.

``Delta R**2 = (eta_j - eta_i)**2 + dphi**2`` where ``dphi`` is the azimuthal separation
wrapped into [0, pi]. Each event is binned into a cell grid (phi cells wrap around); a
query visits rings of cells outwards and stops once no unvisited cell can hold a closer
candidate than the worst one kept. Coincident candidates share a cell, whose members are
visited in increasing index: a query that holds ``k`` of them at distance 0 leaves its cell
at once, so n coincident candidates cost O(n k), not O(n^2).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.extending import register_jitable

from ._csr import (
    INDEX,
    check_columns,
    check_offsets,
    finish_slots,
    over_events,
    slot_layout,
    sorted_insert,
    store_neighbours,
)

TWO_PI = 2.0 * math.pi


@numba.njit(inline="always")
def delta_r2(eta_i: float, phi_i: float, eta_j: float, phi_j: float) -> float:
    """Squared Delta R with the azimuthal difference wrapped into [0, pi] (rad^2)."""
    dphi = abs(phi_j - phi_i) % TWO_PI
    if dphi > math.pi:
        dphi = TWO_PI - dphi
    deta = eta_j - eta_i
    return deta * deta + dphi * dphi


@numba.njit(cache=True)
def _grid_event(eta, phi, first, n, k, r2, cell, out, counts, slot0) -> None:
    eta_min, eta_max = np.inf, -np.inf
    for m in range(first, first + n):
        eta_min = min(eta_min, eta[m])
        eta_max = max(eta_max, eta[m])
    n_eta = max(1, min(int((eta_max - eta_min) / cell) + 1, 4 * n + 1))
    n_phi = max(1, min(int(TWO_PI / cell), 4 * n + 1))
    eta_width = max((eta_max - eta_min) / n_eta, 1e-300)
    phi_width = TWO_PI / n_phi
    # Cells at least `step` wide in both directions bound the distance to ring `ring`.
    step = min(eta_width if n_eta > 1 else np.inf, phi_width)
    cell_of = np.empty(n, dtype=np.int64)
    starts = np.zeros(n_eta * n_phi + 1, dtype=np.int64)
    for a in range(n):
        ie = min(int((eta[first + a] - eta_min) / eta_width), n_eta - 1)
        wrapped = (phi[first + a] + math.pi) % TWO_PI
        ip = min(int(wrapped / phi_width), n_phi - 1)
        cell_of[a] = ie * n_phi + ip
        starts[cell_of[a] + 1] += 1
    for c in range(n_eta * n_phi):
        starts[c + 1] += starts[c]
    members = np.empty(n, dtype=np.int64)
    fill = starts[:-1].copy()
    for a in range(n):
        members[fill[cell_of[a]]] = a
        fill[cell_of[a]] += 1
    max_ring = max(n_eta, n_phi)
    near_d = np.empty(k)
    near_j = np.empty(k, dtype=np.int64)
    for a in range(n):
        gi = first + a
        ie0, ip0 = cell_of[a] // n_phi, cell_of[a] % n_phi
        size = 0
        for ring in range(max_ring + 1):
            if ring >= 2:
                lower = (ring - 1) * step
                lower = lower * lower * (1.0 - 1e-9)
                if lower >= r2 or (size == k and lower > near_d[k - 1]):
                    break
            for ie in range(max(0, ie0 - ring), min(n_eta, ie0 + ring + 1)):
                on_eta_edge = abs(ie - ie0) == ring
                wraps = 2 * ring + 1 >= n_phi  # the ring spans every phi column
                n_steps = n_phi if wraps else (2 * ring + 1 if on_eta_edge else 2)
                for s_phi in range(n_steps):
                    if wraps:
                        ip = s_phi
                        gap = abs(ip - ip0)
                        gap = min(gap, n_phi - gap)
                        if gap > ring or (gap < ring and not on_eta_edge):
                            continue
                    elif on_eta_edge:
                        ip = (ip0 - ring + s_phi) % n_phi
                    else:
                        ip = (ip0 - ring + 2 * ring * s_phi) % n_phi
                    c = ie * n_phi + ip
                    for s in range(starts[c], starts[c + 1]):
                        b = members[s]
                        if b == a:
                            continue
                        d = delta_r2(eta[gi], phi[gi], eta[first + b], phi[first + b])
                        if d < r2:
                            size = sorted_insert(near_d, near_j, 0, size, k, d, first + b)
                        if ring == 0 and size == k and near_d[k - 1] == 0.0:
                            break  # k coincident: the rest of its own cell has larger indices
        store_neighbours(out, counts, gi, slot0 + a * k, near_j, size)


@register_jitable
def _search(first, n, k, slot0, out, counts, eta, phi, r2, max_cell) -> None:
    """One event: ``max_cell`` bounds the cell size (the radius; 0 for none)."""
    # Cells holding ~k/4 hits on average over the event's area: the k nearest lie a
    # few cells away, however dense the event; never larger than the radius.
    eta_min, eta_max = np.inf, -np.inf
    for m in range(first, first + n):
        eta_min = min(eta_min, eta[m])
        eta_max = max(eta_max, eta[m])
    cell = 0.5 * math.sqrt(max(eta_max - eta_min, 0.1) * TWO_PI * k / n)
    if max_cell > 0.0:
        cell = min(cell, max_cell)
    _grid_event(eta, phi, first, n, k, r2, cell, out, counts, slot0)


_neighbours = over_events(_search)


def _build(offsets, eta, phi, k, r) -> np.ndarray:
    offsets = check_offsets(offsets).astype(INDEX, copy=False)
    eta, phi = check_columns(offsets, eta, phi)
    if not (np.all(np.isfinite(eta)) and np.all(np.isfinite(phi))):
        raise ValueError("eta or phi contain NaN or inf")
    if k < 1:
        raise ValueError(f"the number of neighbours must be at least 1, got {k}")
    width, slot_offsets = slot_layout(offsets, int(k))
    out = np.empty((2, int(slot_offsets[-1])), dtype=INDEX)
    counts = np.zeros(eta.size, dtype=INDEX)
    cell = float(r) if np.isfinite(r) else 0.0
    _neighbours(offsets, width, slot_offsets, out, counts, (eta, phi, float(r) ** 2, cell))
    return finish_slots(out, counts, offsets, width, slot_offsets)


def eta_phi_knn_graph(offsets: np.ndarray, eta: np.ndarray, phi: np.ndarray, k: int) -> np.ndarray:
    """Connect every candidate to its ``k`` nearest others of the same crossing in Delta R.

    ``eta`` and ``phi`` (rad) are per-candidate arrays aligned with ``offsets``; phi may lie
    anywhere, separations are wrapped. Output as in :func:`graphreco.kernels.knn_graph`.
    """
    return _build(offsets, eta, phi, k, np.inf)


def eta_phi_radius_graph(offsets: np.ndarray, eta: np.ndarray, phi: np.ndarray, r0: float,
                         max_neighbours: int) -> np.ndarray:
    """Connect every candidate to the others of its crossing with Delta R < ``r0``.

    At most ``max_neighbours`` per candidate, the nearest (ties by the smaller index).
    """
    if not r0 > 0:
        raise ValueError(f"r0 must be positive, got {r0}")
    return _build(offsets, eta, phi, max_neighbours, r0)
