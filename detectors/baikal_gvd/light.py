"""Expected photo-electrons and direct-light arrival times at Baikal-GVD optical modules.

Two kinds of light source, both evaluated per module in numba:

* A muon track emits Cherenkov light on a cone of half-angle theta_c around its
  direction. A module at perpendicular distance d sees photons emitted d / tan(theta_c)
  before the point of closest approach, after a path d / sin(theta_c):
  ``t = t0 + (l - d / tan(theta_c)) / c + (d / sin(theta_c)) / v_group`` and
  ``mu = TRACK_YIELD * a(cos) / d * exp(-path / lambda_abs)``: the cone spreads over a
  cylinder (1/d) and is absorbed along the photon path.
* A point cascade (a neutrino-induced shower or a muon's stochastic loss) emits
  ``CASCADE_YIELD`` photo-electron-metre^2 per GeV, spread as ``1 / r**2``, absorbed,
  with an angular profile peaked at the Cherenkov angle around the shower axis.

Yields (from the photon counts and the module's effective area): 250 Cherenkov photons per
cm of track in 300-600 nm (Frank-Tamm), ~1.2e5 photons per GeV of electromagnetic shower
energy (track-length integral), and a Hamamatsu R7081-100 10-inch photomultiplier with
~0.015 m^2 effective area (photocathode area times quantum efficiency, Baikal-GVD optical
module: Avrorin et al., NIM A 742 (2014) 82). That gives ~90 p.e. m for a track (photon
flux 25000 / (2 pi d sin theta_c) per m^2) and ~143 p.e. m^2 per GeV for a cascade
(1.2e5 * 0.015 / 4 pi). Muon light from secondaries below the explicit stochastic-loss
cut (delta rays, small losses) raises the bare-muon yield by ~20 %.

Modules look downward; the acceptance for a photon travelling with vertical direction
cosine ``c`` (c = 1: moving straight up into the photocathode) is
``0.1 + 0.9 * ((1 + c) / 2) ** 2``, from ~1 head-on to 0.1 from behind.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .water import CHERENKOV_ANGLE, GROUP_VELOCITY, SPEED_OF_LIGHT

TRACK_YIELD = 90.0 * 1.2  # p.e. m, head-on module
CASCADE_YIELD = 143.0  # p.e. m^2 / GeV, head-on module
MIN_DISTANCE = 0.5  # m: distances are clipped here (the module's own size)
COS_CHERENKOV = math.cos(CHERENKOV_ANGLE)
SIN_CHERENKOV = math.sin(CHERENKOV_ANGLE)
TAN_CHERENKOV = math.tan(CHERENKOV_ANGLE)


@numba.njit(inline="always")
def acceptance(direction_z: float) -> float:
    """Relative acceptance of a downward-looking module for a photon moving with vertical
    direction cosine ``direction_z``."""
    half = 0.5 * (1.0 + direction_z)
    return 0.1 + 0.9 * half * half


PROFILE_WIDTH = 0.35
_cos_grid = np.linspace(-1.0, 1.0, 20001)
PROFILE_PEAK_MEAN = float(np.mean(np.exp(-(((_cos_grid - COS_CHERENKOV) / PROFILE_WIDTH) ** 2))))
"""Mean of the Gaussian term over the sphere (uniform in cos), so the profile averages 1."""


@numba.njit(inline="always")
def cascade_profile(cos_angle: float) -> float:
    """Angular emission profile of a shower around its axis, mean 1 over the sphere:
    a Gaussian in cos(angle) of width 0.35 at the Cherenkov angle plus an isotropic 25 %."""
    peak = math.exp(-(((cos_angle - COS_CHERENKOV) / PROFILE_WIDTH) ** 2))
    return 0.25 + 0.75 * peak / PROFILE_PEAK_MEAN


@numba.njit(inline="always")
def cherenkov_geometry(px, py, pz, x0, y0, z0, ux, uy, uz):
    """Where direct Cherenkov light from a track (through x0, y0, z0, along unit u) to the
    module at (px, py, pz) starts: the module's distance d from the track (m, at least
    MIN_DISTANCE), the emission point along the track (m from x0) and the photon path (m);
    plus the unit vector from the track to the module (wx, wy, wz)."""
    vx, vy, vz = px - x0, py - y0, pz - z0
    along = vx * ux + vy * uy + vz * uz
    wx, wy, wz = vx - along * ux, vy - along * uy, vz - along * uz
    d = max(math.sqrt(wx * wx + wy * wy + wz * wz), MIN_DISTANCE)
    return d, along - d / TAN_CHERENKOV, d / SIN_CHERENKOV, wx / d, wy / d, wz / d


@numba.njit(inline="always")
def cherenkov_time(emitted, path):
    """Arrival time (ns after the track passed x0) of direct light emitted ``emitted`` m
    along the track after a photon path of ``path`` m: the muon at c, the light at v_group."""
    return emitted / SPEED_OF_LIGHT + path / GROUP_VELOCITY


@numba.njit(inline="always")
def track_light(px, py, pz, x0, y0, z0, ux, uy, uz, t0, s_end, absorption):
    """Expected p.e., arrival time (ns) and photon path (m) at module (px, py, pz) from a
    muon passing (x0, y0, z0) at time t0 moving along unit vector u, that stops s_end
    metres after that point. Zero light if the emission point lies beyond the stop."""
    d, emitted, path, _, _, outward_z = cherenkov_geometry(px, py, pz, x0, y0, z0, ux, uy, uz)
    if emitted > s_end:
        return 0.0, 0.0, 0.0
    # photon direction: along the track by cos(theta_c), outwards by sin(theta_c)
    direction_z = COS_CHERENKOV * uz + SIN_CHERENKOV * outward_z
    mu = TRACK_YIELD * acceptance(direction_z) / d * math.exp(-path / absorption)
    return mu, t0 + cherenkov_time(emitted, path), path


@numba.njit(inline="always")
def cascade_light(px, py, pz, x0, y0, z0, ux, uy, uz, t0, energy, absorption):
    """Expected p.e., arrival time (ns) and path (m) at module (px, py, pz) from a shower
    of ``energy`` GeV at (x0, y0, z0), time t0, axis u."""
    vx, vy, vz = px - x0, py - y0, pz - z0
    r = max(math.sqrt(vx * vx + vy * vy + vz * vz), MIN_DISTANCE)
    cos_angle = (vx * ux + vy * uy + vz * uz) / r
    mu = CASCADE_YIELD * energy * cascade_profile(cos_angle) * acceptance(vz / r) / (r * r) * math.exp(-r / absorption)
    return mu, t0 + r / GROUP_VELOCITY, r


@numba.njit(parallel=True, cache=True)
def module_light(modules, layout, tracks, track_offsets, cascades, cascade_offsets, absorption, mu, time, path,
                 label):
    """For every event and module, two light components: 0, muon tracks (direct Cherenkov
    light, the earliest any light from a track can arrive) and 1, point cascades. Each
    gets the summed expected p.e. ``mu`` and the arrival time, photon path and truth
    label of its brightest source.

    ``modules`` (L, M, 3): positions (m) of the modules of L layouts; event e sees
    layout ``layout[e]``; ``tracks`` (T, 9): x0, y0, z0, ux, uy, uz, t0, s_end, label;
    ``cascades`` (C, 9): x, y, z, ux, uy, uz, t0, energy, label; both CSR per event.
    Outputs have shape (2, n_events, M).
    """
    n_modules = modules.shape[1]
    for e in numba.prange(track_offsets.shape[0] - 1):
        for m in range(n_modules):
            px, py, pz = modules[layout[e], m, 0], modules[layout[e], m, 1], modules[layout[e], m, 2]
            for component in range(2):
                sources = tracks if component == 0 else cascades
                offsets = track_offsets if component == 0 else cascade_offsets
                total, best = 0.0, 0.0
                best_time, best_path, best_label = 0.0, 0.0, 0
                for s in range(offsets[e], offsets[e + 1]):
                    src = sources[s]
                    if component == 0:
                        value, t, p = track_light(px, py, pz, src[0], src[1], src[2], src[3], src[4], src[5],
                                                  src[6], src[7], absorption)
                    else:
                        value, t, p = cascade_light(px, py, pz, src[0], src[1], src[2], src[3], src[4], src[5],
                                                    src[6], src[7], absorption)
                    total += value
                    if value > best:
                        best, best_time, best_path, best_label = value, t, p, int(src[8])
                mu[component, e, m] = total
                time[component, e, m] = best_time
                path[component, e, m] = best_path
                label[component, e, m] = best_label


def direction_vector(zenith: np.ndarray, azimuth: np.ndarray) -> np.ndarray:
    """Unit vectors (n, 3) of motion for particles coming from (zenith, azimuth) (rad):
    zenith 0 comes from straight above, so it moves straight down."""
    sin_zenith = np.sin(zenith)
    return -np.stack([sin_zenith * np.cos(azimuth), sin_zenith * np.sin(azimuth), np.cos(zenith)], axis=1)
