import math
from statistics import NormalDist

import numpy as np
import pytest

from graphreco.detectors.lhc_pf.baseline import (
    BELOW_HALF,
    charged_hadron_subtraction,
    classical_scores,
    puppi,
    puppi_alphas,
    soft_killer,
)


def event(*candidates, batch=None):
    """Hits from (pt, eta, phi, charge, pv_assoc, dz) tuples, float64 so that distances are
    exact; offsets for one event, or for events of the sizes in ``batch``."""
    pt, eta, phi, charge, pv_assoc, dz = zip(*candidates)
    hits = {"pt": np.array(pt, dtype=np.float64), "eta": np.array(eta, dtype=np.float64),
            "phi": np.array(phi, dtype=np.float64), "charge": np.array(charge, dtype=np.int8),
            "pv_assoc": np.array(pv_assoc, dtype=np.int8), "dz": np.array(dz, dtype=np.float32),
            "energy": np.array(pt, dtype=np.float32), "pdg_id": np.where(np.array(charge) == 0, 22, 211)}
    offsets = np.concatenate([[0], np.cumsum(batch if batch else [len(pt)])]).astype(np.int64)
    return offsets, hits


NAN = float("nan")


def lv(pt, eta, phi):
    return pt, eta, phi, 1, 1, 0.01


def pu(pt, eta, phi):
    return pt, eta, phi, -1, -1, 2.0


def neutral(pt, eta, phi):
    return pt, eta, phi, 0, 0, NAN


def test_chs_keeps_leading_vertex_tracks_and_neutrals():
    offsets, hits = event(
        (1.0, 0.0, 0.0, 1, 1, 5.0),     # associated to the leading vertex, whatever dz says
        (1.0, 0.0, 0.0, -1, -1, 0.01),  # associated to a pile-up vertex, even if close in z
        (1.0, 0.0, 0.0, 1, 0, 0.29),    # unassociated, |dz| < 0.3 cm
        (1.0, 0.0, 0.0, 1, 0, -0.29),
        (1.0, 0.0, 0.0, -1, 0, 0.3),    # unassociated, |dz| >= 0.3 cm
        (1.0, 0.0, 0.0, 1, 0, NAN),     # unassociated without dz
        neutral(1.0, 0.0, 0.0))
    score = charged_hadron_subtraction(offsets, hits)
    assert score.dtype == np.float32
    np.testing.assert_array_equal(score, [1, 0, 1, 1, 0, 0, 1])


def test_soft_killer_cut_is_the_median_of_tile_maxima_after_chs():
    # eta_max 1 and grid 2: one eta tile by int(2 pi / 2 + 0.5) = 3 phi tiles from phi = 0
    # ([0, 2.09), [2.09, 4.19), [4.19, 2 pi)). Largest pT per tile: 3, 2 (the pile-up track of
    # 10 GeV does not count after CHS), 1; median 2 GeV.
    offsets, hits = event(
        neutral(3.0, 0.2, 1.0), lv(1.0, 0.0, 0.5),        # tile 0
        neutral(2.0, -0.5, -2.5), pu(10.0, 0.0, 2.5),     # tile 1: phi -2.5 is 3.78 rad
        neutral(0.5, 0.3, -1.0), neutral(1.0, 0.9, -0.5),  # tile 2
        neutral(5.0, 2.0, 0.0))                           # outside the grid, cut all the same
    score = soft_killer(offsets, hits, grid=2.0, eta_max=1.0)
    np.testing.assert_allclose(score, [3.0 / 4, 1, BELOW_HALF, 0, 0.5 / 4, 1.0 / 4, 1.0], rtol=1e-6)
    assert score[2] < 0.5  # the candidate that sets the median is removed, as in FastJet
    kept = score >= 0.5
    np.testing.assert_array_equal(kept, [True, True, False, False, False, False, True])


def test_soft_killer_keeps_every_neutral_when_most_tiles_are_empty():
    # default grid: 25 x 16 tiles, a handful of them filled -> pT_cut = 0
    offsets, hits = event(neutral(0.3, 0.0, 0.0), neutral(0.1, 1.0, 1.0), pu(5.0, 0.5, 0.0), lv(2.0, 0.2, 0.2))
    np.testing.assert_array_equal(soft_killer(offsets, hits), [1, 1, 0, 1])


