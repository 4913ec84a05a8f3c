"""Study (not shipped): how close is the standard TA SD fit's direction to the information
bound of the simulation?

    NUMBA_NUM_THREADS=1 python scripts/study_ta_direction_bound.py data/ta-sd/test.parquet \\
        [--reco TEST-RECO.parquet] [--events N] [--deviates 200] [--seed 0]

On the showers that pass the issue's cuts (``shower_metrics.selected``, on the truth: zenith
< 45 deg, >= 5 shower counters, core >= 1,200 m inside the edge, 10^18.5 <= E < 10^20 eV),
with only the shower's own counters (``true_label == 1``), their positions from
``counter_positions()`` (by ``channel``) and rho = mean of the layers / 3 m^2, the model and
the weights are exactly ``baseline.py``'s final combined fit (its ``_residuals``,
``_jacobian``, ``_fit``, ``_update_time_sigmas``; LDF points: the unsaturated counters and
the silent counters within the farthest counter's axis distance + 1.2 km, as the fit takes
them). Parameters: ux, uy (horizontal components of the axis), core, t0, log S800 and the
curvature factor ``a``; the true ``a`` is ``exp(depth_shift / CURVATURE_DEPTH)`` (s800.py),
the true S800 ``true_s800``. The LDF slope shift of the simulation is not a parameter of
the model (the Fisher matrix is taken at slope shift 0, as the fit's model has it).

Per half decade of true energy (and all), angles in degrees (68 % quantiles of the angle
between the estimated and the true axis):
- ``oracle_fit``: the fit on the time terms only (no LDF rows), started at the truth, core
  and ``a`` fixed at the truth, ux, uy and t0 free (two passes of the time sigmas, as the
  fit); what an estimator that knew the core and the curvature could reach.
- ``truth_start_fit``: the fit's combined stage (time + LDF + COG prior, ``a`` free from 6
  counters on, as the fit) started at the truth: the final stage without its start,
  pattern recognition and cleaning.
- ``crb_*``: Cramer-Rao bounds from the Fisher matrix J^T J of the whitened residuals at the
  truth (sigma_t from ``_update_time_sigmas`` at the truth). The (ux, uy) block of its
  inverse gives per event ``--deviates`` Gaussian draws, turned into angles; the 68 %
  quantile of the pooled angles is reported and the median over events of each event's
  own 68 % angle (``*_event_cone``). Variants: ``crb`` all seven free (``a`` free for
  every event, also those with 5 counters, where the fit fixes it at 1), no COG rows;
  ``crb_cog_prior`` with the fit's COG rows (a pseudo-measurement of the core, 600 m);
  ``crb_spread_info`` adding the information in the dependence of sigma_t on the
  parameters (2 (d sigma / d theta)^2 / sigma^2, which the fit does not use);
  ``crb_nuisances_fixed`` core and ``a`` fixed (free: ux, uy, t0, log S800);
  ``crb_nuisances_fixed_time_only`` the same on the time rows only (ux, uy, t0: the
  oracle fit's bound, a check of the machinery).
- ``standard_fit``: ``reconstruct_classically`` on all hits (accidentals included), as the
  comparison (``air_showers``) scores it; ``chain``: ``reco_zenith``/``reco_azimuth``
  of ``--reco`` (``graphreco reconstruct --detector ta-sd`` of the same file). Both over
  the events each reconstructed (the fraction is given).
Prints JSON; ``*_singular``: events whose Fisher matrix could not be inverted (counted at
180 deg). About 40 s for the 20,000 showers of data/ta-sd/test.parquet on one core.
"""

from __future__ import annotations

import argparse
import json
import math

import numba
import numpy as np
import pyarrow.parquet as pq

