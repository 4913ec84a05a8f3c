"""The standard Telescope Array SD reconstruction, the baseline the GNN stages must beat.

The chain of Ivanov's TA SD analysis (D. Ivanov, PhD thesis, Rutgers 2012; Abu-Zayyad et
al., ApJ 768 (2013) L1; its programs rufptn, rusdgeom and rufldf), on CSR arrays, in
numba, parallel over events. Constants marked [sdanalysis] are those of that code.

1. Pattern recognition. Counters whose signal (mean of the two layers) is at least 1.4 VEM
   take part [sdanalysis: QMIN]: random muons, ~1 VEM, mostly fall below. Two counters are
   adjacent when at most one diagonal grid step apart (squared separation <= 2 grid units
   [SPACEADJ], 10 % slack for the surveyed positions) and their times are compatible with
   one front, ``|dt| <= |dr|/c + 60 ns`` (TA allows 0 ns [TIMEADJTOL]; the 60 ns are three
   timing resolutions). The largest connected set (ties: the larger signal) is the event.
2. Geometry. A signal-weighted plane fit (weights sqrt(rho)) starts the direction; the core
   starts at the density-weighted centre of gravity (COG) of the counters. Then the
   modified Linsley fit (Teshima et al., J. Phys. G 12 (1986) 1097, as used by TA):
   ``t_i = t0 - (n . (x_i - core)) / c + a * front_delay(r_i, rho_i)`` with
   ``sigma_t^2 = (20 ns)^2 + (a * front_spread(r_i, rho_i))^2`` (shower.py's front, scaled
   by ``a`` in delay and spread as TA's ltdts does; 20 ns: the counters' timing
   resolution), rho_i the counter's measured density, the curvature factor ``a`` free
   from 6 counters on (fixed at 1, the mean front, below), and the
   core tied to the COG by ``|core - COG|^2 / (600 m)^2``. TA ties it with 180 m
   [SDGEOM_TEMP_dr = 0.15 x 1.2 km]; on our synthetic showers that pulls noise-free cores
   by up to 110 m and S800 by up to 12 %, while 600 m is as good or better with noise
   (docs/ta-sd-baseline.md). Counters whose removal lowers the chi2 by 4 or more are
   removed one at a time, the worst first, refitting each time [SDGEOM_DCHI2 = 4]; the
   chi2 change is the exact leave-one-out change of the linearised fit,
   ``r_i^2 / (1 - h_ii)`` (h: the hat matrix), instead of n refits.
3. LDF. ``rho(r) = S800 * ldf_shape(r, theta)`` (AGASA form, eta(theta) at the fitted
   zenith) fitted for the core and S800, with ``sigma_rho^2 = 0.56 rho + 6.3e-3 rho^2``
   (VEM/m^2; rufldf's 0.53^2 (2 rho + 0.15^2 rho^2)) and rho the mean of both layers over
   3 m^2, without a 1/cos(theta) (TA's convention: S800 is per m^2 of counter, the zenith
   dependence goes into the energy table). Saturated counters stay in the time fit only:
   those with a layer above 213 VEM, where the FADC turns non-linear for the narrowest
   (100 ns) pulse (fluctuations.py; TA flags them from the waveform). (TA also keeps counters within 600 m of
   the core out of the LDF [rufldf: cdist < 0.5 grid units]; here that biases S800 of
   events with fewer than 8 counters up by 20-60 %, so they stay.) Working counters without a hit within the
   shower-plane distance of the farthest event counter plus one grid step enter as zeros
   with sigma = 0.53 x 3.125 VEM/m^2 [rufldf]. The core keeps its COG term.
4. Combined fit. Direction, core, t0, S800 (and ``a`` from 6 counters) together on the
   time and LDF terms, as TA's final fit [rufldf: p2gldffitter]; the covariance of this fit
   gives the 68 % cone of the direction and the uncertainty of S800.
5. Energy: from S800 and the zenith through the table of ``energy_table.py``.

The minimisations are Levenberg-Marquardt with forward-difference Jacobians (TA uses
Minuit), the direction parametrised by the horizontal components of the axis, which is
regular at the zenith.
"""

from __future__ import annotations

import argparse
import math

import numba
import numpy as np
from numba.extending import register_jitable

from ..base import DetectorConfiguration
from . import shower
from .energy_table import SHIPPED_TABLE, EnergyTable, fit_energy_table, load_shipped_table
from .fluctuations import FADC_BIN, FADC_NONLINEAR, FADC_PER_VEM, SINGLE_PULSE_FWHM
from .geometry import GRID_SPACING, LAYER_AREA

