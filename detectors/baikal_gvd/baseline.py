"""The classical Baikal-GVD reconstruction chain, the baseline the GNN stages must beat.

1. Causality cleaning. Two hits are causally compatible when light could connect them:
   ``|t_i - t_j| <= |r_i - r_j| * n_group / c + 20 ns`` (no signal travels faster than
   light in water; the 20 ns absorb jitter and scattering). Seeds are local
   coincidences: compatible hits on one string at most two modules apart, one of at
   least 1.5 p.e. (as the trigger, noise seldom forms them). Hits within 100 m of a seed
   hit and compatible with all seed hits but one form a candidate set from which the hit with the most incompatible
   partners is removed until every pair is compatible (a greedy approximation of the
   largest causally connected set).
2. Start directions: the line fit ``r(t) = r0 + v t`` (charge-weighted least squares,
   v along the motion; Stenger's line fit, the first guess of AMANDA, IceCube and Baikal)
   and 24 directions evenly over the sphere, as Baikal-GVD scans directions to avoid
   the local minima of the time residuals. Each start is fitted as below on the cleaned
   hits; among the starts keeping at least 80 % as many hits in the residual window as
   the best one, the lowest chi2 goes on.
3. Chi-square track fit: the five track parameters minimise
   ``sum ((t_i - t_cherenkov_i) / 3 ns)**2``, made robust with the Huber loss beyond 9 ns
   (late light of stochastic losses and scattering; Huber, Ann. Math. Statist. 35 (1964)
   73), by Levenberg-Marquardt, then the hits with
   residuals in [-10, +25] ns are taken and the fit repeated, twice: first among the
   cleaned hits, finally among all hits of the event, the standard iterative track
   reconstruction (Baikal-GVD, PoS(ICRC2021)1063). The angular uncertainty is the 68 %
   cone from the fit covariance.
All three run in numba, parallel over events, on CSR arrays.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..base import DetectorConfiguration
from .light import cherenkov_geometry, cherenkov_time
from .water import GROUP_VELOCITY

CAUSALITY_SLACK = 20.0  # ns
SEED_CHARGE = 1.5  # p.e.
LOCAL_SPAN = 31.0  # m: modules up to two steps apart on a string
SEED_RADIUS = 100.0  # m: candidates lie this close to a seed hit (a muon lights modules up to ~50 m away)
TIME_SIGMA = 3.0  # ns, jitter and scattering of direct light
HUBER_SCALE = 3.0  # sigmas beyond which a residual counts linearly
RESIDUAL_WINDOW = (-10.0, 25.0)  # ns around the Cherenkov time: jitter early, scattering late
RESELECTIONS = 2
N_START_DIRECTIONS = 24
ACCEPTED_HIT_FRACTION = 0.8
MIN_TRACK_HITS = 6
CONE_68 = math.sqrt(-2.0 * math.log(1.0 - 0.68))  # 68 % containment of a 2-D Gaussian, in sigmas


@numba.njit(cache=True)
def _causal_set(x, y, z, t, q, keep) -> None:
    n = x.shape[0]
    compatible = np.zeros((n, n), dtype=np.bool_)
    for i in range(n):
        for j in range(n):
            dr = math.sqrt((x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2 + (z[i] - z[j]) ** 2)
            compatible[i, j] = abs(t[i] - t[j]) <= dr / GROUP_VELOCITY + CAUSALITY_SLACK
    # Seeds: local coincidences, i.e. causally compatible hits on one string at most two
    # modules apart, one of them bright.
    seed = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        for j in range(n):
            if (i != j and compatible[i, j] and max(q[i], q[j]) >= SEED_CHARGE
                    and abs(x[i] - x[j]) < 1.0 and abs(y[i] - y[j]) < 1.0 and abs(z[i] - z[j]) <= LOCAL_SPAN):
                seed[i] = True
    # Candidates: hits within SEED_RADIUS of a seed hit, compatible with all seed hits but one.
    members = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        bad, near = 0, False
        for j in range(n):
            if seed[j]:
                bad += not compatible[i, j]
                near |= (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2 + (z[i] - z[j]) ** 2 <= SEED_RADIUS ** 2
        members[i] = near and bad <= 1
    while True:  # drop the hit with the most incompatible partners until none is left
        worst, worst_count = -1, 0
        for i in range(n):
            if not members[i]:
                continue
            bad = 0
            for j in range(n):
                if members[j] and not compatible[i, j]:
                    bad += 1
            if bad > worst_count:
                worst, worst_count = i, bad
        if worst < 0:
            break
        members[worst] = False
    for i in range(n):
        keep[i] = members[i]


@numba.njit(parallel=True, cache=True)
def causality_clean(offsets, x, y, z, t, q, keep) -> None:
    """Mark in ``keep`` the hits of each event that form its causally connected set."""
    for e in numba.prange(offsets.shape[0] - 1):
        lo, hi = offsets[e], offsets[e + 1]
        _causal_set(x[lo:hi], y[lo:hi], z[lo:hi], t[lo:hi], q[lo:hi], keep[lo:hi])


@numba.njit(inline="always")
def _direction(zenith, azimuth):
    """Unit vector of motion for a particle coming from (zenith, azimuth)."""
    s = math.sin(zenith)
    return -s * math.cos(azimuth), -s * math.sin(azimuth), -math.cos(zenith)


@numba.njit(cache=True)
def _residuals(params, x, y, z, t, use, out) -> None:
    """(t - t_cherenkov) / sigma for the hits in ``use``; params: zenith, azimuth, x0, y0, z0, t0."""
    ux, uy, uz = _direction(params[0], params[1])
    for i in range(x.shape[0]):
        if not use[i]:
            out[i] = 0.0
            continue
        _, emitted, path, _, _, _ = cherenkov_geometry(x[i], y[i], z[i], params[2], params[3], params[4], ux, uy, uz)
        out[i] = (t[i] - params[5] - cherenkov_time(emitted, path)) / TIME_SIGMA


@numba.njit(cache=True)
def _robust_residuals(params, x, y, z, t, use, out) -> None:
    """Residuals transformed so that their sum of squares is the Huber loss (quadratic
    within HUBER_SCALE sigmas, linear beyond): late light pulls the fit less."""
    _residuals(params, x, y, z, t, use, out)
    for i in range(x.shape[0]):
        a = abs(out[i])
        if a > HUBER_SCALE:
            out[i] = math.copysign(math.sqrt(2.0 * HUBER_SCALE * a - HUBER_SCALE * HUBER_SCALE), out[i])


@numba.njit(cache=True)
def _fit_track(x, y, z, t, use, params, covariance) -> float:
    """Levenberg-Marquardt on the (Huber-transformed) Cherenkov-time residuals; returns the
    loss per degree of freedom."""
    n, n_params = x.shape[0], 6
    steps = np.array([1e-4, 1e-4, 0.01, 0.01, 0.01, 0.01])
    residual = np.empty(n)
    trial_residual = np.empty(n)
    jacobian = np.empty((n, n_params))
    trial = np.empty(n_params)
    damping = 1e-3
    _robust_residuals(params, x, y, z, t, use, residual)
    chi2 = np.sum(residual ** 2)
    for _ in range(60):
        for k in range(n_params):
            for m in range(n_params):
                trial[m] = params[m]
            trial[k] += steps[k]
            _robust_residuals(trial, x, y, z, t, use, trial_residual)
            for i in range(n):
                jacobian[i, k] = (trial_residual[i] - residual[i]) / steps[k]
        normal = jacobian.T @ jacobian
        gradient = jacobian.T @ residual
        improved = False
        for _attempt in range(8):
            system = normal + damping * np.diag(np.diag(normal) + 1e-9)
            step = np.linalg.solve(system, -gradient)
            for m in range(n_params):
                trial[m] = params[m] + step[m]
            _robust_residuals(trial, x, y, z, t, use, trial_residual)
            trial_chi2 = np.sum(trial_residual ** 2)
            if trial_chi2 < chi2:
                for m in range(n_params):
                    params[m] = trial[m]
                residual[:] = trial_residual
                improved = chi2 - trial_chi2 > 1e-6 * chi2
                chi2 = trial_chi2
                damping = max(damping * 0.3, 1e-9)
                break
            damping *= 10.0
        if not improved:
            break
    normal = jacobian.T @ jacobian
    covariance[:, :] = np.linalg.pinv(normal)
    n_used = 0
    for i in range(n):
        n_used += use[i]
    return chi2 / max(n_used - 5, 1)


@numba.njit(cache=True)
def _select_in_window(params, x, y, z, t, candidates, use, residual) -> int:
    """Mark in ``use`` the candidate hits whose residual to the track lies in the window."""
    _residuals(params, x, y, z, t, candidates, residual)
    count = 0
    for i in range(x.shape[0]):
        use[i] = candidates[i] and RESIDUAL_WINDOW[0] <= residual[i] * TIME_SIGMA <= RESIDUAL_WINDOW[1]
        count += use[i]
    return count


@numba.njit(cache=True)
def _start_directions(n):
    """(zenith, azimuth) of ``n`` directions spread evenly over the sphere (Fibonacci)."""
    out = np.empty((n, 2))
    golden = math.pi * (3.0 - math.sqrt(5.0))
    for k in range(n):
        cos_zenith = 1.0 - 2.0 * (k + 0.5) / n
        out[k, 0] = math.acos(cos_zenith)
        out[k, 1] = (golden * k) % (2 * math.pi)
    return out


START_DIRECTIONS = _start_directions(N_START_DIRECTIONS)  # the same grid for every event


@numba.njit(cache=True)
def _reconstruct_event(x, y, z, t, q, keep, result) -> None:
    """Scan of start directions (the line fit and an even grid), each fitted with
    residual-window reselection among the cleaned hits; the best start (see the module
    docstring) is refined with the hits of the whole event. result: zenith,
    azimuth, angle sigma (rad), chi2/ndf, hits used."""
    n = x.shape[0]
    n_keep = 0
    for i in range(n):
        n_keep += keep[i]
    result[:] = np.nan
    result[4] = n_keep
    if n_keep < MIN_TRACK_HITS:
        return
    w_sum = tm = xm = ym = zm = 0.0
    for i in range(n):
        if keep[i]:
            w_sum += q[i]
            tm += q[i] * t[i]
            xm += q[i] * x[i]
            ym += q[i] * y[i]
            zm += q[i] * z[i]
    tm, xm, ym, zm = tm / w_sum, xm / w_sum, ym / w_sum, zm / w_sum
    vx = vy = vz = 0.0
    for i in range(n):
        if keep[i]:
            dt = t[i] - tm
            vx += q[i] * dt * (x[i] - xm)
            vy += q[i] * dt * (y[i] - ym)
            vz += q[i] * dt * (z[i] - zm)
    speed = max(math.sqrt(vx * vx + vy * vy + vz * vz), 1e-12)
    starts = np.empty((N_START_DIRECTIONS + 1, 2))
    starts[0, 0] = math.acos(max(-1.0, min(1.0, -vz / speed)))  # line fit: v is the motion
    starts[0, 1] = math.atan2(-vy, -vx)
    starts[1:] = START_DIRECTIONS

    residual = np.empty(n)
    use = np.empty(n, dtype=np.bool_)
    covariance = np.zeros((6, 6))
    params = np.empty(6)
    fitted = np.empty((starts.shape[0], 6))
    hits_of = np.zeros(starts.shape[0], dtype=np.int64)
    chi2_of = np.full(starts.shape[0], np.inf)
    for s in range(starts.shape[0]):
        _start(params, starts[s, 0], starts[s, 1], xm, ym, zm, tm, x, y, z, t, keep, residual)
        chi2_of[s], hits_of[s] = _fit_with_reselection(params, x, y, z, t, keep, use, residual, covariance, True,
                                                       np.inf)
        fitted[s] = params
    # Among the starts that keep nearly as many hits as the best one, the best chi2: late
    # light of stochastic losses lets a wrong track collect hits, not fit them well.
    best, enough = 0, ACCEPTED_HIT_FRACTION * hits_of.max()
    for s in range(starts.shape[0]):
        if hits_of[s] >= enough and chi2_of[s] < chi2_of[best] or hits_of[best] < enough:
            best = s
    params[:] = fitted[best]
    chi2, n_use = _fit_with_reselection(params, x, y, z, t, np.ones(n, dtype=np.bool_), use, residual, covariance,
                                        False, chi2_of[best])  # refine with the hits of the whole event
    if n_use < MIN_TRACK_HITS:
        return
    _finish(params, covariance, chi2, n_use, result)
    keep[:] = use


@numba.njit(cache=True)
def _start(params, zenith, azimuth, xm, ym, zm, tm, x, y, z, t, keep, residual) -> None:
    """Start parameters: the direction given, the track through the hits' centre, the
    start time shifted to the median residual of the ``keep`` hits."""
    params[0], params[1], params[2], params[3], params[4], params[5] = zenith, azimuth, xm, ym, zm, tm
    _residuals(params, x, y, z, t, keep, residual)
    params[5] += TIME_SIGMA * np.median(residual[keep])


@numba.njit(cache=True)
def _fit_with_reselection(params, x, y, z, t, candidates, use, residual, covariance, fit_first, chi2):
    """Fit ``RESELECTIONS`` times on the ``candidates`` in the residual window, first on
    all of them when ``fit_first`` (else ``chi2`` is the fit's so far); returns chi2/ndf
    and the hits used (``use``)."""
    if fit_first:
        use[:] = candidates
        chi2 = _fit_track(x, y, z, t, use, params, covariance)
    hits = 0
    for _ in range(RESELECTIONS):
        hits = _select_in_window(params, x, y, z, t, candidates, use, residual)
        if hits < MIN_TRACK_HITS:
            break
        chi2 = _fit_track(x, y, z, t, use, params, covariance)
    return chi2, hits


@numba.njit(cache=True)
def _finish(params, covariance, chi2, n_use, result) -> None:
    """result: zenith, azimuth (rad, folded into range), 68 % cone from the covariance
    scaled by sqrt(chi2/ndf) when above 1, chi2/ndf, hits used."""
    zenith = params[0] % (2 * math.pi)
    if zenith > math.pi:
        zenith = 2 * math.pi - zenith
        params[1] += math.pi
    var_zenith = max(covariance[0, 0], 0.0)
    var_azimuth = max(covariance[1, 1], 0.0) * math.sin(zenith) ** 2
    result[0] = zenith
    result[1] = params[1] % (2 * math.pi)
    result[2] = CONE_68 * math.sqrt(0.5 * (var_zenith + var_azimuth)) * math.sqrt(max(chi2, 1.0))
    result[3] = chi2
    result[4] = n_use


@numba.njit(cache=True)
def _refit_event(x, y, z, t, keep, zenith, azimuth, result) -> None:
    """One start (the given direction), fitted on the ``keep`` hits with reselection in
    the residual window among them; result as ``_reconstruct_event``'s."""
    n = x.shape[0]
    n_keep = 0
    xm = ym = zm = tm = 0.0
    for i in range(n):
        if keep[i]:
            n_keep += 1
            xm, ym, zm, tm = xm + x[i], ym + y[i], zm + z[i], tm + t[i]
    result[:] = np.nan
    if n_keep < MIN_TRACK_HITS:
        return
    params = np.empty(6)
    residual = np.empty(n)
    use = np.empty(n, dtype=np.bool_)
    covariance = np.zeros((6, 6))
    _start(params, zenith, azimuth, xm / n_keep, ym / n_keep, zm / n_keep, tm / n_keep, x, y, z, t, keep, residual)
    chi2, n_use = _fit_with_reselection(params, x, y, z, t, keep, use, residual, covariance, True, np.inf)
    if n_use >= MIN_TRACK_HITS:
        _finish(params, covariance, chi2, n_use, result)


@numba.njit(parallel=True, cache=True)
def _refit_tracks(offsets, x, y, z, t, keep, zenith, azimuth, results) -> None:
    for e in numba.prange(offsets.shape[0] - 1):
        lo, hi = offsets[e], offsets[e + 1]
        _refit_event(x[lo:hi], y[lo:hi], z[lo:hi], t[lo:hi], keep[lo:hi], zenith[e], azimuth[e], results[e])


def refit_tracks(offsets: np.ndarray, hits: dict[str, np.ndarray], zenith: np.ndarray,
                 azimuth: np.ndarray, configuration: DetectorConfiguration | None = None) -> dict[str, np.ndarray]:
    """The chi-square track fit of every event started from a given direction (rad) on
    all its hits (give it selected hits; ``configuration`` is not needed: the fit uses
    the hit modules only), with the residual-window reselection; returns
    ``reco_zenith``, ``reco_azimuth``, ``fit_cone`` (68 % cone from the covariance, rad),
    ``fit_chi2_ndf`` and ``fit_hits``; NaN where fewer than six hits fit."""
    offsets = np.asarray(offsets, dtype=np.int64)
    columns = [np.ascontiguousarray(hits[name], dtype=np.float64) for name in ("x", "y", "z", "t")]
    results = np.full((offsets.size - 1, 5), np.nan)
    _refit_tracks(offsets, *columns, np.ones(columns[0].size, dtype=np.bool_),
                  np.ascontiguousarray(zenith, dtype=np.float64), np.ascontiguousarray(azimuth, dtype=np.float64),
                  results)
    return {"reco_zenith": results[:, 0], "reco_azimuth": results[:, 1], "fit_cone": results[:, 2],
            "fit_chi2_ndf": results[:, 3], "fit_hits": results[:, 4]}


@numba.njit(parallel=True, cache=True)
def fit_tracks(offsets, x, y, z, t, q, keep, results) -> None:
    """Track fit of every event on its ``keep`` hits (updated to the hits the fit used)."""
    for e in numba.prange(offsets.shape[0] - 1):
        lo, hi = offsets[e], offsets[e + 1]
        _reconstruct_event(x[lo:hi], y[lo:hi], z[lo:hi], t[lo:hi], q[lo:hi], keep[lo:hi], results[e])


def reconstruct_classically(offsets: np.ndarray, hits: dict[str, np.ndarray],
                            configuration: DetectorConfiguration | None = None) -> dict[str, np.ndarray]:
    """The classical chain on CSR hits (the hit modules only: ``configuration`` is not
    needed); returns output columns of the event format.

    ``hit_score`` is 1 for the hits the causality cleaning keeps; ``reco_zenith`` /
    ``reco_azimuth`` / ``reco_angle_sigma`` come from the track fit (NaN where fewer than
    six hits are left); ``event_score`` is the upgoing-track selection score
    ``max(0, -cos(reco_zenith))`` (0 where no track was fitted); ``fit_chi2_ndf`` and
    ``fit_hits`` describe the fit.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    columns = [np.ascontiguousarray(hits[name], dtype=np.float64) for name in ("x", "y", "z", "t", "charge")]
    cleaned = np.zeros(columns[0].size, dtype=np.bool_)
    causality_clean(offsets, *columns, cleaned)
    results = np.full((offsets.size - 1, 5), np.nan)
    fit_tracks(offsets, *columns, cleaned.copy(), results)
    zenith = results[:, 0]
    score = np.where(np.isnan(zenith), 0.0, np.maximum(0.0, -np.cos(zenith)))
    return {"hit_score": cleaned.astype(np.float32), "event_score": score.astype(np.float32),
            "reco_zenith": zenith.astype(np.float32), "reco_azimuth": results[:, 1].astype(np.float32),
            "reco_angle_sigma": results[:, 2].astype(np.float32), "fit_chi2_ndf": results[:, 3].astype(np.float32),
            "fit_hits": results[:, 4].astype(np.float32)}
