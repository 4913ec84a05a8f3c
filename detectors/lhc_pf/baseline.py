"""Classical pile-up mitigation for particle-flow candidates: CHS, SoftKiller and PUPPI.

Each function scores every candidate of a crossing (event ``e`` owns the flat hit arrays'
slice ``offsets[e]:offsets[e + 1]``); higher means "from the leading vertex".

1. CHS, charged-hadron subtraction: a charged candidate scores 1 when its track belongs
   to the leading vertex (``pv_assoc == 1``, or unassociated with ``|dz| < 0.3 cm``, the
   CMSSW PuppiProducer DeltaZCut) and 0 otherwise; neutrals score 1.
2. SoftKiller (Cacciari, Salam, Soyez, Eur. Phys. J. C 75 (2015) 59, arXiv:1407.0408; FastJet
   contrib SoftKiller.cc) on the CHS event: ``|eta| < eta_max`` is cut into
   ``round(2 eta_max / grid) x round(2 pi / grid)`` tiles, and ``pT_cut`` is the median over
   all tiles (empty ones count as 0) of the largest pT in each tile. Neutrals are kept when
   ``pT >= pT_cut``; charged candidates follow CHS.
3. PUPPI (Bertolini, Harris, Low, Tran, JHEP 10 (2014) 059, arXiv:1407.6013) as CMSSW runs
   it (CommonTools/PileupAlgos: PuppiAlgo.cc, PuppiContainer.cc, python/Puppi_cff.py; Run 2/3
   defaults). The local shape of candidate i is
   ``alpha_i = log sum_j (pT_j / DeltaR_ij)**2`` over ``0.01 <= DeltaR_ij < 0.4`` (0 when
   the sum is empty): over the leading-vertex charged candidates for ``|eta_i| < 2.5``,
   over all candidates beyond. The median and left-side RMS of alpha over the pile-up
   charged candidates with ``|eta| < 2`` set the pile-up hypothesis, and a neutral's weight
   is the chi2 (1 dof) CDF of ``(alpha - median) |alpha - median| / RMS**2``; then the neutral
   pT cut ``w pT < A + B NPV``, the high-pT neutral protection and ``w < 0.01 -> 0``.
   Charged candidates take their CHS value. Details at :func:`puppi`.

Simplifications against CMSSW: unassociated tracks are decided by dz alone (CMSSW applies
the dz cut only at |eta| >= 2.4, keeps those above 20 GeV and weights the rest like
neutrals); the eta bins are half-open [0, 2.5), [2.5, 3), [3, 10), where CMSSW's strict
edges leave a candidate exactly on one without an algorithm (weight 0).

All arithmetic is double precision (CMSSW keeps alphas in float). numba kernels, parallel
over events; PUPPI finds neighbours in an (eta, phi) cell grid of side 0.4. On one thread,
a synthetic 10^4-candidate crossing (uniform in |eta| < 5) takes 3.4 ms for PUPPI and
0.2 ms for SoftKiller; a simulated 140-pile-up crossing (~7,500 candidates) 2.2 ms for PUPPI.
"""

from __future__ import annotations

import math

import numba
import numpy as np

TWO_PI = 2.0 * math.pi

# Vertex classes of a candidate (CMSSW PuppiProducer's RecoObj id for charged candidates).
NEUTRAL, LEADING, PILEUP = 0, 1, 2

DELTA_Z_CUT = 0.3  # cm: an unassociated track this close to the leading vertex is from it (Puppi_cff DeltaZCut)

SOFT_KILLER_GRID = 0.4  # tile side in (eta, phi) (CMSSW softKiller_cfi rParam)
SOFT_KILLER_ETA_MAX = 5.0  # tiles cover |eta| < 5 (CMSSW softKiller_cfi Rho_EtaMax)
SOFT_KILLER_MARGIN = 1.0 + 1e-12  # pT^2 cut = margin * median; a candidate exactly at the median goes (SoftKiller.cc)
BELOW_HALF = float(np.nextafter(np.float32(0.5), np.float32(0.0)))  # largest float32 score of a removed neutral