register_jitable(shower.ldf_slope)  # lets numba compile shower.py's own formulas below
_ldf_shape = numba.njit(cache=True)(shower.ldf_shape)
_front_delay = numba.njit(cache=True)(shower.front_delay)
_front_spread = numba.njit(cache=True)(shower.front_spread)

SPEED_OF_LIGHT = shower.SPEED_OF_LIGHT  # m/ns
SIGNAL_FLOOR = 1.4  # VEM, mean of the layers [QMIN]
ADJACENT_DISTANCE = 1.1 * math.sqrt(2.0) * GRID_SPACING  # m, horizontal [SPACEADJ = 2]
TIME_RESOLUTION = 20.0  # ns: GPS time stamps, 20 ns FADC bins
CAUSALITY_SLACK = 3.0 * TIME_RESOLUTION  # ns
CORE_PRIOR = 0.5 * GRID_SPACING  # m (TA: 0.15 grid units [SDGEOM_TEMP_dr, P2LDF_TEMP_dr])
CLEAN_DCHI2 = 4.0  # [SDGEOM_DCHI2]
REFIT_CLEAN_DCHI2 = 16.0
"""The cleaning cut of the refit on counters the GNN selected (4 sigma instead of TA's 2):
on true shower counters, where the front model is exact, TA's cut still removed 0.75
counters in 45 % of the events and cost 7 % of the 68 % angle (docs/ta-sd.md); chosen on
the validation showers among 4, 9, 12, 16, 25 and no cleaning (1.13, 1.05, 1.04, 1.035,
1.036, 1.05 deg)."""
# sigma_rho^2 = LINEAR rho + QUADRATIC rho^2 (rho in VEM/m^2) [rufldf]
LDF_VARIANCE_LINEAR, LDF_VARIANCE_QUADRATIC = 0.53 ** 2 * 2.0, 0.53 ** 2 * 0.15 ** 2
ZERO_SIGMA = 0.53 * 3.125  # VEM/m^2, silent counters [rufldf]
# VEM in one layer where the FADC of the narrowest pulse turns non-linear (fluctuations.py)
SATURATION_VEM = FADC_NONLINEAR * SINGLE_PULSE_FWHM / (FADC_PER_VEM * FADC_BIN)
ZERO_MARGIN = GRID_SPACING  # m beyond the farthest event counter (shower plane)
MATCH_DISTANCE = 30.0  # m: a hit at most this far from a counter position is that counter's
MIN_COUNTERS = 3
MIN_COUNTERS_FREE_CURVATURE = 6
MIN_COUNTERS_CLEANING = 4  # cleaning stops at this many counters
MIN_SPREAD = 100.0  # m: rms extent of the counters across their main direction (collinearity)
MAX_SIN_ZENITH = math.sin(math.radians(85.0))  # the fits' domain
MAX_ZENITH = math.radians(80.0)  # fit_ok above; AGASA's eta is valid to 62.7 deg
CONE_68 = math.sqrt(-2.0 * math.log(1.0 - 0.68))  # 68 % containment of a 2-D Gaussian, in sigmas

# parameters of the fits
UX, UY, CORE_X, CORE_Y, T0, LOG_S800, CURVATURE = range(7)
N_PARAMS = 7
FD_STEPS = np.array([1e-6, 1e-6, 0.01, 0.01, 0.01, 1e-6, 1e-6])
# columns of the per-event results
RESULT_COLUMNS = ("reco_zenith", "reco_azimuth", "reco_core_x", "reco_core_y", "reco_angle_sigma", "s800",
                  "s800_sigma_log10", "fit_chi2_ndf", "n_used", "n_ldf", "n_zero", "curvature", "fit_ok")