from graphreco.detectors import DetectorConfiguration
from graphreco.detectors.ta_sd.baseline import (
    CORE_PRIOR,
    CORE_X,
    CORE_Y,
    CURVATURE,
    FD_STEPS,
    LDF_VARIANCE_LINEAR,
    LDF_VARIANCE_QUADRATIC,
    LOG_S800,
    MIN_COUNTERS_FREE_CURVATURE,
    N_PARAMS,
    SATURATION_VEM,
    T0,
    UX,
    UY,
    ZERO_MARGIN,
    ZERO_SIGMA,
    _axis_frame,
    _cog,
    _fit,
    _free_parameters,
    _jacobian,
    _residuals,
    _update_time_sigmas,
    reconstruct_classically,
)
from graphreco.detectors.ta_sd.detector import DETECTOR
from graphreco.detectors.ta_sd.geometry import LAYER_AREA, counter_ids, counter_positions, distance_to_edge
from graphreco.detectors.ta_sd.s800 import CURVATURE_DEPTH, depth_shift
from graphreco.evaluate.matching import reco_rows
from graphreco.evaluate.pileup import concatenated
from graphreco.evaluate.resolution import angular_error
from graphreco.evaluate.shower_metrics import ENERGY_BIN_EDGES, EV_PER_GEV, selected
from graphreco.io import read_events


@numba.njit(cache=True)
def _event_study(x, y, z, t, rho, sigma_rho, in_ldf, in_time, p_true, fits, fisher_time, fisher_ldf,
                 fisher_spread) -> None:
    """One event in a frame with the true core at the origin: the oracle and truth-start
    fits (``fits``: ux, uy of each) and the Fisher matrices (N_PARAMS^2) of the time rows,
    the LDF rows and the sigma_t dependence, at the truth."""
    m = x.shape[0]
    sigma_t = np.empty(m)
    covariance = np.zeros((N_PARAMS, N_PARAMS))
    p = p_true.copy()
    # t0 at the truth: the weighted mean offset of the time residuals
    _update_time_sigmas(p, x, y, z, rho, sigma_t)
    p[T0] = 0.0
    residual = np.empty(2 * m + 2)
    _residuals(p, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, 0.0, 0.0, residual)
    num = den = 0.0
    for i in range(m):
        if in_time[i]:
            num += residual[i] / sigma_t[i]
            den += 1.0 / sigma_t[i] ** 2
    p_true[T0] = num / den
    no_ldf = np.zeros(m, dtype=np.bool_)

    # oracle: time terms, core and a fixed at the truth
    p[:] = p_true
    free = np.array([UX, UY, T0])
    for _ in range(2):
        _update_time_sigmas(p, x, y, z, rho, sigma_t)
        _fit(p, free, x, y, z, t, rho, sigma_t, sigma_rho, in_time, no_ldf, 0.0, 0.0, covariance)
    fits[0], fits[1] = p[UX], p[UY]

    # the fit's combined stage from the truth (COG prior, a free from 6 counters)
    n_time = 0
    for i in range(m):
        n_time += in_time[i]
    cog_x, cog_y = _cog(x, y, rho, in_time)
    p[:] = p_true
    free = _free_parameters(True, True, n_time >= MIN_COUNTERS_FREE_CURVATURE)
    for _ in range(2):
        _update_time_sigmas(p, x, y, z, rho, sigma_t)
        _fit(p, free, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, cog_x, cog_y, covariance)
    fits[2], fits[3] = p[UX], p[UY]

    # Fisher matrices at the truth
    p[:] = p_true
    _update_time_sigmas(p, x, y, z, rho, sigma_t)
    all_free = np.arange(N_PARAMS)
    jacobian = np.empty((2 * m + 2, N_PARAMS))
    _residuals(p, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, 0.0, 0.0, residual)
    _jacobian(p, all_free, x, y, z, t, rho, sigma_t, sigma_rho, in_time, in_ldf, 0.0, 0.0, residual, jacobian)
    fisher_time[:, :] = jacobian[:m].T @ jacobian[:m]
    fisher_ldf[:, :] = jacobian[m:2 * m].T @ jacobian[m:2 * m]
    # d sigma_t / d theta by forward differences; Gaussian information 2 (d sigma)^2 / sigma^2
    shifted = np.empty(m)
    derivative = np.zeros((m, N_PARAMS))
    for k in range(N_PARAMS):
        trial = p.copy()
        step = -FD_STEPS[k] if (k == UX or k == UY) and p[k] > 0 else FD_STEPS[k]
        trial[k] += step
        _update_time_sigmas(trial, x, y, z, rho, shifted)
        for i in range(m):
            if in_time[i]:
                derivative[i, k] = (shifted[i] - sigma_t[i]) / step * math.sqrt(2.0) / sigma_t[i]
    fisher_spread[:, :] = derivative.T @ derivative


