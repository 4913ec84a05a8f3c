"""Primaries and their shower-to-shower fluctuations: depth of maximum and muon content.

Depth of shower maximum Xmax (g/cm^2), drawn as the depth of the first interaction
(exponential, mean free path lambda) plus a Gaussian for the rest of the cascade:
- proton: mean 800 + 57 (lg E - 19), RMS 60; lambda_p-air = 42.8 g/cm^2 from the TA
  p-air cross section 567 mb (Abbasi et al., PRD 92 (2015) 032007). Means, elongation
  rate and RMS as predicted by QGSJET-II-04 / EPOS-LHC (compiled in Kampert & Unger,
  Astropart. Phys. 35 (2012) 660; Pierre Auger Collab., PRD 90 (2014) 122005).
- iron: mean 700 + 60 (lg E - 19), RMS 20 (same sources; first interaction folded into
  the Gaussian, lambda_Fe-air ~ 13 g/cm^2).
- photon: the pair-production length 9/7 X0 = 47 g/cm^2 (X0 = 36.6 g/cm^2), stretched
  above 10^19 eV by the Landau-Pomeranchuk-Migdal effect (cross section ~ E^-1/2); mean
  880 + 85 (lg E - 18) (electromagnetic elongation rate 2.3 X0 per decade) plus the same
  LPM growth above 10^19 eV; RMS ~ 70 g/cm^2 at 10^19 eV (Risse & Homola, Mod. Phys. Lett.
  A 22 (2007) 749). Pre-showering in the geomagnetic field, which makes photons above
  ~5 10^19 eV shallower again, is not modelled.

Muon content relative to the mean proton shower of the same energy (log-normal):
- proton 1.00, relative RMS 0.15; iron 1.40, relative RMS 0.06 (superposition with the
  Matthews-Heitler scaling N_mu ~ A^(1 - beta), beta ~ 0.9: J. Matthews, Astropart. Phys.
  22 (2005) 387; fluctuations as the hadronic models predict, Pierre Auger Collab., PRL 126
  (2021) 152002); photon 0.15, relative RMS 0.4 (photon showers carry about an order of
  magnitude fewer muons: Risse & Homola 2007).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROTON, IRON, PHOTON = 2212, 1000260560, 22
PRIMARY_NAMES = {"proton": PROTON, "iron": IRON, "photon": PHOTON}
PAIR_LENGTH = 9.0 / 7.0 * 36.6  # g/cm^2, photon conversion length in air
LPM_ONSET = 19.0  # lg(E/eV) above which the LPM effect stretches photon showers


@dataclass(frozen=True)
class Primary:
    """Xmax and muon-content model of one primary (depths in g/cm^2, lg E in eV)."""

    pdg: int
    xmax_at_1e19: float
    elongation: float  # g/cm^2 per decade
    xmax_rms: float
    first_interaction: float  # g/cm^2 mean free path (0: folded into the Gaussian)
    muon_scale: float
    muon_rms: float  # relative


PRIMARIES = {
    PROTON: Primary(PROTON, 800.0, 57.0, 60.0, 42.8, 1.00, 0.15),
    IRON: Primary(IRON, 700.0, 60.0, 20.0, 0.0, 1.40, 0.06),
    PHOTON: Primary(PHOTON, 965.0, 85.0, 70.0, PAIR_LENGTH, 0.15, 0.40),
}


def _lpm_stretch(log10_energy: np.ndarray) -> np.ndarray:
    """Factor by which LPM suppression lengthens the photon conversion length."""
    return 10.0 ** (0.5 * np.maximum(log10_energy - LPM_ONSET, 0.0))


def mean_xmax(pdg: np.ndarray, log10_energy: np.ndarray) -> np.ndarray:
    """Mean Xmax (g/cm^2) of the primaries ``pdg`` at lg(E/eV) ``log10_energy``."""
    pdg, log10_energy = np.broadcast_arrays(np.asarray(pdg), np.asarray(log10_energy, dtype=float))
    mean = np.empty(pdg.shape)
    for code, primary in PRIMARIES.items():
        chosen = pdg == code
        mean[chosen] = primary.xmax_at_1e19 + primary.elongation * (log10_energy[chosen] - 19.0)
    photon = pdg == PHOTON
    # LPM: the conversion length grows by (stretch - 1) * 47 g/cm^2, and with it the mean
    mean[photon] += PAIR_LENGTH * (_lpm_stretch(log10_energy[photon]) - 1.0)
    return mean


def sample_xmax(rng: np.random.Generator, pdg: np.ndarray, log10_energy: np.ndarray) -> np.ndarray:
    """Xmax (g/cm^2) of each shower: mean, first-interaction exponential and Gaussian rest."""
    pdg, log10_energy = np.broadcast_arrays(np.asarray(pdg), np.asarray(log10_energy, dtype=float))
    xmax = mean_xmax(pdg, log10_energy)
    for code, primary in PRIMARIES.items():
        chosen = np.flatnonzero(pdg == code)
        length = np.full(chosen.size, primary.first_interaction)
        if code == PHOTON:
            length = length * _lpm_stretch(log10_energy[chosen])
        rest = np.sqrt(np.maximum(primary.xmax_rms ** 2 - length ** 2, 15.0 ** 2))
        xmax[chosen] += rng.exponential(1.0, chosen.size) * length - length + rng.normal(0.0, rest)
    return xmax


def sample_muon_scale(rng: np.random.Generator, pdg: np.ndarray) -> np.ndarray:
    """Muon content of each shower relative to the mean proton shower (log-normal)."""
    pdg = np.asarray(pdg)
    scale = np.empty(pdg.shape)
    for code, primary in PRIMARIES.items():
        chosen = np.flatnonzero(pdg == code)
        sigma = np.sqrt(np.log1p(primary.muon_rms ** 2))
        scale[chosen] = primary.muon_scale * np.exp(rng.normal(-0.5 * sigma ** 2, sigma, chosen.size))
    return scale
