"""Muons in water: energy loss, range, stochastic losses, and the atmospheric-muon bundles
that reach Baikal-GVD's depth.

Energy loss ``dE/dx = -(a + b E)`` with a = 0.26 GeV/m (ionisation) and b = 3.6e-4 /m
(bremsstrahlung, pair production, photonuclear) for water: Chirkin & Rhode,
hep-ph/0407075; PDG "Passage of particles through matter" (muon critical energy in water
~720 GeV = a / b). Stochastic losses are drawn as a compound Poisson process whose mean
is the radiative part ``b E``: loss fractions v log-uniform in [1e-3, 1] (the ~1/v shape
of bremsstrahlung and pair production), so losses occur at a rate b / <v> per metre.

Atmospheric muons at depth X (m water equivalent): their spectrum flattens to
``dN/dE ~ (E + eps (1 - exp(-b X)))**-3.7`` (Gaisser, "Cosmic Rays and Particle
Physics", eq. 8.x, surface spectral index 2.7 + 1), eps = a / b; their angular
distribution falls roughly as cos(zenith)**2.5 at ~1.1 km depth (the depth-intensity
relation, Bugaev et al., Phys. Rev. D 58 (1998) 054001); most arrive single, bundles
with a multiplicity tail P(m) ~ m**-2.6, muons spread by a few metres around the shower
axis (lateral rms ~8 m at 1 km, Baikal NT-200 bundle analyses).
"""

from __future__ import annotations

import numpy as np

IONISATION_LOSS = 0.26  # GeV/m
RADIATIVE_LOSS = 3.6e-4  # 1/m
CRITICAL_ENERGY = IONISATION_LOSS / RADIATIVE_LOSS  # GeV
MIN_LOSS_FRACTION = 1e-3
MEAN_LOSS_FRACTION = (1.0 - MIN_LOSS_FRACTION) / np.log(1.0 / MIN_LOSS_FRACTION)
MIN_STOCHASTIC_ENERGY = 1.0  # GeV: smaller losses are part of the continuous light
SITE_DEPTH = 1100.0  # m water equivalent, middle of the instrumented depth
BUNDLE_LATERAL_RMS = 8.0  # m


def energy_after(energy: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Muon energy (GeV) after ``distance`` metres (negative: before), 0 once stopped."""
    after = (energy + CRITICAL_ENERGY) * np.exp(-RADIATIVE_LOSS * distance) - CRITICAL_ENERGY
    return np.maximum(after, 0.0)


def muon_range(energy: np.ndarray) -> np.ndarray:
    """Distance (m) a muon of ``energy`` GeV travels before it stops."""
    return np.log1p(energy / CRITICAL_ENERGY) / RADIATIVE_LOSS


def stochastic_losses(rng: np.random.Generator, energy: np.ndarray, s_begin: float,
                      s_end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Radiative losses of muons with ``energy`` (GeV) at s = 0, between s_begin and
    s_end (m). Returns the muon index, the position s (m) and the energy (GeV) of each
    loss above ``MIN_STOCHASTIC_ENERGY``."""
    length = np.maximum(s_end - s_begin, 0.0)
    counts = rng.poisson(RADIATIVE_LOSS / MEAN_LOSS_FRACTION * length)
    muon = np.repeat(np.arange(energy.size), counts)
    s = s_begin + rng.uniform(0.0, 1.0, muon.size) * length[muon]
    fraction = MIN_LOSS_FRACTION ** rng.uniform(0.0, 1.0, muon.size)
    loss = fraction * energy_after(energy[muon], s)
    keep = loss >= MIN_STOCHASTIC_ENERGY
    return muon[keep], s[keep], loss[keep]


def sample_depth_muon_energy(rng: np.random.Generator, n: int, minimum: float = 10.0) -> np.ndarray:
    """Energies (GeV) of atmospheric muons at the site depth, above ``minimum``."""
    shift = CRITICAL_ENERGY * (1.0 - np.exp(-RADIATIVE_LOSS * SITE_DEPTH))
    return (minimum + shift) * (1.0 - rng.uniform(0.0, 1.0, n)) ** (-1.0 / 2.7) - shift


def sample_bundle_multiplicity(rng: np.random.Generator, n: int, largest: int = 30) -> np.ndarray:
    """Muons per bundle: P(m) ~ m**-2.6 for m = 1..largest (~70 % single muons)."""
    m = np.arange(1, largest + 1)
    weights = m ** -2.6
    return rng.choice(m, size=n, p=weights / weights.sum())


def sample_downgoing_cos_zenith(rng: np.random.Generator, n: int, power: float = 2.5,
                                minimum: float = 0.05) -> np.ndarray:
    """cos(zenith) of atmospheric muons at depth, density ~ cos**power on [minimum, 1]."""
    low = minimum ** (power + 1.0)
    return (low + (1.0 - low) * rng.uniform(0.0, 1.0, n)) ** (1.0 / (power + 1.0))
