"""Posterior samples scored against the truth: how often the truth lies inside the
highest-posterior-density (HPD) regions of the direction and the central intervals of
log10 E, and how large the 90 % direction regions are beside the point estimate's cone.

``graphreco evaluate`` has the samples of an output file (``reco_posterior_*``) but not
the flow's density, so it estimates the density at the samples and at the truth with a
Gaussian kernel density estimate in each event's tangent-plane chart (``sky.to_chart``
about the point estimate; the samples whitened by their own covariance, Scott's
bandwidth n^(-1/6), each sample left out of its own estimate). The smoothing widens the
regions a little; with the stage at hand the flow's exact density does the same job
(``stages.Posterior.log_density``), and both feed ``posterior_figures``.
"""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa

from ..sky import POSTERIOR_COLUMNS, cone_area, hpd_areas, hpd_levels, log_area_ratio, to_chart
from ..statistics import binomial_error, central_levels, opening_angle, unit_vectors

LEVELS = (0.5, 0.68, 0.9)
"""Credibility levels scored."""
AREA_LEVEL = 0.9
"""The level whose region's area is compared with the point estimate's cone."""
SQUARE_DEGREES = np.degrees(1.0) ** 2
"""deg^2 per sr."""


@numba.njit(parallel=True, cache=True)
def _kde_log_density(samples: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log density (per unit area of the chart) of a Gaussian KDE of each event's samples
    (events, n, 2) at its samples (leave-one-out) and at its point (events, 2)."""
    events, n = samples.shape[0], samples.shape[1]
    at_samples = np.full((events, n), np.nan)
    at_points = np.full(events, np.nan)
    bandwidth = n ** (-1.0 / 6.0)
    for e in numba.prange(events):
        v = samples[e]
        if not np.all(np.isfinite(v)) or not np.all(np.isfinite(points[e])):
            continue
        mean = np.array([v[:, 0].mean(), v[:, 1].mean()])
        d = v - mean
        c00 = np.mean(d[:, 0] ** 2) + 1e-18
        c01 = np.mean(d[:, 0] * d[:, 1])
        c11 = np.mean(d[:, 1] ** 2) + 1e-18
        l00 = np.sqrt(c00)
        l10 = c01 / l00
        l11 = np.sqrt(max(c11 - l10 ** 2, 1e-18))
        y = np.empty((n + 1, 2))
        for k in range(n + 1):
            px = v[k, 0] if k < n else points[e, 0]
            py = v[k, 1] if k < n else points[e, 1]
            y0 = (px - mean[0]) / l00
            y[k, 0] = y0
            y[k, 1] = (py - mean[1] - l10 * y0) / l11
        norm = -np.log(2 * np.pi * bandwidth ** 2 * l00 * l11)
        for j in range(n + 1):
            total = 0.0
            for k in range(n):
                if k != j:
                    total += np.exp(-0.5 * ((y[j, 0] - y[k, 0]) ** 2 + (y[j, 1] - y[k, 1]) ** 2) / bandwidth ** 2)
            value = np.log(max(total, 1e-300) / (n - 1 if j < n else n)) + norm
            if j < n:
                at_samples[e, j] = value
            else:
                at_points[e] = value
    return at_samples, at_points


def kde_log_densities(reco_zenith: np.ndarray, reco_azimuth: np.ndarray, sample_zenith: np.ndarray,
                      sample_azimuth: np.ndarray, zenith: np.ndarray, azimuth: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Estimated log density per sr of each event's direction posterior at its samples
    (events, n) and at a direction (events,), from samples (events, n) rad, in the chart
    about the point estimate ``reco_zenith``, ``reco_azimuth`` (events,)."""
    chart = to_chart(reco_zenith, reco_azimuth, np.swapaxes(unit_vectors(sample_zenith, sample_azimuth), 0, 1))
    point = to_chart(reco_zenith, reco_azimuth, unit_vectors(zenith, azimuth))
    samples = np.ascontiguousarray(np.swapaxes(chart, 0, 1))
    at_samples, at_points = _kde_log_density(samples, np.ascontiguousarray(point))
    return at_samples + log_area_ratio(samples), at_points + log_area_ratio(point)


def posterior_figures(direction_levels: np.ndarray, energy_levels: np.ndarray | None, areas: np.ndarray,
                      angle_error: np.ndarray, cone: np.ndarray) -> dict:
    """Coverage and size of the posteriors of one population.

    Args:
        direction_levels: (events,) each truth's HPD level (``sky.hpd_levels``).
        energy_levels: (events,) each true log10 E's central level (``central_levels``),
            or None.
        areas: (events,) sr, each event's 90 % HPD region.
        angle_error: (events,) rad, the point estimate's error.
        cone: (events,) rad, the point estimate's 68 % cone (``reco_angle_sigma``).
    Returns:
        ``coverage_<level %>``: the fraction of events whose truth lies inside the 50 /
        68 / 90 % HPD regions, each with its binomial ``_error``; ``energy_coverage_<level
        %>`` the same for the energy's central intervals; the median area of the 90 %
        regions (deg^2) beside that of the point estimate's cones scaled to hold exactly
        90 % of the same events, and their ratio.
    """
    n = int(direction_levels.size)
    if n == 0:
        return {"events": 0}
    scale = np.quantile(angle_error / cone, AREA_LEVEL)
    cone_median = float(np.median(cone_area(scale * cone)))
    area_median = float(np.median(np.minimum(areas, 4 * np.pi)))
    figures: dict = {"events": n}
    for prefix, levels in (("coverage", direction_levels), ("energy_coverage", energy_levels)):
        for level in LEVELS if levels is not None else ():
            fraction = float(np.mean(levels <= level))
            figures[f"{prefix}_{round(100 * level)}"] = round(fraction, 4)
            figures[f"{prefix}_{round(100 * level)}_error"] = round(binomial_error(fraction, n), 4)
    return figures | {"median_area_90_deg2": round(float(area_median * SQUARE_DEGREES), 3),
                      "median_cone_area_90_deg2": round(float(cone_median * SQUARE_DEGREES), 3),
                      "area_ratio_90": round(area_median / cone_median, 3)}


def posterior_levels(reco: dict[str, np.ndarray], truth_zenith: np.ndarray, truth_azimuth: np.ndarray,
                     truth_log10_energy: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """From an output's columns ``reco`` (``reco_zenith``, ``reco_azimuth`` (events,),
    ``reco_posterior_zenith``, ``reco_posterior_azimuth``, ``reco_posterior_log10_energy``
    (events, n)), each event's direction HPD level, energy central level (None without
    true energies) and 90 % region area (sr), by ``kde_log_densities``."""
    at_samples, at_truth = kde_log_densities(reco["reco_zenith"], reco["reco_azimuth"],
                                             reco["reco_posterior_zenith"], reco["reco_posterior_azimuth"],
                                             truth_zenith, truth_azimuth)
    levels = hpd_levels(at_samples.T, at_truth)
    energy = None if truth_log10_energy is None else central_levels(reco["reco_posterior_log10_energy"],
                                                                    truth_log10_energy)
    return levels, energy, hpd_areas(at_samples.T, (AREA_LEVEL,))[0]


def read_samples(reco: pa.Table) -> dict[str, np.ndarray]:
    """The posterior samples of an output table as (events, n) float64 arrays in its row
    order, by column name ({} for an output without them); rows without samples (an
    event without hits) are NaN."""
    samples = {}
    for name in POSTERIOR_COLUMNS:
        if name not in reco.column_names:
            continue
        column = reco.column(name).combine_chunks()
        lengths = column.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
        n = int(lengths.max()) if lengths.size else 0
        values = np.full((len(column), n), np.nan)
        full = lengths == n
        values[full] = column.filter(pa.array(full)).flatten().to_numpy(zero_copy_only=False).reshape(-1, n)
        samples[name] = values
    return samples


def population_figures(c: dict[str, np.ndarray], populations: dict[str, np.ndarray]) -> dict:
    """``{"gnn": {population: posterior_figures}}`` (the pipeline's, as the evaluation's
    other figures are keyed by method), per population (name -> bool mask over events) of the
    columns ``c``: the truth (``true_zenith``, ``true_azimuth``, ``true_energy`` GeV) and
    the output's ``gnn_reco_zenith``, ``gnn_reco_azimuth``, ``gnn_reco_angle_sigma`` and
    ``gnn_reco_posterior_*`` samples (events, n); events without samples are left out."""
    samples = {name: c[f"gnn_{name}"] for name in POSTERIOR_COLUMNS}
    usable = np.all(np.isfinite(samples[POSTERIOR_COLUMNS[0]]), axis=1) & np.isfinite(c["gnn_reco_angle_sigma"])
    report = {}
    for name, mask in populations.items():
        chosen = mask & usable
        reco = {column: c[f"gnn_{column}"][chosen] for column in ("reco_zenith", "reco_azimuth")} | \
            {column: values[chosen] for column, values in samples.items()}
        levels, energy, areas = posterior_levels(reco, c["true_zenith"][chosen], c["true_azimuth"][chosen],
                                                 np.log10(c["true_energy"][chosen]))
        error = opening_angle(unit_vectors(c["true_zenith"][chosen], c["true_azimuth"][chosen]),
                              unit_vectors(reco["reco_zenith"], reco["reco_azimuth"]))
        report[name] = posterior_figures(levels, energy, areas, error, c["gnn_reco_angle_sigma"][chosen])
    return {"gnn": report}