def test_soft_killer_needs_two_tiles():
    offsets, hits = event(neutral(1.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="2 tiles"):
        soft_killer(offsets, hits, grid=7.0, eta_max=1.0)


# A central event: leading-vertex tracks L1, L2; pile-up tracks P1..P6; neutrals N1..N4.
CENTRAL = (
    lv(10.0, 0.0, 0.0), lv(2.0, 1.0, 2.0),
    pu(1.0, 0.3, 0.0), pu(1.0, 1.0, 2.3), pu(1.0, 1.2, 1.8), pu(1.0, -1.5, -2.0), pu(1.0, 0.0, 0.35),
    pu(1.0, -1.0, -1.0),
    neutral(5.0, 0.1, 0.1), neutral(3.0, 1.0, 1.7), neutral(3.0, -2.0, 2.5), neutral(3.0, 1.39, 2.0))


def test_puppi_alpha_sums_leading_vertex_tracks_within_the_cone():
    offsets, hits = event(*CENTRAL)
    alpha = puppi_alphas(offsets, hits)
    expected = [0.0, 0.0,  # L1 and L2 are 2.2 apart: no leading-vertex neighbour
                math.log(10.0**2 / 0.3**2), math.log(2.0**2 / 0.3**2), math.log(2.0**2 / (0.2**2 + 0.2**2)), 0.0,
                math.log(10.0**2 / 0.35**2), 0.0,
                math.log(10.0**2 / (0.1**2 + 0.1**2)), math.log(2.0**2 / 0.3**2), 0.0, math.log(2.0**2 / 0.39**2)]
    np.testing.assert_allclose(alpha["central"], expected, rtol=1e-9, atol=1e-12)
    # with all candidates as neighbours: N2 sees L2 at 0.3 and P3 at sqrt(0.2^2 + 0.1^2)
    assert alpha["forward"][9] == pytest.approx(math.log(2.0**2 / 0.3**2 + 1.0 / (0.2**2 + 0.1**2)), rel=1e-9)


def test_puppi_weights_from_the_pile_up_median_and_rms():
    offsets, hits = event(*CENTRAL)
    w = puppi(offsets, hits, np.array([10]))
    a_p1, a_p2, a_p3 = math.log(10.0**2 / 0.3**2), math.log(2.0**2 / 0.3**2), math.log(2.0**2 / 0.08)
    a_p5 = math.log(10.0**2 / 0.35**2)
    alphas = sorted([a_p1, a_p2, a_p3, 0.0, a_p5, 0.0])  # [0, 0, a_p2, a_p3, a_p5, a_p1]
    median = alphas[1 + (6 - 1) // 2]  # CMSSW: from the position of the last zero, 1
    assert median == a_p3
    rms = math.sqrt(((a_p2 - a_p3) ** 2 + 0.0) / 2)  # non-zero alphas at or below the median
    p = 2 / (2 + 0.5 * 6)  # both leading-vertex alphas (0) lie at or below the median
    shift = math.sqrt(NormalDist().inv_cdf((1 + p) / 2) ** 2 * rms)
    median, rms = median - shift, rms - shift

    def weight(alpha):
        chi2 = (alpha - median) * abs(alpha - median) / rms**2
        return math.erf(math.sqrt(chi2 / 2)) if chi2 > 0 else 0.0

    n2 = weight(math.log(2.0**2 / 0.3**2))
    assert 0.2 < n2 < 0.6
    assert weight(math.log(2.0**2 / 0.39**2)) == 0.0  # below the median
    expected = [1, 1, 0, 0, 0, 0, 0, 0, weight(math.log(10.0**2 / 0.02)), n2, 0.0, 0.0]
    np.testing.assert_allclose(w, expected, atol=1e-6)
    assert w.dtype == np.float32


def test_puppi_neutral_cut_grows_with_the_number_of_vertices():
    # no pile-up tracks: weight 1, then w pT < A + B NPV
    offsets, hits = event(
        lv(5.0, 0.0, 0.0),
        neutral(0.5, 1.0, 1.0), neutral(1.0, -1.0, 2.0),    # A, B = 0.2, 0.015: cut 0.8 GeV at NPV 40
        neutral(4.0, 2.7, 0.0), neutral(5.0, -2.8, 1.0),    # 1.7, 0.08: cut 4.9 GeV
        neutral(5.0, 3.5, -1.0), neutral(5.5, -4.0, -2.0))  # 2.0, 0.08: cut 5.2 GeV
    np.testing.assert_array_equal(puppi(offsets, hits, np.array([40])), [1, 0, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(puppi(offsets, hits, np.array([0])), [1, 1, 1, 1, 1, 1, 1])


def test_puppi_protects_high_pt_neutrals():
    # isolated neutrals have alpha 0 and weight 0 in an event with pile-up tracks
    offsets, hits = event(lv(5.0, 0.0, 0.0), pu(1.0, 0.2, 0.0), pu(1.0, -1.0, 0.0),
                          neutral(110.0, 1.5, 2.0), neutral(300.0, -1.5, -2.0), neutral(20.5, 1.5, -1.0))
    w = puppi(offsets, hits, np.array([30]))
    # clamp((pT - 20) / 180, w, 1): 0.5, 1, and 0.0028 < MinPuppiWeight 0.01
    np.testing.assert_allclose(w, [1, 0, 0, 0.5, 1, 0], atol=1e-7)


def test_puppi_cone_wraps_around_phi():
    offsets, hits = event(lv(4.0, 0.5, math.pi - 0.05), lv(2.0, 0.5, -math.pi + 0.25 + 2 * math.pi),
                          neutral(3.0, 0.5, -math.pi + 0.05))
    alpha = puppi_alphas(offsets, hits)["central"]
    assert alpha[2] == pytest.approx(math.log(4.0**2 / 0.1**2 + 2.0**2 / 0.2**2), rel=1e-9)
    assert alpha[0] == pytest.approx(math.log(2.0**2 / 0.3**2), rel=1e-9)


def test_events_of_a_batch_do_not_see_each_other():
    first = (lv(10.0, 0.0, 0.0), pu(1.0, 0.3, 0.0), pu(1.0, 0.0, 0.3), neutral(5.0, 0.1, 0.0))
    second = (pu(1.0, 0.3, 0.0), pu(1.0, 0.0, 0.3), neutral(5.0, 0.1, 0.0))
    offsets, hits = event(*first, *second, batch=[4, 3])
    alpha = puppi_alphas(offsets, hits)["central"]
    assert alpha[3] == pytest.approx(math.log(10.0**2 / 0.1**2)) and alpha[6] == 0.0
    scores = classical_scores(offsets, hits, {"npv": np.array([20, 20], dtype=np.int32)})
    assert scores["puppi"][3] == pytest.approx(1.0) and scores["puppi"][6] == 0.0
    np.testing.assert_array_equal(scores["chs"], [1, 0, 0, 1, 0, 0, 1])
    np.testing.assert_array_equal(scores["softkiller"], [1, 0, 0, 1, 0, 0, 1])  # 400 tiles, few filled
    single = puppi(offsets[:2], {name: values[:4] for name, values in hits.items()}, np.array([20]))
    np.testing.assert_array_equal(single, scores["puppi"][:4])


def reference_puppi(pt, eta, phi, charge, pv_assoc, dz, npv):
    """PUPPI by brute force over all pairs, as the puppi docstring states it."""
    n = len(pt)
    vertex = [0 if charge[i] == 0 else 1 if pv_assoc[i] == 1 or (pv_assoc[i] == 0 and abs(dz[i]) < 0.3) else 2
              for i in range(n)]

    def alpha(i, neighbours):
        total = 0.0
        for j in neighbours:
            d_phi = abs(phi[j] - phi[i])
            d_phi = min(d_phi, 2 * math.pi - d_phi)
            d2 = (eta[j] - eta[i]) ** 2 + d_phi**2
            if 1e-4 <= d2 < 0.16:
                total += pt[j] ** 2 / d2
        return math.log(total) if total > 0 else 0.0

    central = [alpha(i, [j for j in range(n) if vertex[j] == 1]) for i in range(n)]
    forward = [alpha(i, range(n)) for i in range(n)]

    def median_rms(alphas, pt_min):
        selected = [i for i in range(n) if abs(eta[i]) < 2.0 and pt[i] >= pt_min]
        values = sorted(alphas[i] for i in selected if vertex[i] == 2)
        if not values:
            return None
        zero = max([k for k, v in enumerate(values) if v == 0] or [0])
        median = values[zero + (len(values) - zero) // 2]
        left = [(v - median) ** 2 for v in values if v != 0 and v <= median]
        rms = math.sqrt((sum(left) / len(left) if left else 0.0) or 1e-5)
        n_leading = sum(1 for i in selected if vertex[i] == 1 and alphas[i] <= median)
        p = n_leading / (n_leading + 0.5 * len(values))
        if p > 0:
            shift = math.sqrt(NormalDist().inv_cdf((1 + p) / 2) ** 2 * rms)
            median, rms = median - shift, rms - shift
        return median, rms

    algorithms = [median_rms(central, 0.1), median_rms(forward, 0.5)]
    weights = []
    for i in range(n):
        if vertex[i] != 0:
            weights.append(float(vertex[i] == 1))
            continue
        b = 0 if abs(eta[i]) < 2.5 else 1 if abs(eta[i]) < 3.0 else 2
        a = (central if b == 0 else forward)[i]
        w = 1.0
        if algorithms[min(b, 1)] is not None:
            median, rms = algorithms[min(b, 1)]
            median, rms = median * (1.0, 0.9, 0.75)[b], rms * (1.0, 1.2, 0.95)[b]
            chi2 = 0.0 if a == 0 else (a - median) * abs(a - median) / rms**2
            w = math.erf(math.sqrt(chi2 / 2)) if chi2 > 0 else 0.0
        if w * pt[i] < (0.2, 1.7, 2.0)[b] + (0.015, 0.08, 0.08)[b] * npv:
            w = 0.0
        w = max(w, min((pt[i] - 20) / 180, 1.0))
        weights.append(w if w >= 0.01 else 0.0)
    return np.array(weights), np.array(central), np.array(forward)


def test_puppi_matches_a_brute_force_reference_in_all_eta_regions():
    rng = np.random.default_rng(5)
    n = 400
    eta = rng.uniform(-4.5, 4.5, n)
    eta[:80] = rng.normal(0.0, 0.3, 80)  # a dense central patch with leading-vertex tracks
    phi = rng.uniform(-math.pi, math.pi, n)
    phi[:80] = np.angle(np.exp(1j * (math.pi + rng.normal(0.0, 0.3, 80))))  # around the phi seam
    pt = rng.exponential(2.0, n) + 0.05
    pt[::37] += 30.0
    charge = np.where((np.abs(eta) < 2.5) & (rng.random(n) < 0.6), 1, 0).astype(np.int8)
    pv_assoc = np.where(charge == 0, 0, rng.choice([1, -1, -1, 0], n)).astype(np.int8)
    pv_assoc[:80] = np.where(charge[:80] != 0, 1, 0)
    dz = np.where(charge == 0, np.nan, rng.normal(0.0, 1.0, n)).astype(np.float32)
    hits = {"pt": pt.astype(np.float32), "eta": eta.astype(np.float32), "phi": phi.astype(np.float32),
            "charge": charge, "pv_assoc": pv_assoc, "dz": dz}
    offsets = np.array([0, n])
    as64 = [hits[name].astype(np.float64) for name in ("pt", "eta", "phi")]
    expected, central, forward = reference_puppi(*as64, charge, pv_assoc, hits["dz"].astype(np.float64), 60)
    alpha = puppi_alphas(offsets, hits)
    np.testing.assert_allclose(alpha["central"], central, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(alpha["forward"], forward, rtol=1e-12, atol=1e-12)
    w = puppi(offsets, hits, np.array([60]))
    np.testing.assert_allclose(w, expected, atol=1e-6)
    neutral = charge == 0
    assert 0 < np.sum(w[neutral] > 0) < neutral.sum()  # weights are not all trivial
    assert np.any((w > 0.02) & (w < 0.98))
    assert np.any(neutral & (np.abs(eta) >= 2.5) & (w > 0))


def test_inputs_are_checked_at_the_boundary():
    offsets, hits = event(neutral(1.0, 0.0, 0.0), neutral(2.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="'dz'"):
        charged_hadron_subtraction(offsets, {**hits, "dz": hits["dz"][:1]})
    with pytest.raises(ValueError, match="npv"):
        puppi(offsets, hits, np.array([1, 2]))
