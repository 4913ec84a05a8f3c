"""Scalar pT sums in Delta R cones around every candidate: the jet-scale context a
candidate's few nearest neighbours do not show (how much leading-vertex charged pT and
how much pT of any origin surrounds it)."""

from __future__ import annotations

import math

import numba
import numpy as np

TWO_PI = 2.0 * math.pi


@numba.njit(cache=True)
def _cone_sums_event(pt, eta, phi, member, radius, out) -> None:
    n = pt.shape[0]
    if n == 0:
        return
    eta_lo = eta.min()
    n_eta = int((eta.max() - eta_lo) / radius) + 1
    n_phi = max(int(TWO_PI / radius), 1)
    d_phi = TWO_PI / n_phi
    cell = np.empty(n, np.int64)
    starts = np.zeros(n_eta * n_phi + 1, np.int64)
    for a in range(n):
        ip = min(int(((phi[a] + math.pi) % TWO_PI) / d_phi), n_phi - 1)
        cell[a] = min(int((eta[a] - eta_lo) / radius), n_eta - 1) * n_phi + ip
        if member[a]:
            starts[cell[a] + 1] += 1
    for c in range(n_eta * n_phi):
        starts[c + 1] += starts[c]
    fill = starts[:-1].copy()
    order = np.empty(starts[-1], np.int64)
    for a in range(n):
        if member[a]:
            order[fill[cell[a]]] = a
            fill[cell[a]] += 1
    r2 = radius * radius
    for a in range(n):
        ie0, ip0 = cell[a] // n_phi, cell[a] % n_phi
        total = 0.0
        for ie in range(max(ie0 - 1, 0), min(ie0 + 2, n_eta)):
            for k in range(-1, 2) if n_phi >= 3 else range(n_phi):
                c = ie * n_phi + ((ip0 + k) % n_phi if n_phi >= 3 else k)
                for s in range(starts[c], starts[c + 1]):
                    b = order[s]
                    if b == a:
                        continue
                    d_phi_ab = abs(phi[b] - phi[a]) % TWO_PI
                    d_phi_ab = min(d_phi_ab, TWO_PI - d_phi_ab)
                    d_eta = eta[b] - eta[a]
                    if d_eta * d_eta + d_phi_ab * d_phi_ab < r2:
                        total += pt[b]
        out[a] = total


@numba.njit(parallel=True, cache=True)
def _cone_sums(offsets, pt, eta, phi, member, radius, out) -> None:
    for e in numba.prange(offsets.shape[0] - 1):
        lo, hi = offsets[e], offsets[e + 1]
        _cone_sums_event(pt[lo:hi], eta[lo:hi], phi[lo:hi], member[lo:hi], radius, out[lo:hi])


def cone_pt_sums(offsets: np.ndarray, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, member: np.ndarray,
                 radius: float) -> np.ndarray:
    """For every candidate, the summed pT (GeV) of the ``member`` candidates of its crossing
    within Delta R < ``radius`` (itself excluded; phi in rad, wrapped)."""
    out = np.zeros(len(pt), dtype=np.float64)
    _cone_sums(np.asarray(offsets, dtype=np.int64), np.asarray(pt, dtype=np.float64),
               np.asarray(eta, dtype=np.float64), np.asarray(phi, dtype=np.float64),
               np.asarray(member, dtype=np.bool_), float(radius), out)
    return out
