"""Air-shower shapes at the Telescope Array site: lateral distribution and shower front.

These are the functional forms the TA surface-detector reconstruction fits (Abu-Zayyad et
al., "The cosmic-ray energy spectrum observed with the surface detector of the Telescope
Array experiment", ApJ 768 (2013) L1; D. Ivanov, PhD thesis, Rutgers 2012), so the
simulation and the standard fit share them:

- Lateral distribution (AGASA form, Takeda et al., Astropart. Phys. 19 (2003) 447, with
  the TA constants): ``rho(r) ~ (r/R_M)^-1.2 (1 + r/R_M)^-(eta - 1.2) (1 + (r/1 km)^2)^-0.6``
  with the Moliere radius R_M = 91.6 m at the TA altitude and the zenith-dependent slope
  ``eta = 3.97 - 1.79 (sec(theta) - 1)`` (AGASA) up to 62.7 deg.
- Shower-front delay and thickness behind the tangent plane at the core (Linsley's form
  as modified by AGASA, Teshima et al., J. Phys. G 12 (1986) 1097, and used by TA):
  ``t_d = 0.67 ns (1 + r/R_L)^1.5 rho^-0.5`` and ``sigma_t = 1.3 * 0.29 ns (1 + r/R_L)^1.5
  rho^-0.3`` with R_L = 25 m (LINSLEY_r0 of the sdanalysis fitting code; other TA programs
  use 30 m) and rho in VEM/m^2.

Distances ``r`` are measured in the shower plane (perpendicular to the axis), in metres.
"""

from __future__ import annotations

import numpy as np

MOLIERE_RADIUS = 91.6  # m, at the TA altitude (1,400 m a.s.l., ~880 g/cm^2)
INNER_SLOPE = 1.2
OUTER_SCALE = 1000.0  # m
OUTER_SLOPE = 0.6
ETA_VERTICAL, ETA_SEC_SLOPE = 3.97, 1.79
LINSLEY_RADIUS = 25.0  # m
LINSLEY_DELAY = 0.67  # ns (VEM/m^2)^0.5
LINSLEY_SPREAD = 1.3 * 0.29  # ns (VEM/m^2)^0.3
REFERENCE_DISTANCE = 800.0  # m: S800, the density at 800 m from the axis
SPEED_OF_LIGHT = 0.299792458  # m/ns


def ldf_slope(zenith: np.ndarray | float) -> np.ndarray:
    """The AGASA slope ``eta(theta)`` (dimensionless), zenith in rad, valid up to 62.7 deg."""
    return ETA_VERTICAL - ETA_SEC_SLOPE * (1.0 / np.cos(zenith) - 1.0)


def ldf_shape(r: np.ndarray, zenith: np.ndarray | float, slope_shift: np.ndarray | float = 0.0) -> np.ndarray:
    """Lateral distribution normalised to 1 at 800 m: ``rho(r) / rho(800 m)``.

    ``r`` in m from the axis in the shower plane (clipped at 1 m), zenith in rad;
    ``slope_shift`` adds to eta (a shower's own deviation from the mean slope).
    """
    eta = ldf_slope(zenith) + slope_shift

    def unnormalised(distance):
        x = distance / MOLIERE_RADIUS
        return (x ** -INNER_SLOPE * (1.0 + x) ** -(eta - INNER_SLOPE)
                * (1.0 + (distance / OUTER_SCALE) ** 2) ** -OUTER_SLOPE)

    return unnormalised(np.maximum(r, 1.0)) / unnormalised(REFERENCE_DISTANCE)


def front_delay(r: np.ndarray, density: np.ndarray) -> np.ndarray:
    """Mean delay (ns) of the shower front behind the tangent plane through the core, at
    ``r`` m from the axis where the particle density is ``density`` VEM/m^2."""
    return LINSLEY_DELAY * (1.0 + r / LINSLEY_RADIUS) ** 1.5 * np.maximum(density, 1e-3) ** -0.5


def front_spread(r: np.ndarray, density: np.ndarray) -> np.ndarray:
    """RMS (ns) of the arrival time of the first particles around :func:`front_delay`."""
    return LINSLEY_SPREAD * (1.0 + r / LINSLEY_RADIUS) ** 1.5 * np.maximum(density, 1e-3) ** -0.3


def axis_vector(zenith: np.ndarray | float, azimuth: np.ndarray | float) -> np.ndarray:
    """Unit vector(s) pointing to where the shower comes from (``(..., 3)``, z up)."""
    zenith, azimuth = np.broadcast_arrays(np.asarray(zenith, dtype=float), np.asarray(azimuth, dtype=float))
    return np.stack([np.sin(zenith) * np.cos(azimuth), np.sin(zenith) * np.sin(azimuth), np.cos(zenith)], axis=-1)


def shower_frame(x: np.ndarray, y: np.ndarray, z: np.ndarray, core_x: float, core_y: float,
                 zenith: float, azimuth: float) -> tuple[np.ndarray, np.ndarray]:
    """For counters at (x, y, z) m: distance from the axis ``r`` (m) and the plane-front
    arrival time relative to the core's (ns, positive = later), for a shower that hits
    the ground at (core_x, core_y, 0) coming from (zenith, azimuth)."""
    axis = axis_vector(zenith, azimuth)
    dx, dy, dz = x - core_x, y - core_y, z
    along = dx * axis[0] + dy * axis[1] + dz * axis[2]  # m towards the source
    r = np.sqrt(np.maximum(dx * dx + dy * dy + dz * dz - along * along, 0.0))
    return r, -along / SPEED_OF_LIGHT
