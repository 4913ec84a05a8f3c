"""Direction and energy resolution, with the coverage of the reported uncertainties.

Inputs are column dictionaries in the event format: truth (``true_zenith``,
``true_azimuth``, ``true_energy``; optionally ``signal_hits``, the number of signal hits
of each event) and a reconstruction (``reco_zenith``, ``reco_azimuth``,
``reco_angle_sigma``, ``reco_log10_energy``, ``reco_log10_energy_sigma``). Events a
method did not reconstruct (NaN) count against its ``reconstructed_fraction`` and are
left out of its resolutions.
"""

from __future__ import annotations

import numpy as np

from ..statistics import ONE_SIGMA, coverage, opening_angle, unit_vectors

SIGNAL_HIT_BINS = ((1, 9), (10, 19), (20, None), (10, None))
"""Bins of signal hits (inclusive; None: no upper edge) for the angular resolution."""


def signal_hits(offsets: np.ndarray, true_label: np.ndarray) -> np.ndarray:
    """Number of hits with ``true_label > 0`` in each event of CSR ``offsets``."""
    sizes = np.diff(offsets)
    return np.bincount(np.repeat(np.arange(sizes.size), sizes), true_label > 0, minlength=sizes.size).astype(np.int64)


def angular_error(truth: dict, reco: dict) -> np.ndarray:
    """Angle between true and reconstructed directions (rad); NaN where not reconstructed."""
    return opening_angle(unit_vectors(truth["true_zenith"], truth["true_azimuth"]),
                         unit_vectors(reco["reco_zenith"], reco["reco_azimuth"]))


def _quantiles_deg(errors: np.ndarray) -> dict:
    if errors.size == 0:
        return {"median_deg": None, "q68_deg": None}
    return {"median_deg": round(float(np.degrees(np.median(errors))), 3),
            "q68_deg": round(float(np.degrees(np.quantile(errors, 0.68))), 3)}


def direction_report(truth: dict, reco: dict) -> dict:
    """Median and 68 % angular error (degrees), overall and in bins of signal hits, and
    the fraction of events inside their reported 68 % cone (where one is reported)."""
    errors = angular_error(truth, reco)
    done = np.isfinite(errors)
    report = {"events": int(errors.size),
              "reconstructed_fraction": round(float(done.mean()), 4) if errors.size else None,
              **_quantiles_deg(errors[done])}
    sigma = np.asarray(reco.get("reco_angle_sigma", np.full(errors.size, np.nan)), dtype=np.float64)
    with_sigma = done & np.isfinite(sigma)
    if with_sigma.any():
        report["coverage_68_cone"] = round(coverage(errors[with_sigma], sigma[with_sigma]), 4)
    if "signal_hits" in truth:
        report["by_signal_hits"] = {}
        for low, high in SIGNAL_HIT_BINS:
            in_bin = (truth["signal_hits"] >= low) & (truth["signal_hits"] <= (high if high is not None else np.inf))
            label = f"{low}-{high}" if high is not None else f">={low}"
            entry = {"events": int(in_bin.sum()),
                     "reconstructed_fraction": round(float(done[in_bin].mean()), 4) if in_bin.any() else None,
                     **_quantiles_deg(errors[in_bin & done])}
            if with_sigma.any() and (in_bin & with_sigma).any():
                entry["coverage_68_cone"] = round(coverage(errors[in_bin & with_sigma], sigma[in_bin & with_sigma]), 4)
            report["by_signal_hits"][label] = entry
    return report


def energy_report(truth: dict, reco: dict) -> dict:
    """log10-energy bias (median residual), resolution (half the central 68 % interval
    of the residual) and the 1-sigma coverage and pull width of the reported sigma."""
    residual = np.asarray(reco["reco_log10_energy"], dtype=np.float64) - np.log10(truth["true_energy"])
    sigma = np.asarray(reco["reco_log10_energy_sigma"], dtype=np.float64)
    done = np.isfinite(residual) & np.isfinite(sigma)
    if not done.any():
        return {"events": int(residual.size), "reconstructed_fraction": 0.0}
    residual, sigma = residual[done], sigma[done]
    low, high = np.quantile(residual, [0.5 - ONE_SIGMA / 2, 0.5 + ONE_SIGMA / 2])
    pull = residual / sigma
    pull_low, pull_high = np.quantile(pull, [0.5 - ONE_SIGMA / 2, 0.5 + ONE_SIGMA / 2])
    return {"events": int(done.size), "reconstructed_fraction": round(float(done.mean()), 4),
            "bias_log10": round(float(np.median(residual)), 4), "resolution_log10": round(float((high - low) / 2), 4),
            "coverage_1_sigma": round(coverage(residual, sigma), 4),
            "pull_width": round(float((pull_high - pull_low) / 2), 4)}
