"""Directions on the sphere around a point estimate: the tangent-plane chart the posterior
flow lives in, credible regions from samples, and HEALPix maps.

The chart is the azimuthal equidistant projection about a centre direction: a direction
at opening angle r (rad) from the centre, in bearing b, sits at r (cos b, sin b), where
bearing 0 points to larger zenith (the unit vector d(direction)/d(zenith)) and bearing
pi/2 to larger azimuth. Its only singular point is the centre's antipode, far from where
a reconstructed event's truth lies. Densities convert by the area ratio: a density p on
the plane (per rad^2) is p r / sin(r) on the sphere (per sr).

Credible regions are highest-posterior-density (HPD) regions: the smallest region that
holds a probability alpha. Given independent samples and the density at them, a point's
HPD level (the smallest alpha whose region holds it) is the fraction of samples denser
than it, and the region's area is the mean of 1 / density over the samples inside it
(importance sampling from the posterior itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .extras import require
from .statistics import opening_angle, unit_vectors, zenith_azimuth

POSTERIOR_COLUMNS = ("reco_posterior_zenith", "reco_posterior_azimuth", "reco_posterior_log10_energy")
"""The event format's posterior columns: joint samples of zenith, azimuth (rad) and log10
E (log10 GeV), one list per event."""


def local_basis(zenith: np.ndarray, azimuth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre unit vectors and the chart's two axes at them, each (n, 3), of centres at
    ``zenith``, ``azimuth`` (rad, (n,)): towards larger zenith, towards larger azimuth."""
    centre = unit_vectors(zenith, azimuth)
    towards_zenith = np.stack([np.cos(zenith) * np.cos(azimuth), np.cos(zenith) * np.sin(azimuth),
                               -np.sin(zenith)], axis=-1)
    towards_azimuth = np.stack([-np.sin(azimuth), np.cos(azimuth), np.zeros_like(azimuth)], axis=-1)
    return centre, towards_zenith, towards_azimuth