PUPPI_CONE = 0.4  # DeltaR of the alpha sum (Puppi_cff puppiCentral/puppiForward cone)
PUPPI_MIN_DR2 = 1e-4  # neighbours closer than DeltaR 0.01 are skipped (PuppiContainer::var_within_R)
PUPPI_ETA_FORWARD = 2.5  # central algorithm below, forward at and above (Puppi_cff etaMax / etaMin)
PUPPI_ETA_BIN = 3.0  # second forward eta bin starts here (Puppi_cff forward etaMin)
PUPPI_ETA_MAX = 10.0  # candidates beyond get no algorithm and weight 0 (Puppi_cff forward etaMax)
PUPPI_ETA_MAX_EXTRAP = 2.0  # median and RMS come from charged candidates below this |eta| (EtaMaxExtrap)
PUPPI_RMS_PT_MIN_CENTRAL = 0.1  # GeV: pT floor of the candidates for median and RMS, central (rmsPtMin)
PUPPI_RMS_PT_MIN_FORWARD = 0.5  # GeV: the same for the forward algorithm (rmsPtMin)
PUPPI_RMS_FLOOR = 1e-5  # an alpha variance of 0 becomes this (PuppiAlgo::computeMedRMS)
PUPPI_MED_SF = (1.0, 0.90, 0.75)  # median scale per eta bin: central, 2.5-3.0, >= 3.0 (Puppi_cff MedEtaSF)
PUPPI_RMS_SF = (1.0, 1.20, 0.95)  # RMS scale per eta bin (Puppi_cff RMSEtaSF)
PUPPI_NEUTRAL_PT_MIN = (0.2, 1.7, 2.0)  # GeV: neutral cut w pT < A + B NPV, A per eta bin (MinNeutralPt)
PUPPI_NEUTRAL_PT_SLOPE = (0.015, 0.08, 0.08)  # GeV per vertex: B per eta bin (MinNeutralPtSlope)
PUPPI_PT_MAX_NEUTRALS = 200.0  # GeV: neutrals reach weight 1 here at the latest (Puppi_cff PtMaxNeutrals)
PUPPI_PT_MAX_NEUTRALS_START = 20.0  # GeV: the protection ramp starts here (PtMaxNeutralsStartSlope)
PUPPI_MIN_WEIGHT = 0.01  # smaller weights become 0 (Puppi_cff MinPuppiWeight)


@numba.njit(inline="always")
def _vertex_class(charge, pv_assoc, dz) -> int:
    if charge == 0:
        return NEUTRAL
    if pv_assoc == 1 or (pv_assoc == 0 and abs(dz) < DELTA_Z_CUT):  # NaN dz fails the cut
        return LEADING
    return PILEUP


@numba.njit(parallel=True, cache=True)
def _vertex_classes(charge, pv_assoc, dz, out) -> None:
    for i in numba.prange(charge.shape[0]):
        out[i] = _vertex_class(charge[i], pv_assoc[i], dz[i])