def load(path: str, limit: int | None) -> tuple[np.ndarray, np.ndarray, dict, dict, DetectorConfiguration]:
    """Event ids, CSR offsets, hits and event columns of the first ``limit`` events, and
    the file's detector configuration."""
    batches = []
    for batch in read_events(path):
        batches.append(batch)
        if limit is not None and sum(b.event_id.size for b in batches) >= limit:
            break
    offsets, hits, events = concatenated(batches)
    event_id = np.concatenate([batch.event_id for batch in batches])
    if limit is not None and limit < event_id.size:
        last = offsets[limit]
        event_id, offsets = event_id[:limit], offsets[:limit + 1]
        hits = {name: values[:last] for name, values in hits.items()}
        events = {name: values[:limit] for name, values in events.items()}
    return event_id, offsets, hits, events, batches[0].configuration


def study_events(offsets: np.ndarray, hits: dict, events: dict, chosen: np.ndarray) -> dict[str, np.ndarray]:
    """Per chosen event: true (ux, uy), the two fits' (ux, uy) and the Fisher matrices."""
    positions = counter_positions()
    ids = counter_ids()
    order = np.argsort(ids)
    log10_ev = np.log10(events["true_energy"]) + EV_PER_GEV
    curvature = np.exp(depth_shift(events["true_xmax"], log10_ev, events["true_zenith"]) / CURVATURE_DEPTH)
    rows = np.flatnonzero(chosen)
    out = {"true": np.empty((rows.size, 2)), "fits": np.empty((rows.size, 4)),
           "time": np.empty((rows.size, N_PARAMS, N_PARAMS)), "ldf": np.empty((rows.size, N_PARAMS, N_PARAMS)),
           "spread": np.empty((rows.size, N_PARAMS, N_PARAMS)), "saturated": np.zeros(rows.size, np.int64)}
    for k, e in enumerate(rows):
        lo, hi = offsets[e], offsets[e + 1]
        shower = hits["true_label"][lo:hi] == 1
        counter = order[np.searchsorted(ids, hits["channel"][lo:hi][shower], sorter=order)]
        upper, lower = (hits[name][lo:hi][shower].astype(np.float64) for name in ("signal_upper", "signal_lower"))
        zenith, azimuth = events["true_zenith"][e], events["true_azimuth"][e]
        p = np.zeros(N_PARAMS)
        p[UX], p[UY] = math.sin(zenith) * math.cos(azimuth), math.sin(zenith) * math.sin(azimuth)
        p[LOG_S800], p[CURVATURE] = math.log(events["true_s800"][e]), curvature[e]
        core = np.array([events["true_core_x"][e], events["true_core_y"][e], 0.0])
        # silent counters: no shower hit, within the farthest counter's axis distance + a grid step
        far = max(_axis_frame(p, *(positions[c] - core))[0] for c in counter)
        silent = np.setdiff1d(np.arange(len(positions)), counter)
        silent = silent[[_axis_frame(p, *(positions[c] - core))[0] <= far + ZERO_MARGIN for c in silent]]
        n, m = counter.size, counter.size + silent.size
        local = positions[np.concatenate([counter, silent])] - core
        t = np.zeros(m)
        t[:n] = hits["t"][lo:hi][shower] - hits["t"][lo:hi][shower].min()
        rho = np.zeros(m)
        rho[:n] = 0.5 * (upper + lower) / LAYER_AREA
        sigma_rho = np.full(m, ZERO_SIGMA)
        sigma_rho[:n] = np.sqrt(LDF_VARIANCE_LINEAR * rho[:n] + LDF_VARIANCE_QUADRATIC * rho[:n] ** 2) + 1e-9
        unsaturated = (upper < SATURATION_VEM) & (lower < SATURATION_VEM)
        in_ldf = np.concatenate([unsaturated, np.ones(silent.size, dtype=bool)])
        in_time = np.arange(m) < n
        out["saturated"][k] = n - unsaturated.sum()
        out["true"][k] = p[UX], p[UY]
        _event_study(np.ascontiguousarray(local[:, 0]), np.ascontiguousarray(local[:, 1]),
                     np.ascontiguousarray(local[:, 2]), t, rho, sigma_rho, in_ldf, in_time, p, out["fits"][k],
                     out["time"][k], out["ldf"][k], out["spread"][k])
    return out