def to_chart(zenith: np.ndarray, azimuth: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Chart coordinates (..., n, 2) rad of unit vectors ``directions`` (..., n, 3) about
    the centres at ``zenith``, ``azimuth`` (n,)."""
    centre, axis_zenith, axis_azimuth = local_basis(zenith, azimuth)
    along = np.stack([np.sum(directions * axis_zenith, axis=-1), np.sum(directions * axis_azimuth, axis=-1)], axis=-1)
    angle = opening_angle(directions, centre)
    norm = np.linalg.norm(along, axis=-1)
    return along * np.where(norm > 0, angle / np.where(norm > 0, norm, 1.0), 0.0)[..., None]


def from_chart(zenith: np.ndarray, azimuth: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zenith and azimuth (rad, azimuth in [0, 2 pi)) of chart coordinates ``offsets``
    (..., n, 2) rad about the centres at ``zenith``, ``azimuth`` (n,)."""
    centre, axis_zenith, axis_azimuth = local_basis(zenith, azimuth)
    angle = np.linalg.norm(offsets, axis=-1, keepdims=True)
    bearing = offsets / np.where(angle > 0, angle, 1.0)
    vectors = (np.cos(angle) * centre + np.sin(angle) * (bearing[..., :1] * axis_zenith
                                                         + bearing[..., 1:] * axis_azimuth))
    return zenith_azimuth(vectors)


def log_area_ratio(offsets: np.ndarray) -> np.ndarray:
    """log(r / sin r) of chart coordinates (..., 2) rad: what a log density per rad^2 on
    the chart gains to become one per sr on the sphere (r < pi)."""
    angle = np.minimum(np.linalg.norm(offsets, axis=-1), np.pi - 1e-6)
    return np.log(np.where(angle > 1e-8, angle / np.sin(np.maximum(angle, 1e-8)), 1.0))


def hpd_levels(sample_log_density: np.ndarray, point_log_density: np.ndarray) -> np.ndarray:
    """(events,) the HPD level of a point per event: the fraction of its samples (n,
    events) denser than the point's log density (events,); the point lies inside the
    alpha region when its level is below alpha."""
    return np.mean(sample_log_density > point_log_density[None, :], axis=0)


def hpd_areas(sample_log_density: np.ndarray, levels: tuple[float, ...]) -> np.ndarray:
    """(len(levels), events) sr: the area of each HPD region, from samples (n, events)
    of the posterior and their log densities per sr."""
    density = np.exp(sample_log_density - sample_log_density.max(axis=0))
    scale = np.exp(sample_log_density.max(axis=0))
    areas = []
    for level in levels:
        threshold = np.quantile(density, 1.0 - level, axis=0)
        areas.append(np.mean(np.where(density >= threshold, 1.0 / density, 0.0), axis=0) / scale)
    return np.asarray(areas)


def cone_area(radius: np.ndarray) -> np.ndarray:
    """Solid angle (sr) of cones of opening half-angle ``radius`` (rad)."""
    return 2 * np.pi * (1 - np.cos(np.minimum(radius, np.pi)))


def healpix_map(log_density: Callable[[np.ndarray, np.ndarray], np.ndarray], nside: int = 64) -> np.ndarray:
    """A HEALPix map (RING order, ``12 nside^2`` pixels) of a posterior: the probability
    in each pixel, from its density per sr at the pixel centres (``log_density(zenith,
    azimuth)``, rad), normalised to 1 over the sphere. The pixels' zenith is the
    detector's zenith (healpy's theta), the azimuth healpy's phi."""
    healpy = require("healpy", "posterior", "HEALPix maps")
    theta, phi = healpy.pix2ang(nside, np.arange(healpy.nside2npix(nside)))
    values = log_density(theta, phi)
    probability = np.exp(values - np.max(values))
    return probability / probability.sum()


def healpix_histogram(zenith: np.ndarray, azimuth: np.ndarray, nside: int = 64) -> np.ndarray:
    """A HEALPix map (RING order) of posterior samples (rad): the fraction of the samples
    in each pixel. Its credible areas (``credible_area``) are biased upwards by the
    pixels a finite sample leaves empty or sparse; the density's map (``healpix_map``) is
    not."""
    healpy = require("healpy", "posterior", "HEALPix maps")
    pixels = healpy.ang2pix(nside, np.asarray(zenith, dtype=np.float64), np.asarray(azimuth, dtype=np.float64))
    counts = np.bincount(pixels, minlength=healpy.nside2npix(nside)).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def credible_area(probability_map: np.ndarray, level: float) -> float:
    """Area (sr) of the smallest set of a HEALPix map's pixels (``healpix_map``) that
    holds ``level`` of its probability."""
    ordered = np.sort(probability_map)[::-1]
    pixels = int(np.searchsorted(np.cumsum(ordered), level)) + 1
    return 4 * np.pi * pixels / probability_map.size


@dataclass(frozen=True)
class EventPosterior:
    """One event's posterior: joint samples (rad, rad, log10 GeV; (n,) each) and its log
    density (``log_density``), with the HEALPix map and credible areas they give."""

    zenith: np.ndarray
    azimuth: np.ndarray
    log10_energy: np.ndarray
    density: Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray] = field(repr=False)

    def log_density(self, zenith: np.ndarray, azimuth: np.ndarray, log10_energy: np.ndarray | None = None
                    ) -> np.ndarray:
        """log density at directions ``zenith``, ``azimuth`` (rad, any shape): of the
        direction per sr, or with ``log10_energy`` (same shape) the joint density per sr
        and per decade of energy."""
        return self.density(np.asarray(zenith, dtype=np.float64), np.asarray(azimuth, dtype=np.float64),
                            None if log10_energy is None else np.asarray(log10_energy, dtype=np.float64))

    def healpix_map(self, nside: int = 64) -> np.ndarray:
        """The direction posterior as a HEALPix probability map from its density
        (``healpix_map``); ``healpix_histogram(self.zenith, self.azimuth)`` gives the
        samples' map."""
        return healpix_map(self.log_density, nside)

    def credible_areas(self, levels: tuple[float, ...] = (0.5, 0.68, 0.9)) -> np.ndarray:
        """Areas (sr) of the direction's HPD regions at ``levels``, from the samples and
        the exact density at them (``hpd_areas``)."""
        return hpd_areas(self.log_density(self.zenith, self.azimuth)[:, None], levels)[:, 0]
