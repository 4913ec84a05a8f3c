"""Cone pT sums around LHC candidates against a brute-force sum."""

import numpy as np

from graphreco.detectors.lhc_pf.cones import cone_pt_sums


def brute_force(offsets, pt, eta, phi, member, radius):
    out = np.zeros(pt.size)
    for first, last in zip(offsets[:-1], offsets[1:]):
        for a in range(first, last):
            for b in range(first, last):
                d_phi = abs(phi[a] - phi[b]) % (2 * np.pi)
                d_phi = min(d_phi, 2 * np.pi - d_phi)
                if a != b and member[b] and (eta[a] - eta[b]) ** 2 + d_phi ** 2 < radius ** 2:
                    out[a] += pt[b]
    return out


def test_cone_sums_match_brute_force_in_every_event():
    rng = np.random.default_rng(3)
    offsets = np.array([0, 150, 150, 400])
    n = offsets[-1]
    pt, eta, phi = rng.exponential(2.0, n), rng.uniform(-3, 3, n), rng.uniform(-np.pi, np.pi, n)
    member = rng.random(n) < 0.3
    for radius in (0.4, 0.8):
        np.testing.assert_allclose(cone_pt_sums(offsets, pt, eta, phi, member, radius),
                                   brute_force(offsets, pt, eta, phi, member, radius), rtol=1e-12)


def test_cones_wrap_in_phi_and_leave_the_candidate_itself_out():
    offsets = np.array([0, 3])
    pt, eta, phi = np.array([10.0, 20.0, 40.0]), np.zeros(3), np.array([3.1, -3.1, 0.0])
    sums = cone_pt_sums(offsets, pt, eta, phi, np.ones(3, bool), 0.4)
    np.testing.assert_allclose(sums, [20.0, 10.0, 0.0])