@numba.njit(cache=True)
def _space_time_cluster(x, y, z, t, signal, keep) -> None:
    """Mark in ``keep`` the largest space-time-contiguous set of counters above the floor."""
    n = x.shape[0]
    label = np.full(n, -1, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    best, best_count, best_signal = -1, 0, 0.0
    for seed in range(n):
        if label[seed] >= 0 or signal[seed] < SIGNAL_FLOOR:
            continue
        label[seed] = seed
        stack[0], top, count, total = seed, 1, 0, 0.0
        while top > 0:
            top -= 1
            i = stack[top]
            count += 1
            total += signal[i]
            for j in range(n):
                if label[j] >= 0 or signal[j] < SIGNAL_FLOOR:
                    continue
                dx, dy, dz = x[i] - x[j], y[i] - y[j], z[i] - z[j]
                if dx * dx + dy * dy > ADJACENT_DISTANCE ** 2:
                    continue
                if abs(t[i] - t[j]) <= math.sqrt(dx * dx + dy * dy + dz * dz) / SPEED_OF_LIGHT + CAUSALITY_SLACK:
                    label[j] = seed
                    stack[top] = j
                    top += 1
        if count > best_count or (count == best_count and total > best_signal):
            best, best_count, best_signal = seed, count, total
    for i in range(n):
        keep[i] = best >= 0 and label[i] == best


@numba.njit(inline="always")
def _axis_frame(p, x, y, z) -> tuple:
    """For a counter at (x, y, z) m: its distance from the axis of ``p`` and its position
    along the axis towards the source, from the core (m)."""
    ux, uy = p[UX], p[UY]
    uz = math.sqrt(max(1.0 - ux * ux - uy * uy, 0.0))
    dx, dy = x - p[CORE_X], y - p[CORE_Y]
    along = dx * ux + dy * uy + z * uz
    return math.sqrt(max(dx * dx + dy * dy + z * z - along * along, 0.0)), along


@numba.njit(cache=True)
def _residuals(p, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, out) -> bool:
    """Whitened residuals: time terms (rows 0..n-1), LDF terms (rows n..2n-1) and the two
    COG terms; False where ``p`` is outside the domain."""
    ux, uy = p[UX], p[UY]
    sin2 = ux * ux + uy * uy
    if sin2 >= MAX_SIN_ZENITH ** 2 or p[CURVATURE] <= 0.0:
        return False
    zenith = math.asin(math.sqrt(sin2))
    s800 = math.exp(p[LOG_S800])
    n = x.shape[0]
    for i in range(n):
        r, along = _axis_frame(p, x[i], y[i], z[i])
        out[i] = 0.0
        out[n + i] = 0.0
        if in_time[i]:
            expected = p[T0] - along / SPEED_OF_LIGHT + p[CURVATURE] * _front_delay(r, rho[i])
            out[i] = (t[i] - expected) / sigma_t[i]
        if in_ldf[i]:
            out[n + i] = (rho[i] - s800 * _ldf_shape(r, zenith, 0.0)) / sigma_rho[i]
    out[2 * n] = (p[CORE_X] - cog_x) / CORE_PRIOR
    out[2 * n + 1] = (p[CORE_Y] - cog_y) / CORE_PRIOR
    return True


@numba.njit(cache=True)
def _jacobian(p, free, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, residual, jacobian) -> bool:
    """Forward-difference Jacobian of the residuals over the ``free`` parameters."""
    trial = p.copy()
    shifted = np.empty_like(residual)
    for k in range(free.shape[0]):
        m = free[k]
        step = FD_STEPS[m]
        if m == UX or m == UY:  # step inwards near the edge of the domain
            step = -step if p[m] > 0 else step
        trial[m] = p[m] + step
        if not _residuals(trial, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, shifted):
            return False
        jacobian[:, k] = (shifted - residual) / step
        trial[m] = p[m]
    return True


@numba.njit(cache=True)
def _fit(p, free, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, covariance) -> float:
    """Levenberg-Marquardt over the ``free`` parameters (indices into ``p``, updated in
    place); fills ``covariance`` (N_PARAMS x N_PARAMS, zero for fixed parameters) and
    returns the chi2 (inf where the start is outside the domain)."""
    n_rows, n_free = 2 * x.shape[0] + 2, free.shape[0]
    residual = np.empty(n_rows)
    trial_residual = np.empty(n_rows)
    jacobian = np.empty((n_rows, n_free))
    trial = p.copy()
    if not _residuals(p, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, residual):
        return np.inf
    chi2 = np.sum(residual ** 2)
    damping = 1e-3
    for _ in range(100):
        if not _jacobian(p, free, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, residual,
                         jacobian):
            break
        normal = jacobian.T @ jacobian
        gradient = jacobian.T @ residual
        improved = False
        for _attempt in range(12):
            system = normal.copy()
            for k in range(n_free):
                system[k, k] += damping * normal[k, k] + 1e-12
            step = np.linalg.solve(system, -gradient)
            for k in range(n_free):
                trial[free[k]] = p[free[k]] + step[k]
            if _residuals(trial, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, trial_residual):
                trial_chi2 = np.sum(trial_residual ** 2)
                if trial_chi2 <= chi2:
                    improved = chi2 - trial_chi2 > 1e-7 * chi2 + 1e-9
                    p[:] = trial
                    residual[:] = trial_residual
                    chi2 = trial_chi2
                    damping = max(damping * 0.2, 1e-9)
                    break
            trial[:] = p
            damping *= 10.0
        if not improved:
            break
    covariance[:, :] = 0.0
    if _jacobian(p, free, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, residual, jacobian):
        inverse = np.linalg.pinv(jacobian.T @ jacobian)
        for a in range(n_free):
            for b in range(n_free):
                covariance[free[a], free[b]] = inverse[a, b]
    return chi2


@numba.njit(cache=True)
def _update_time_sigmas(p, x, y, z, rho, sigma_t) -> None:
    """``sigma_t^2 = TIME_RESOLUTION^2 + (a front_spread(r, rho))^2`` at the current axis
    and curvature factor ``a``."""
    for i in range(x.shape[0]):
        r = _axis_frame(p, x[i], y[i], z[i])[0]
        sigma_t[i] = math.sqrt(TIME_RESOLUTION ** 2 + (p[CURVATURE] * _front_spread(r, rho[i])) ** 2)


@numba.njit(cache=True)
def _free_parameters(with_ldf, with_time, free_curvature):
    """Indices of the fitted parameters for a stage."""
    free = np.empty(N_PARAMS, dtype=np.int64)
    k = 0
    if with_time:
        free[0], free[1], k = UX, UY, 2
    free[k], free[k + 1] = CORE_X, CORE_Y
    k += 2
    if with_time:
        free[k] = T0
        k += 1
    if with_ldf:
        free[k] = LOG_S800
        k += 1
    if with_time and free_curvature:
        free[k] = CURVATURE
        k += 1
    return free[:k]


@numba.njit(cache=True)
def _cog(x, y, rho, use):
    """Density-weighted centre of gravity of the ``use`` counters (m)."""
    w = cx = cy = 0.0
    for i in range(x.shape[0]):
        if use[i]:
            w += rho[i]
            cx += rho[i] * x[i]
            cy += rho[i] * y[i]
    return cx / w, cy / w


@numba.njit(cache=True)
def _worst_counter(p, free, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y) -> tuple:
    """The time-fit counter whose removal lowers the chi2 most and that change, from the
    linearised fit: ``r_i^2 / (1 - h_ii)``."""
    n_rows = 2 * x.shape[0] + 2
    residual = np.empty(n_rows)
    jacobian = np.empty((n_rows, free.shape[0]))
    if not _residuals(p, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, residual):
        return -1, 0.0
    if not _jacobian(p, free, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, residual, jacobian):
        return -1, 0.0
    inverse = np.linalg.pinv(jacobian.T @ jacobian)
    worst, gain = -1, 0.0
    for i in range(x.shape[0]):
        if not in_time[i]:
            continue
        leverage = 0.0
        for a in range(free.shape[0]):
            for b in range(free.shape[0]):
                leverage += jacobian[i, a] * inverse[a, b] * jacobian[i, b]
        if 1.0 - leverage < 1e-6:  # the counter alone fixes a parameter
            continue
        change = residual[i] ** 2 / (1.0 - leverage)
        if change > gain:
            worst, gain = i, change
    return worst, gain


@numba.njit(cache=True)
def _plane_start(x, y, z, t, rho, use, p) -> bool:
    """Direction and time from the plane front ``t = T - (n . x)/c`` fitted with weights
    sqrt(rho) (z through the previous pass's n_z); False where the counters are collinear."""
    uz = 1.0
    solution = np.zeros(3)
    for _ in range(3):
        normal = np.zeros((3, 3))
        rhs = np.zeros(3)
        for i in range(x.shape[0]):
            if not use[i]:
                continue
            w = math.sqrt(max(rho[i], 1e-3))
            row = np.array([1.0, x[i], y[i]])
            target = t[i] + uz * z[i] / SPEED_OF_LIGHT
            normal += w * np.outer(row, row)
            rhs += w * target * row
        if abs(np.linalg.det(normal)) < 1e-12 * normal[0, 0] * (normal[1, 1] * normal[2, 2] + 1.0):
            return False
        solution = np.linalg.solve(normal, rhs)
        ux, uy = -SPEED_OF_LIGHT * solution[1], -SPEED_OF_LIGHT * solution[2]
        sin = math.sqrt(ux * ux + uy * uy)
        if sin > 0.9:  # a plane steeper than light: keep the direction, not the slope
            ux, uy = 0.9 * ux / sin, 0.9 * uy / sin
        uz = math.sqrt(1.0 - ux * ux - uy * uy)
        p[UX], p[UY] = ux, uy
    p[T0] = solution[0] - (p[UX] * p[CORE_X] + p[UY] * p[CORE_Y]) / SPEED_OF_LIGHT  # plane time at the core
    return True


@numba.njit(cache=True)
def _geometry_fit(p, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, n_keep, covariance) -> float:
    """The modified Linsley fit of the ``in_time`` counters from the plane start, the core
    at the COG and ``a = 1``; inf where the counters are collinear."""
    p[:] = 0.0
    p[CORE_X], p[CORE_Y], p[CURVATURE] = cog_x, cog_y, 1.0
    if not _plane_start(x, y, z, t, rho, in_time, p):
        return np.inf
    free = _free_parameters(False, True, n_keep >= MIN_COUNTERS_FREE_CURVATURE)
    chi2 = np.inf
    for _ in range(2):  # the time uncertainties follow the axis
        _update_time_sigmas(p, x, y, z, rho, sigma_t)
        chi2 = _fit(p, free, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, covariance)
    return chi2


@numba.njit(cache=True)
def _spread_across(x, y, use) -> float:
    """RMS extent (m) of the ``use`` counters along their narrowest horizontal direction."""
    n = xm = ym = 0.0
    for i in range(x.shape[0]):
        if use[i]:
            n += 1.0
            xm += x[i]
            ym += y[i]
    xm, ym = xm / n, ym / n
    sxx = syy = sxy = 0.0
    for i in range(x.shape[0]):
        if use[i]:
            sxx += (x[i] - xm) ** 2 / n
            syy += (y[i] - ym) ** 2 / n
            sxy += (x[i] - xm) * (y[i] - ym) / n
    smallest = 0.5 * (sxx + syy) - math.sqrt(0.25 * (sxx - syy) ** 2 + sxy * sxy)
    return math.sqrt(max(smallest, 0.0))


@numba.njit(cache=True)
def _reconstruct_event(x_in, y_in, z_in, t_in, upper, lower, counters, preselected, clean_dchi2, keep,
                       result) -> None:
    """The chain of the module docstring for one event; ``keep`` gets the counters of the
    final time fit, ``result`` the values of RESULT_COLUMNS (NaN where a stage fails).
    ``preselected``: the hits are already the shower's counters (step 1 is skipped);
    ``clean_dchi2``: the chi2 drop that removes a counter from the time fit."""
    n = x_in.shape[0]
    result[:] = np.nan
    result[8] = result[9] = result[10] = 0.0
    result[12] = 0.0
    keep[:] = False
    if n == 0:
        return
    signal = 0.5 * (upper + lower)
    rho_hit = signal / LAYER_AREA
    if preselected:  # a counter without a positive signal has no density to fit
        keep[:] = signal > 0.0
    else:
        _space_time_cluster(x_in, y_in, z_in, t_in, signal, keep)
    n_keep = 0
    for i in range(n):
        n_keep += keep[i]
    result[8] = n_keep
    if n_keep < MIN_COUNTERS or _spread_across(x_in, y_in, keep) < MIN_SPREAD:
        keep[:] = False
        return

    # Hit counters first, then the zeros (appended after the geometry fit); a local frame at
    # the COG with times from the earliest member keeps the numbers small.
    origin_x, origin_y = _cog(x_in, y_in, rho_hit, keep)
    t_origin = np.inf
    for i in range(n):
        if keep[i]:
            t_origin = min(t_origin, t_in[i])
    x, y, z, t = x_in - origin_x, y_in - origin_y, z_in.astype(np.float64), t_in - t_origin
    rho = rho_hit.copy()
    sigma_t = np.full(n, TIME_RESOLUTION)
    sigma_rho = np.sqrt(LDF_VARIANCE_LINEAR * rho + LDF_VARIANCE_QUADRATIC * rho * rho) + 1e-9
    in_time = keep.copy()
    in_ldf = np.zeros(n, dtype=np.bool_)
    covariance = np.zeros((N_PARAMS, N_PARAMS))

    p = np.zeros(N_PARAMS)
    cog_x, cog_y = 0.0, 0.0

    # Geometry: modified Linsley fit, then the removal of counters that spoil it, each
    # removal followed by a fit from a fresh start.
    chi2 = _geometry_fit(p, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, n_keep, covariance)
    if not math.isfinite(chi2):
        keep[:] = False
        return
    while n_keep > MIN_COUNTERS_CLEANING:
        free = _free_parameters(False, True, n_keep >= MIN_COUNTERS_FREE_CURVATURE)
        worst, gain = _worst_counter(p, free, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y)
        if worst < 0 or gain < clean_dchi2:
            break
        in_time[worst] = False
        n_keep -= 1
        cog_x, cog_y = _cog(x, y, rho, in_time)
        chi2 = _geometry_fit(p, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, n_keep, covariance)
        if not math.isfinite(chi2):
            keep[:] = False
            return
    free_curvature = n_keep >= MIN_COUNTERS_FREE_CURVATURE

    # LDF points: the event's counters unless saturated; silent counters.
    n_ldf = 0
    far = 0.0
    for i in range(n):
        if in_time[i]:
            far = max(far, _axis_frame(p, x[i], y[i], z[i])[0])
            in_ldf[i] = upper[i] < SATURATION_VEM and lower[i] < SATURATION_VEM
            n_ldf += in_ldf[i]
    silent = np.zeros(counters.shape[0], dtype=np.bool_)
    n_zero = 0
    for k in range(counters.shape[0]):
        cx, cy = counters[k, 0] - origin_x, counters[k, 1] - origin_y
        hit = False
        for i in range(n):
            if (x[i] - cx) ** 2 + (y[i] - cy) ** 2 < MATCH_DISTANCE ** 2:
                hit = True
                break
        if not hit and _axis_frame(p, cx, cy, counters[k, 2])[0] <= far + ZERO_MARGIN:
            silent[k] = True
            n_zero += 1
    result[9], result[10] = n_ldf, n_zero
    if n_ldf < 1:
        keep[:] = False
        return
    m = n + n_zero
    fx, fy, fz, ft = np.empty(m), np.empty(m), np.empty(m), np.zeros(m)
    frho, fsigma_t, fsigma_rho = np.zeros(m), np.full(m, TIME_RESOLUTION), np.full(m, ZERO_SIGMA)
    f_time, f_ldf = np.zeros(m, dtype=np.bool_), np.ones(m, dtype=np.bool_)
    fx[:n], fy[:n], fz[:n], ft[:n] = x, y, z, t
    frho[:n], fsigma_t[:n], fsigma_rho[:n], f_time[:n], f_ldf[:n] = rho, sigma_t, sigma_rho, in_time, in_ldf
    j = n
    for k in range(counters.shape[0]):
        if silent[k]:
            fx[j], fy[j], fz[j] = counters[k, 0] - origin_x, counters[k, 1] - origin_y, counters[k, 2]
            j += 1

    # S800 start: the linear least-squares scale at the geometry fit's core and zenith.
    zenith = math.asin(math.sqrt(min(p[UX] ** 2 + p[UY] ** 2, 1.0)))
    num = den = 0.0
    for i in range(m):
        if f_ldf[i]:
            shape = _ldf_shape(_axis_frame(p, fx[i], fy[i], fz[i])[0], zenith, 0.0)
            num += frho[i] * shape / fsigma_rho[i] ** 2
            den += shape * shape / fsigma_rho[i] ** 2
    p[LOG_S800] = math.log(max(num / den, 1e-3))
    chi2 = _fit(p, _free_parameters(True, False, False), fx, fy, fz, ft, frho, fsigma_t, fsigma_rho,
                np.zeros(m, dtype=np.bool_), f_ldf, cog_x, cog_y, covariance)

    # Combined fit of geometry and LDF.
    free = _free_parameters(True, True, free_curvature)
    for _ in range(2):
        _update_time_sigmas(p, fx, fy, fz, frho, fsigma_t)
        chi2 = _fit(p, free, fx, fy, fz, ft, frho, fsigma_t, fsigma_rho, f_time, f_ldf, cog_x, cog_y, covariance)
    sin_zenith = math.sqrt(p[UX] ** 2 + p[UY] ** 2)
    if not math.isfinite(chi2) or sin_zenith >= MAX_SIN_ZENITH:
        keep[:] = False
        return
    zenith = math.asin(sin_zenith)
    uz = math.cos(zenith)
    # 68 % cone from the covariance of the axis n = (ux, uy, uz(ux, uy)): its trace
    gx, gy = -p[UX] / uz, -p[UY] / uz  # d uz / d ux, d uz / d uy
    trace = (covariance[UX, UX] * (1.0 + gx * gx) + covariance[UY, UY] * (1.0 + gy * gy)
             + 2.0 * covariance[UX, UY] * gx * gy)
    n_rows = n_keep + n_ldf + n_zero + 2
    result[0] = zenith
    result[1] = math.atan2(p[UY], p[UX]) % (2.0 * math.pi)
    result[2], result[3] = p[CORE_X] + origin_x, p[CORE_Y] + origin_y
    result[4] = CONE_68 * math.sqrt(max(0.5 * trace, 0.0))
    result[5] = math.exp(p[LOG_S800])
    result[6] = math.sqrt(max(covariance[LOG_S800, LOG_S800], 0.0)) / math.log(10.0)
    result[7] = chi2 / max(n_rows - free.shape[0], 1)
    result[8] = n_keep
    result[11] = p[CURVATURE]
    result[12] = 1.0 if zenith <= MAX_ZENITH and math.isfinite(result[4]) and math.isfinite(result[6]) else 0.0
    keep[:] = in_time


@numba.njit(parallel=True, cache=True)
def _reconstruct(offsets, x, y, z, t, upper, lower, counters, preselected, clean_dchi2, keep, results) -> None:
    for e in numba.prange(offsets.shape[0] - 1):
        lo, hi = offsets[e], offsets[e + 1]
        _reconstruct_event(x[lo:hi], y[lo:hi], z[lo:hi], t[lo:hi], upper[lo:hi], lower[lo:hi], counters,
                           preselected, clean_dchi2, keep[lo:hi], results[e])


def fit_showers(offsets: np.ndarray, hits: dict[str, np.ndarray], counters: np.ndarray,
                preselected: bool = False, clean_dchi2: float = CLEAN_DCHI2) -> dict[str, np.ndarray]:
    """Pattern recognition, geometry, LDF and combined fits of every event (no energy).
    With ``preselected`` the hits with a positive signal are taken as the shower's
    counters as they are (another selection, e.g. the GNN's, replaces the pattern
    recognition; the counters it dropped count as silent). ``clean_dchi2``: a counter
    leaves the time fit when that lowers the chi2 by this much (TA's value by default).

    ``hits``: ``x``, ``y``, ``z`` (m), ``t`` (ns, any offset), ``signal_upper``,
    ``signal_lower`` (VEM); ``counters`` (K, 3) m: the working (live) counters of the
    configuration, those without a hit near the shower being its silent counters. Returns
    float64 columns RESULT_COLUMNS per event (angles in rad, core in m, S800 in VEM/m^2,
    ``s800_sigma_log10`` its uncertainty in log10, ``curvature`` the factor ``a``,
    ``fit_ok`` 1/0) and ``hit_score`` per hit (1 for the counters of the final time fit).
    NaN where no fit was possible.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    columns = [np.ascontiguousarray(hits[name], dtype=np.float64)
               for name in ("x", "y", "z", "t", "signal_upper", "signal_lower")]
    keep = np.zeros(columns[0].size, dtype=np.bool_)
    results = np.full((offsets.size - 1, len(RESULT_COLUMNS)), np.nan)
    _reconstruct(offsets, *columns, np.ascontiguousarray(counters, dtype=np.float64).reshape(-1, 3), preselected,
                 float(clean_dchi2), keep, results)
    out = {name: results[:, k] for k, name in enumerate(RESULT_COLUMNS)}
    out["hit_score"] = keep.astype(np.float32)
    return out


def live_counters(configuration: DetectorConfiguration | None) -> np.ndarray:
    """Positions (K, 3) m of the live counters of ``configuration``; ``ValueError`` for
    None (the fits need the counters without hits and take no default layout)."""
    if configuration is None:
        raise ValueError("the TA SD fits need the detector configuration (its silent counters)")
    return configuration.live_positions


def reconstruct_classically(offsets: np.ndarray, hits: dict[str, np.ndarray],
                            configuration: DetectorConfiguration | None, *,
                            energy_table: EnergyTable | None = None) -> dict[str, np.ndarray]:
    """The standard TA SD reconstruction on CSR hits of ``configuration``'s array; returns
    output columns of the event format (float32): ``reco_zenith``, ``reco_azimuth``,
    ``reco_angle_sigma`` (rad), ``reco_core_x``, ``reco_core_y`` (m), ``s800``
    (VEM/m^2), ``reco_log10_energy`` and ``reco_log10_energy_sigma`` (log10 GeV, from
    ``energy_table``, by default the shipped one), ``hit_score`` per hit, and the
    diagnostics of :func:`fit_showers`. NaN where the fit failed (``fit_ok`` 0)."""
    table = load_shipped_table() if energy_table is None else energy_table
    fit = fit_showers(offsets, hits, live_counters(configuration))
    ok = fit["fit_ok"] == 1.0
    log10_energy, sigma = table.log10_energy(fit["s800"], fit["reco_zenith"], fit["s800_sigma_log10"])
    out = {name: np.where(ok, values, np.nan).astype(np.float32) for name, values in fit.items()
           if name not in ("hit_score", "n_used", "n_ldf", "n_zero", "fit_ok")}
    out.update(reco_log10_energy=np.where(ok, log10_energy, np.nan).astype(np.float32),
               reco_log10_energy_sigma=np.where(ok, sigma, np.nan).astype(np.float32),
               hit_score=fit["hit_score"], fit_ok=fit["fit_ok"].astype(np.float32),
               **{name: fit[name].astype(np.float32) for name in ("n_used", "n_ldf", "n_zero")})
    return out


def refit_showers(offsets: np.ndarray, hits: dict[str, np.ndarray], zenith: np.ndarray,
                  azimuth: np.ndarray, configuration: DetectorConfiguration | None) -> dict[str, np.ndarray]:
    """The standard geometry, LDF and combined fits on counters another method selected
    (``Detector.refine_direction``: the energy-direction stage hands over the counters its
    hit selection kept), with the silent counters of ``configuration``. The fits start
    from their own plane fit, so ``zenith`` and
    ``azimuth`` (the caller's estimate, rad) only fix the number of events. Returns
    ``reco_zenith``, ``reco_azimuth``, ``fit_cone`` (the 68 % cone, rad),
    ``log10_energy`` (GeV, from S800 with the shipped energy table) and its 1-sigma
    ``log10_energy_sigma``, the core ``reco_core_x``, ``reco_core_y`` (m), NaN where the
    fit failed. The time fit drops a counter only at a chi2 drop of ``REFIT_CLEAN_DCHI2``:
    the selection has already removed the accidentals TA's tighter cut is there for."""
    fit = fit_showers(offsets, hits, live_counters(configuration), preselected=True, clean_dchi2=REFIT_CLEAN_DCHI2)
    ok = fit["fit_ok"] == 1.0
    if ok.size != np.size(zenith) or ok.size != np.size(azimuth):
        raise ValueError(f"{ok.size} events but {np.size(zenith)} start directions")
    log10_energy, sigma = load_shipped_table().log10_energy(fit["s800"], fit["reco_zenith"], fit["s800_sigma_log10"])
    columns = {"reco_zenith": fit["reco_zenith"], "reco_azimuth": fit["reco_azimuth"],
               "fit_cone": fit["reco_angle_sigma"], "log10_energy": log10_energy, "log10_energy_sigma": sigma,
               "reco_core_x": fit["reco_core_x"], "reco_core_y": fit["reco_core_y"]}
    return {name: np.where(ok, values, np.nan) for name, values in columns.items()}


FIT_FEATURE_NAMES = ("log10_s800", "sec_zenith", "s800_sigma_log10", "curvature")


def fit_features(offsets: np.ndarray, hits: dict[str, np.ndarray],
                 configuration: DetectorConfiguration | None) -> np.ndarray:
    """The standard fit on counters another method selected (silent counters from
    ``configuration``), as event-level inputs of a regression head
    (``Detector.event_features``): log10 S800 (VEM/m^2), sec(zenith), the fit's log10
    uncertainty of S800 and the front-curvature factor, (n_events, 4), NaN where the fit
    failed."""
    fit = fit_showers(offsets, hits, live_counters(configuration), preselected=True)
    ok = fit["fit_ok"] == 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = (np.log10(fit["s800"]), 1.0 / np.cos(fit["reco_zenith"]), fit["s800_sigma_log10"], fit["curvature"])
    return np.where(ok[:, None], np.stack(columns, axis=1), np.nan)


def build_energy_table_from_simulation(n_events: int, seed: int) -> EnergyTable:
    """Simulate ``n_events`` showers on the design layout (``simulation.simulate_events``),
    reconstruct them and fit the energy table to the well-reconstructed ones (fit_ok, at
    least 4 counters)."""
    from .simulation import simulate_events

    simulated = simulate_events(n_events, seed)
    fit = fit_showers(simulated.offsets, simulated.hits, live_counters(simulated.configuration))
    good = (fit["fit_ok"] == 1.0) & (fit["n_used"] >= 4)
    return fit_energy_table(fit["s800"][good], fit["reco_zenith"][good],
                            np.log10(simulated.events["true_energy"][good]), fit["s800_sigma_log10"][good],
                            description=f"simulate_events({n_events}, seed={seed}); {int(good.sum())} showers with "
                                        "fit_ok and >= 4 counters")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="TA SD standard reconstruction: build the energy table.")
    parser.add_argument("--build-energy-table", action="store_true", help=f"simulate, fit and write {SHIPPED_TABLE}")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not args.build_energy_table:
        parser.error("nothing to do: pass --build-energy-table")
    table = build_energy_table_from_simulation(args.events, args.seed)
    table.save(SHIPPED_TABLE)
    print(f"wrote {SHIPPED_TABLE}: {table!r}")


if __name__ == "__main__":
    main()