def axis_angles(true: np.ndarray, ux: np.ndarray, uy: np.ndarray) -> np.ndarray:
    """Angles (deg) between the true axes (n, 2: ux, uy) and axes (ux, uy) (n or (n, k));
    horizontal components beyond the unit circle count as 180 deg."""
    true_uz = np.sqrt(1.0 - true[:, 0] ** 2 - true[:, 1] ** 2)
    if ux.ndim == 2:
        true, true_uz = true[:, None, :], true_uz[:, None]
    sin2 = ux ** 2 + uy ** 2
    uz = np.sqrt(np.clip(1.0 - sin2, 0.0, None))
    cos = np.clip(ux * true[..., 0] + uy * true[..., 1] + uz * true_uz, -1.0, 1.0)
    cross2 = np.clip(1.0 - cos ** 2, 0.0, None)
    return np.where(sin2 < 1.0, np.degrees(np.arctan2(np.sqrt(cross2), cos)), 180.0)


def bound_angles(true: np.ndarray, fisher: np.ndarray, free: list[int], rng: np.random.Generator,
                 deviates: int) -> np.ndarray:
    """(n, deviates) angles (deg) drawn from the CRB of (ux, uy) with the ``free``
    parameters (UX, UY first); events with a singular Fisher matrix get 180 deg."""
    block = fisher[:, free][:, :, free]
    angles = np.full((true.shape[0], deviates), 180.0)
    for k in range(true.shape[0]):
        scale = np.sqrt(np.clip(np.diag(block[k]), 1e-300, None))  # equilibrate before inverting
        try:
            inverse = np.linalg.inv(block[k] / np.outer(scale, scale)) / np.outer(scale, scale)
        except np.linalg.LinAlgError:
            continue
        values, vectors = np.linalg.eigh(inverse[:2, :2])
        if not np.all(np.isfinite(values)) or values.min() < 0.0:
            continue
        draws = rng.standard_normal((deviates, 2)) * np.sqrt(values) @ vectors.T
        angles[k] = axis_angles(true[k:k + 1], true[k, 0] + draws[None, :, 0], true[k, 1] + draws[None, :, 1])[0]
    return angles