@numba.njit(cache=True)
def _soft_killer_event(pt, eta, phi, vertex, eta_max, n_eta, n_phi, out) -> None:
    max_pt2 = np.zeros(n_eta * n_phi)
    d_eta, d_phi = 2.0 * eta_max / n_eta, TWO_PI / n_phi
    for i in range(pt.shape[0]):
        if vertex[i] == PILEUP:
            continue
        ie = int(math.floor((eta[i] + eta_max) / d_eta))
        if ie < 0 or ie >= n_eta:
            continue
        ip = int((phi[i] % TWO_PI) / d_phi)  # tiles start at phi = 0, as FastJet's phi in [0, 2 pi)
        if ip >= n_phi:
            ip = 0
        c = ie * n_phi + ip
        max_pt2[c] = max(max_pt2[c], pt[i] * pt[i])
    max_pt2.sort()
    pt2_cut = SOFT_KILLER_MARGIN * max_pt2[max_pt2.shape[0] // 2]
    pt_cut = math.sqrt(pt2_cut)
    for i in range(pt.shape[0]):
        if vertex[i] != NEUTRAL:
            out[i] = 1.0 if vertex[i] == LEADING else 0.0
        elif pt_cut == 0.0:
            out[i] = 1.0
        elif pt[i] * pt[i] >= pt2_cut:
            out[i] = max(0.5 * min(pt[i] / pt_cut, 2.0), 0.5)
        else:
            out[i] = min(0.5 * pt[i] / pt_cut, BELOW_HALF)


@numba.njit(parallel=True, cache=True)
def _soft_killer(offsets, pt, eta, phi, vertex, eta_max, n_eta, n_phi, out) -> None:
    for e in numba.prange(offsets.shape[0] - 1):
        lo, hi = offsets[e], offsets[e + 1]
        _soft_killer_event(pt[lo:hi], eta[lo:hi], phi[lo:hi], vertex[lo:hi], eta_max, n_eta, n_phi, out[lo:hi])


@numba.njit(cache=True)
def _grid(pt, eta, phi, member, eta_lo, n_eta, n_phi, d_eta, d_phi):
    """Cell of every candidate, and the members' pT^2, eta and phi in cell order (row-major,
    phi fastest) with CSR starts per cell: neighbours within PUPPI_CONE lie in the 3 x 3
    block around a cell."""
    n = pt.shape[0]
    cell = np.empty(n, dtype=np.int64)
    starts = np.zeros(n_eta * n_phi + 1, dtype=np.int64)
    for a in range(n):
        ie = min(max(int((eta[a] - eta_lo) / d_eta), 0), n_eta - 1)
        ip = min(int((phi[a] + math.pi) / d_phi), n_phi - 1)
        cell[a] = ie * n_phi + ip
        if member[a]:
            starts[cell[a] + 1] += 1
    for c in range(n_eta * n_phi):
        starts[c + 1] += starts[c]
    fill = starts[:-1].copy()
    pt2, cell_eta, cell_phi = np.empty(starts[-1]), np.empty(starts[-1]), np.empty(starts[-1])
    for a in range(n):
        if member[a]:
            s = fill[cell[a]]
            pt2[s], cell_eta[s], cell_phi[s] = pt[a] * pt[a], eta[a], phi[a]
            fill[cell[a]] += 1
    return cell, starts, pt2, cell_eta, cell_phi


@numba.njit(cache=True, fastmath={"reassoc"})  # free summation order: the loop vectorises
def _cone_sum(pt2, eta, phi, lo, hi, eta0, phi0) -> float:
    """sum pT_j^2 / DeltaR^2 over members lo:hi with 0.01 <= DeltaR < PUPPI_CONE; phi in
    [-pi, pi), written without branches."""
    total = 0.0
    for s in range(lo, hi):
        d_eta = eta[s] - eta0
        d_phi = abs(phi[s] - phi0)
        d_phi = min(d_phi, TWO_PI - d_phi)
        d2 = d_eta * d_eta + d_phi * d_phi
        inside = d2 >= PUPPI_MIN_DR2 and d2 < PUPPI_CONE * PUPPI_CONE
        total += (pt2[s] if inside else 0.0) / max(d2, PUPPI_MIN_DR2)
    return total


@numba.njit(cache=True)
def _alpha(eta0, phi0, cell0, starts, pt2, eta, phi, n_eta, n_phi) -> float:
    """log sum (pT_j / DeltaR)**2 over the grid's members with 0.01 <= DeltaR < PUPPI_CONE; 0 if none."""
    ie0, ip0 = cell0 // n_phi, cell0 % n_phi
    total = 0.0
    for ie in range(max(ie0 - 1, 0), min(ie0 + 2, n_eta)):
        row = ie * n_phi
        if n_phi < 3:  # the whole row
            total += _cone_sum(pt2, eta, phi, starts[row], starts[row + n_phi], eta0, phi0)
        elif 0 < ip0 < n_phi - 1:  # three adjacent cells, one run of members
            total += _cone_sum(pt2, eta, phi, starts[row + ip0 - 1], starts[row + ip0 + 2], eta0, phi0)
        else:
            for k in (-1, 0, 1):
                c = row + (ip0 + k) % n_phi
                total += _cone_sum(pt2, eta, phi, starts[c], starts[c + 1], eta0, phi0)
    return math.log(total) if total > 0.0 else 0.0


@numba.njit(cache=True)
def _alphas_event(pt, eta, phi, vertex, need_central, need_forward, central, forward) -> None:
    """alpha with the leading-vertex charged candidates as neighbours (``central``) and with all
    candidates (``forward``), for the candidates that need them."""
    eta_lo, eta_hi = np.inf, -np.inf
    for a in range(pt.shape[0]):
        eta_lo, eta_hi = min(eta_lo, eta[a]), max(eta_hi, eta[a])
    d_eta = PUPPI_CONE * (1.0 + 1e-9)  # cells at least a cone wide, rounding included
    n_eta = int((eta_hi - eta_lo) / d_eta) + 1
    n_phi = max(int(TWO_PI / PUPPI_CONE), 1)
    d_phi = TWO_PI / n_phi
    for definition in range(2):
        need = need_central if definition == 0 else need_forward
        if not need.any():
            continue
        member = vertex == LEADING if definition == 0 else np.ones(pt.shape[0], dtype=np.bool_)
        cell, starts, pt2, cell_eta, cell_phi = _grid(pt, eta, phi, member, eta_lo, n_eta, n_phi, d_eta, d_phi)
        out = central if definition == 0 else forward
        for a in range(pt.shape[0]):
            if need[a]:
                out[a] = _alpha(eta[a], phi[a], cell[a], starts, pt2, cell_eta, cell_phi, n_eta, n_phi)


@numba.njit(parallel=True, cache=True)
def _alphas(offsets, pt, eta, phi, vertex, central, forward) -> None:
    for e in numba.prange(offsets.shape[0] - 1):
        lo, hi = offsets[e], offsets[e + 1]
        need = np.ones(hi - lo, dtype=np.bool_)
        _alphas_event(pt[lo:hi], eta[lo:hi], phi[lo:hi], vertex[lo:hi], need, need, central[lo:hi],
                      forward[lo:hi])


@numba.njit(cache=True)
def _normal_quantile(p) -> float:
    """Phi^-1(p) for 0 < p < 1: Acklam's rational approximation (relative error 1.2e-9) and
    one Halley step on erfc, which brings it to double precision."""
    if p < 0.02425:
        q = math.sqrt(-2.0 * math.log(p))
        x = ((((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e+00) * q
                - 2.549732539343734e+00) * q + 4.374664141464968e+00) * q + 2.938163982698783e+00)
             / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q
                 + 3.754408661907416e+00) * q + 1.0))
    elif p > 1.0 - 0.02425:
        return -_normal_quantile(1.0 - p)
    else:
        q = p - 0.5
        r = q * q
        x = ((((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02) * r
                + 1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239e+00) * q
             / (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r - 1.556989798598866e+02) * r
                  + 6.680131188771972e+01) * r - 1.328068155288572e+01) * r + 1.0))
    u = (0.5 * math.erfc(-x / math.sqrt(2.0)) - p) * math.sqrt(TWO_PI) * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


