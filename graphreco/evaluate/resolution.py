"""Direction and energy resolution, with the coverage of the reported uncertainties.

Inputs are column dictionaries in the event format: truth (``true_zenith``,
``true_azimuth``, ``true_energy``; optionally ``signal_hits``, the number of signal hits
of each event) and a reconstruction (``reco_zenith``, ``reco_azimuth``,
``reco_angle_sigma``, ``reco_log10_energy``, ``reco_log10_energy_sigma``). Events a
method did not reconstruct (NaN) count against its ``reconstructed_fraction`` and are
left out of its resolutions. Figures come with their statistical errors (``measured``):
binomial for fractions and coverages, order statistics for medians and quantiles, the
bootstrap for resolutions.
"""

from __future__ import annotations

import numpy as np

from ..statistics import bootstrap_error, coverage, half_width, opening_angle, quantile_error, unit_vectors
from .measured import fraction, measured

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
    """Median and 68 % quantile of angular ``errors`` (rad) in degrees, with their errors."""
    if errors.size == 0:
        return {"median_deg": None, "q68_deg": None}
    degrees = np.degrees(errors)
    return {**measured("median_deg", float(np.median(degrees)), quantile_error(degrees, 0.5), 3),
            **measured("q68_deg", float(np.quantile(degrees, 0.68)), quantile_error(degrees, 0.68), 3)}


def reconstructed(done: np.ndarray) -> dict:
    """``reconstructed_fraction`` of the events, ``done`` (bool, one per event), with its error."""
    return fraction("reconstructed_fraction", float(done.mean()), done.size) if done.size \
        else {"reconstructed_fraction": None}


def _cone_coverage(errors: np.ndarray, sigma: np.ndarray) -> dict:
    """``coverage_68_cone`` of angular ``errors`` by the cones ``sigma`` (rad), with its error."""
    return fraction("coverage_68_cone", coverage(errors, sigma), errors.size)


def direction_report(truth: dict, reco: dict) -> dict:
    """Median and 68 % angular error (degrees), overall and in bins of signal hits, and
    the fraction of events inside their reported 68 % cone (where one is reported), each
    with its ``_error``."""
    errors = angular_error(truth, reco)
    done = np.isfinite(errors)
    report = {"events": int(errors.size), **reconstructed(done), **_quantiles_deg(errors[done])}
    sigma = np.asarray(reco.get("reco_angle_sigma", np.full(errors.size, np.nan)), dtype=np.float64)
    with_sigma = done & np.isfinite(sigma)
    if with_sigma.any():
        report |= _cone_coverage(errors[with_sigma], sigma[with_sigma])
    if "signal_hits" in truth:
        report["by_signal_hits"] = {}
        for low, high in SIGNAL_HIT_BINS:
            in_bin = (truth["signal_hits"] >= low) & (truth["signal_hits"] <= (high if high is not None else np.inf))
            label = f"{low}-{high}" if high is not None else f">={low}"
            entry = {"events": int(in_bin.sum()), **reconstructed(done[in_bin]),
                     **_quantiles_deg(errors[in_bin & done])}
            if (in_bin & with_sigma).any():
                entry |= _cone_coverage(errors[in_bin & with_sigma], sigma[in_bin & with_sigma])
            report["by_signal_hits"][label] = entry
    return report


def energy_report(truth: dict, reco: dict) -> dict:
    """log10-energy bias (median residual), resolution (half the central 68 % interval
    of the residual) and the 1-sigma coverage, each with its ``_error``, and the pull
    width of the reported sigma."""
    residual = np.asarray(reco["reco_log10_energy"], dtype=np.float64) - np.log10(truth["true_energy"])
    sigma = np.asarray(reco["reco_log10_energy_sigma"], dtype=np.float64)
    done = np.isfinite(residual) & np.isfinite(sigma)
    if not done.any():
        return {"events": int(residual.size), "reconstructed_fraction": 0.0}
    residual, sigma = residual[done], sigma[done]
    return {"events": int(done.size), **reconstructed(done),
            **measured("bias_log10", float(np.median(residual)), quantile_error(residual, 0.5), 4),
            **measured("resolution_log10", half_width(residual), bootstrap_error(half_width, residual), 4),
            **fraction("coverage_1_sigma", coverage(residual, sigma), residual.size),
            "pull_width": round(half_width(residual / sigma), 4)}