def q68(angles: np.ndarray) -> float | None:
    angles = angles[np.isfinite(angles)]
    return round(float(np.quantile(angles, 0.68)), 3) if angles.size else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events_file", help="TA SD event file with truth (true_xmax, true_s800 included)")
    parser.add_argument("--reco", help="graphreco reconstruct --detector ta-sd output of the same file")
    parser.add_argument("--events", type=int, help="only the first N events of the file")
    parser.add_argument("--deviates", type=int, default=200, help="Gaussian draws per event for the CRB angles")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    event_id, offsets, hits, events, configuration = load(args.events_file, args.events)
    sizes = np.diff(offsets)
    c = {name: events[name] for name in ("true_energy", "true_zenith")}
    c["shower_counters"] = np.bincount(np.repeat(np.arange(sizes.size), sizes), hits["true_label"] == 1,
                                       minlength=sizes.size)
    c["edge_distance"] = distance_to_edge(events["true_core_x"], events["true_core_y"], configuration)
    chosen = selected(c, DETECTOR.shower_cuts)
    truth = {name: events[name][chosen] for name in ("true_zenith", "true_azimuth")}
    standard = reconstruct_classically(offsets, hits, configuration)
    errors = {"standard_fit": np.degrees(angular_error(truth, {name: standard[name][chosen]
                                                              for name in ("reco_zenith", "reco_azimuth")}))}
    if args.reco:
        reco = pq.read_table(args.reco, columns=["event_id", "reco_zenith", "reco_azimuth"])
        rows = reco_rows(reco.column("event_id").to_numpy(), event_id[chosen], args.reco)
        errors["chain"] = np.degrees(angular_error(truth, {name: reco.column(name).to_numpy()[rows]
                                                          for name in ("reco_zenith", "reco_azimuth")}))

    study = study_events(offsets, hits, events, chosen)
    fits = study["fits"]
    errors["oracle_fit"] = axis_angles(study["true"], fits[:, 0], fits[:, 1])
    errors["truth_start_fit"] = axis_angles(study["true"], fits[:, 2], fits[:, 3])
    rng = np.random.default_rng(args.seed)
    full = [UX, UY, CORE_X, CORE_Y, T0, LOG_S800, CURVATURE]
    fixed = [UX, UY, T0, LOG_S800]
    prior = np.zeros((N_PARAMS, N_PARAMS))
    prior[CORE_X, CORE_X] = prior[CORE_Y, CORE_Y] = 1.0 / CORE_PRIOR ** 2
    both = study["time"] + study["ldf"]
    bounds = {"crb": bound_angles(study["true"], both, full, rng, args.deviates),
              "crb_cog_prior": bound_angles(study["true"], both + prior, full, rng, args.deviates),
              "crb_spread_info": bound_angles(study["true"], both + study["spread"], full, rng, args.deviates),
              "crb_nuisances_fixed": bound_angles(study["true"], both, fixed, rng, args.deviates),
              "crb_nuisances_fixed_time_only": bound_angles(study["true"], study["time"], [UX, UY, T0], rng,
                                                            args.deviates)}

    log10_ev = np.log10(events["true_energy"][chosen]) + EV_PER_GEV
    bins = {"all": np.ones(log10_ev.size, dtype=bool)}
    for low, high in zip(ENERGY_BIN_EDGES[:-1], ENERGY_BIN_EDGES[1:]):
        bins[f"{low:g}-{high:g}"] = (log10_ev >= low) & (log10_ev < high)
    report = {"file": args.events_file, "events_read": int(event_id.size), "selected": int(chosen.sum()),
              "deviates_per_event": args.deviates,
              "events_with_saturated_counters": int(np.sum(study["saturated"] > 0)),
              "events_with_5_counters": int(np.sum(c["shower_counters"][chosen] == 5)), "bins": {}}
    for label, mask in bins.items():
        entry = {"events": int(mask.sum())}
        for name in ("standard_fit", "chain"):
            if name in errors:
                done = np.isfinite(errors[name][mask])
                entry[f"{name}_q68_deg"] = q68(errors[name][mask])
                entry[f"{name}_reconstructed"] = round(float(done.mean()), 4)
        for name in ("oracle_fit", "truth_start_fit"):
            entry[f"{name}_q68_deg"] = q68(errors[name][mask])
        for name, angles in bounds.items():
            entry[f"{name}_q68_deg"] = q68(angles[mask].ravel())
            entry[f"{name}_event_cone_median_deg"] = round(float(np.median(np.quantile(angles[mask], 0.68, axis=1))), 3)
            entry[f"{name}_singular"] = int(np.sum(angles[mask].min(axis=1) >= 180.0))
        if entry.get("standard_fit_q68_deg"):
            entry["crb_over_standard_fit"] = round(entry["crb_q68_deg"] / entry["standard_fit_q68_deg"], 3)
            entry["crb_nuisances_fixed_over_standard_fit"] = round(
                entry["crb_nuisances_fixed_q68_deg"] / entry["standard_fit_q68_deg"], 3)
        report["bins"][label] = entry
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