@numba.njit(cache=True)
def _chi2_quantile_1dof(p) -> float:
    """Quantile of the chi2 distribution with one degree of freedom: Phi^-1((1 + p) / 2)**2."""
    z = _normal_quantile(0.5 * (1.0 + p))
    return z * z


@numba.njit(cache=True)
def _median_rms(alpha, pt, eta, vertex, pt_min):
    """PuppiAlgo::computeMedRMS with applyLowPUCorr: (median, RMS, number of pile-up alphas)."""
    n_pileup = 0
    for a in range(pt.shape[0]):
        n_pileup += vertex[a] == PILEUP and abs(eta[a]) < PUPPI_ETA_MAX_EXTRAP and pt[a] >= pt_min
    if n_pileup == 0:
        return 0.0, 0.0, 0
    values = np.empty(n_pileup)
    k = 0
    for a in range(pt.shape[0]):
        if vertex[a] == PILEUP and abs(eta[a]) < PUPPI_ETA_MAX_EXTRAP and pt[a] >= pt_min:
            values[k] = alpha[a]
            k += 1
    values.sort()
    last_zero = 0  # CMSSW's lNum0: the position of the last alpha == 0, not the number of zeros
    for k in range(n_pileup):
        if values[k] == 0.0:
            last_zero = k
    median = values[last_zero + (n_pileup - last_zero) // 2]
    variance, n_left = 0.0, 0
    for k in range(n_pileup):
        if values[k] != 0.0 and values[k] <= median:  # left side only
            variance += (values[k] - median) ** 2
            n_left += 1
    if n_left > 0:
        variance /= n_left
    if variance == 0.0:
        variance = PUPPI_RMS_FLOOR
    rms = math.sqrt(variance)
    n_leading = 0  # low pile-up correction: leading-vertex alphas at or below the median
    for a in range(pt.shape[0]):
        if (vertex[a] == LEADING and abs(eta[a]) < PUPPI_ETA_MAX_EXTRAP and pt[a] >= pt_min
                and alpha[a] <= median):
            n_leading += 1
    adjust = n_leading / (n_leading + 0.5 * n_pileup)
    if adjust > 0.0:
        shift = math.sqrt(_chi2_quantile_1dof(adjust) * rms)
        median -= shift
        rms -= shift
    return median, rms, n_pileup


@numba.njit(cache=True)
def _puppi_event(pt, eta, phi, vertex, npv, out) -> None:
    n = pt.shape[0]
    need_central = np.zeros(n, dtype=np.bool_)
    need_forward = np.zeros(n, dtype=np.bool_)
    for a in range(n):
        if vertex[a] == NEUTRAL:
            need_central[a] = abs(eta[a]) < PUPPI_ETA_FORWARD
            need_forward[a] = not need_central[a]
        elif abs(eta[a]) < PUPPI_ETA_MAX_EXTRAP:  # charged: only for the median and RMS
            need_central[a] = pt[a] >= PUPPI_RMS_PT_MIN_CENTRAL
            need_forward[a] = pt[a] >= PUPPI_RMS_PT_MIN_FORWARD
    central = np.zeros(n)
    forward = np.zeros(n)
    _alphas_event(pt, eta, phi, vertex, need_central, need_forward, central, forward)
    median_c, rms_c, n_c = _median_rms(central, pt, eta, vertex, PUPPI_RMS_PT_MIN_CENTRAL)
    median_f, rms_f, n_f = _median_rms(forward, pt, eta, vertex, PUPPI_RMS_PT_MIN_FORWARD)
    for a in range(n):
        abs_eta = abs(eta[a])
        if not (pt[a] > 0.0 and abs_eta < PUPPI_ETA_MAX):  # no algorithm covers it
            out[a] = 0.0
            continue
        if vertex[a] != NEUTRAL:
            out[a] = 1.0 if vertex[a] == LEADING else 0.0
            continue
        b = 0 if abs_eta < PUPPI_ETA_FORWARD else (1 if abs_eta < PUPPI_ETA_BIN else 2)
        alpha, median, rms, n_pileup = central[a], median_c, rms_c, n_c
        if b > 0:
            alpha, median, rms, n_pileup = forward[a], median_f, rms_f, n_f
        median *= PUPPI_MED_SF[b]
        rms *= PUPPI_RMS_SF[b]
        if n_pileup == 0:
            w = 1.0  # no pile-up to compare with
        elif alpha == 0.0:
            w = 0.0  # log(0): alpha taken at the median, chi2 = 0
        else:
            signed = (alpha - median) * abs(alpha - median)
            if rms != 0.0:
                chi2 = signed / (rms * rms)
                w = math.erf(math.sqrt(0.5 * chi2)) if chi2 > 0.0 else 0.0
            else:
                w = 1.0 if signed > 0.0 else 0.0  # CMSSW: +inf -> 1, -inf -> 0, NaN -> 0
        if w * pt[a] < PUPPI_NEUTRAL_PT_MIN[b] + PUPPI_NEUTRAL_PT_SLOPE[b] * npv:
            w = 0.0
        ramp = (pt[a] - PUPPI_PT_MAX_NEUTRALS_START) / (PUPPI_PT_MAX_NEUTRALS - PUPPI_PT_MAX_NEUTRALS_START)
        if ramp > w:  # std::clamp(ramp, w, 1)
            w = min(ramp, 1.0)
        out[a] = w if w >= PUPPI_MIN_WEIGHT else 0.0


@numba.njit(parallel=True, cache=True)
def _puppi(offsets, pt, eta, phi, vertex, npv, out) -> None:
    for e in numba.prange(offsets.shape[0] - 1):
        lo, hi = offsets[e], offsets[e + 1]
        _puppi_event(pt[lo:hi], eta[lo:hi], phi[lo:hi], vertex[lo:hi], npv[e], out[lo:hi])


def _checked(offsets, hits, names: tuple[str, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
    """``offsets`` as int64 and the named hit columns, checked against it."""
    offsets = np.asarray(offsets)
    if offsets.ndim != 1 or offsets.size == 0 or offsets.dtype.kind not in "iu":
        raise ValueError(f"offsets must be a non-empty 1-D integer array, got {offsets.dtype}{offsets.shape}")
    if offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        raise ValueError("offsets must start at 0 and be non-decreasing")
    columns = []
    for name in names:
        if name not in hits:
            raise ValueError(f"hits lack the column {name!r}")
        column = np.asarray(hits[name])
        if column.ndim != 1 or column.shape[0] != offsets[-1]:
            raise ValueError(f"hits[{name!r}] has shape {column.shape}, offsets end at {offsets[-1]}")
        columns.append(column)
    return offsets.astype(np.int64, copy=False), columns


def _vertex(offsets, hits) -> tuple[np.ndarray, np.ndarray]:
    offsets, (charge, pv_assoc, dz) = _checked(offsets, hits, ("charge", "pv_assoc", "dz"))
    vertex = np.empty(charge.shape[0], dtype=np.int8)
    _vertex_classes(charge.astype(np.int64, copy=False), pv_assoc.astype(np.int64, copy=False),
                    dz.astype(np.float64, copy=False), vertex)
    return offsets, vertex


def _kinematics(offsets, hits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pT, eta and phi as float64, phi brought into [-pi, pi) where it lies outside."""
    _, columns = _checked(offsets, hits, ("pt", "eta", "phi"))
    pt, eta, phi = (column.astype(np.float64, copy=False) for column in columns)
    outside = (phi < -math.pi) | (phi >= math.pi)
    if outside.any():
        phi = np.where(outside, np.remainder(phi + math.pi, TWO_PI) - math.pi, phi)
    return pt, eta, phi


def charged_hadron_subtraction(offsets: np.ndarray, hits) -> np.ndarray:
    """CHS score per candidate (float32): 1 for neutrals and for charged candidates from the
    leading vertex (``pv_assoc == 1``, or ``pv_assoc == 0`` with ``|dz| < 0.3`` cm, the
    CMSSW PuppiProducer DeltaZCut), 0 for charged candidates from pile-up vertices.

    ``hits`` holds ``charge``, ``pv_assoc`` and ``dz`` (cm, NaN for neutrals).
    """
    _, vertex = _vertex(offsets, hits)
    return (vertex != PILEUP).astype(np.float32)


def soft_killer(offsets: np.ndarray, hits, grid: float = SOFT_KILLER_GRID,
                eta_max: float = SOFT_KILLER_ETA_MAX) -> np.ndarray:
    """SoftKiller after CHS (Cacciari, Salam, Soyez, arXiv:1407.0408; FastJet contrib).

    The event is what CHS keeps. ``|eta| < eta_max`` is cut into ``int(2 eta_max / grid + 0.5)``
    eta tiles by ``int(2 pi / grid + 0.5)`` phi tiles starting at phi = 0 (``grid`` in units of
    eta and rad); ``pT_cut`` (GeV) is the median of the per-tile largest pT over all tiles
    (element ``n_tiles // 2`` of the sorted list, empty tiles counting 0), raised by a
    relative 1e-12 on pT^2 so that a candidate exactly at the median is removed, as in FastJet.

    Returns a float32 score: charged candidates their CHS value; neutrals, wherever their eta,
    ``0.5 * min(pT / pT_cut, 2)``, which is >= 0.5 exactly when SoftKiller keeps them
    (``pT >= pT_cut``); every neutral scores 1 when ``pT_cut`` is 0.
    """
    if not (grid > 0 and eta_max > 0):
        raise ValueError(f"grid and eta_max must be positive, got grid={grid}, eta_max={eta_max}")
    n_eta, n_phi = max(int(2.0 * eta_max / grid + 0.5), 1), max(int(TWO_PI / grid + 0.5), 1)
    if n_eta * n_phi < 2:
        raise ValueError(f"SoftKiller needs at least 2 tiles; grid={grid} and eta_max={eta_max} give 1")
    offsets, vertex = _vertex(offsets, hits)
    pt, eta, phi = _kinematics(offsets, hits)
    out = np.empty(pt.shape[0], dtype=np.float32)
    _soft_killer(offsets, pt, eta, phi, vertex, float(eta_max), n_eta, n_phi, out)
    return out


def puppi(offsets: np.ndarray, hits, npv: np.ndarray) -> np.ndarray:
    """PUPPI weight per candidate (float32 in [0, 1]) as CMSSW computes it (Run 2/3 defaults).

    ``hits``: ``pt`` (GeV), ``eta``, ``phi`` (rad), ``charge``, ``pv_assoc``, ``dz`` (cm);
    ``npv``: reconstructed vertices per event. DeltaR is taken in (eta, phi), phi wrapped.

    - alpha_i = log sum_j (pT_j / DeltaR_ij)**2 over 0.01 <= DeltaR_ij < 0.4, 0 for an empty
      sum; neighbours are the CHS-kept charged candidates for |eta_i| < 2.5 (central
      algorithm), all candidates beyond (forward algorithm).
    - Per algorithm, the alphas of the pile-up charged candidates with |eta| < 2 and pT at or
      above rmsPtMin (0.1 GeV central, 0.5 GeV forward, each with its own alpha definition)
      are sorted; the median is element ``z + (N - z) // 2`` with ``z`` the position of the
      last zero (0 without zeros), and RMS^2 the mean of (alpha - median)^2 over the non-zero
      alphas at or below the median (1e-5 if that is 0). Low pile-up correction: with ``m``
      leading-vertex charged alphas (same selection) at or below the median,
      ``p = m / (m + N / 2)``; if p > 0, median and RMS both drop by
      ``sqrt(chi2_quantile_1dof(p) * RMS)``. Forward eta bins scale them:
      2.5-3.0 median x 0.90, RMS x 1.20; >= 3.0 median x 0.75, RMS x 0.95.
    - Neutrals: ``chi2 = (alpha - median) |alpha - median| / RMS^2`` (0 when alpha is 0) and
      ``w = erf(sqrt(chi2 / 2))`` for chi2 > 0, else 0; ``w = 1`` when the algorithm had no
      pile-up alphas. Then ``w = 0`` if ``w pT < A + B npv`` with (A, B) = (0.2, 0.015) GeV
      for |eta| < 2.5, (1.7, 0.08) for 2.5-3.0, (2.0, 0.08) beyond, and
      ``w = clamp((pT - 20) / 180, w, 1)``.
    - Charged candidates take their CHS value; candidates with pT <= 0 or |eta| >= 10 get 0.
    - Finally ``w < 0.01 -> 0``.
    """
    offsets, vertex = _vertex(offsets, hits)
    pt, eta, phi = _kinematics(offsets, hits)
    npv = np.asarray(npv, dtype=np.float64)
    if npv.shape != (offsets.shape[0] - 1,):
        raise ValueError(f"npv has shape {npv.shape}, expected one value per event ({offsets.shape[0] - 1},)")
    out = np.empty(pt.shape[0], dtype=np.float32)
    _puppi(offsets, pt, eta, phi, vertex, npv, out)
    return out


def puppi_alphas(offsets: np.ndarray, hits) -> dict[str, np.ndarray]:
    """PUPPI's alpha for every candidate under both definitions (float64, see :func:`puppi`):
    ``central`` sums over the CHS-kept charged candidates, ``forward`` over all candidates."""
    offsets, vertex = _vertex(offsets, hits)
    pt, eta, phi = _kinematics(offsets, hits)
    central, forward = np.zeros(pt.shape[0]), np.zeros(pt.shape[0])
    _alphas(offsets, pt, eta, phi, vertex, central, forward)
    return {"central": central, "forward": forward}


def classical_scores(offsets: np.ndarray, hits, events) -> dict[str, np.ndarray]:
    """The three baselines with their defaults: ``chs``, ``softkiller`` and ``puppi``
    (``events["npv"]`` per event), each a float32 score per candidate."""
    return {"chs": charged_hadron_subtraction(offsets, hits), "softkiller": soft_killer(offsets, hits),
            "puppi": puppi(offsets, hits, events["npv"])}
