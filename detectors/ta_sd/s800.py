"""Shower size at 800 m (S800, VEM/m^2) from energy, zenith, Xmax and muon content, and the
matching shifts of the lateral-distribution slope and of the front curvature.

Two components at 800 m, electromagnetic (em) and muonic, for a proton of energy E:

    S800 = S0(E) [ (1 - f_mu) A_em(theta) exp(dX / L(theta)) + f_mu R_mu ]

- Energy scale: S0 proportional to E (E ~ S^1.0 as in AGASA, Takeda et al., Astropart.
  Phys. 19 (2003) 447), normalised on the TA event of 2021 May 27: S800 = 530 VEM/m^2 at
  zenith 38.6 deg (TA Collab., Science 382 (2023) 903), which TA's proton (QGSJET-II-03
  CORSIKA) energy table maps to 309 EeV; the published 244 EeV is that divided by 1.27,
  the SD-to-fluorescence energy-scale factor (``rusdenergy`` in D. Ivanov's sdanalysis).
  True energies here are on the proton Monte Carlo scale. This gives S800 = 25 VEM/m^2
  for a vertical 10^19 eV proton.
- Attenuation of the em part: the AGASA form (Takeda et al. 2003)
  ``A_em = exp(-X0/L1 (sec - 1) - X0/L2 (sec - 1)^2)``, L1 = 500, L2 = 594 g/cm^2, with the
  TA vertical depth X0 = 880 g/cm^2. The muon part is taken as zenith independent.
- f_mu = 0.30: the muon share of S800 in vertical proton showers (assumed; with the
  attenuation above it rises to 40 % at 35 deg and 90 % at 60 deg, the trend of the muon
  purity in TA's CORSIKA study, Abbasi et al., PRD 98 (2018) 022002).
- dX = min(Xmax, X_ground) - <Xmax>_proton(E): a deeper shower is younger at the ground.
  Its lever arm L(theta) = K / (1/L1 + 2 (sec - 1)/L2), K times the local AGASA
  attenuation length, with K = 2 chosen so that iron showers (R_mu = 1.4) have 8.5 %
  larger S800 than protons at 10^19 eV and 35 deg: TA's iron and proton energy tables
  differ by 1.27 / 1.17 (``rusdenergy_iron``).
- LDF slope shift: younger showers are steeper, by the zenith slope of the AGASA LDF
  (d eta / dX = 1.79 / 880 per g/cm^2, shower.py) times dX / K; more muons flatten it: the
  AGASA muon LDF (Hayashida et al., J. Phys. G 21 (1995) 1101) falls 1.5 slower in
  log-slope at 800 m than the total, i.e. d eta = -1.7 per unit of muon share.
- Front curvature: the Linsley delay and spread scale by exp(dX / 250 g/cm^2) (assumed):
  deeper showers have more curved, thicker fronts, the handle TA's photon searches use
  (Abu-Zayyad et al., PRD 88 (2013) 112005; Abbasi et al., Astropart. Phys. 110 (2019) 8).
"""

from __future__ import annotations

import numpy as np

from .composition import PROTON, mean_xmax
from .shower import ETA_SEC_SLOPE, ETA_VERTICAL

ANCHOR_S800 = 530.0  # VEM/m^2, TA event 2021-05-27
ANCHOR_ZENITH = np.radians(38.6)
ANCHOR_ENERGY = 309e18  # eV on the proton Monte Carlo scale (244 EeV x 1.27)
ENERGY_EXPONENT = 1.0  # E ~ S800^1.0
VERTICAL_DEPTH = 880.0  # g/cm^2 at the TA altitude
AGASA_L1, AGASA_L2 = 500.0, 594.0  # g/cm^2
MUON_SHARE = 0.30  # muon share of S800, vertical proton showers
XMAX_LEVER = 2.0  # K: lever arm of Xmax relative to the zenith attenuation length
MUON_SLOPE = -1.7  # d eta per unit muon share
CURVATURE_DEPTH = 250.0  # g/cm^2
MIN_ETA = 1.6


def em_attenuation(zenith: np.ndarray) -> np.ndarray:
    """AGASA attenuation of the em signal at 800 m relative to vertical."""
    excess = 1.0 / np.cos(zenith) - 1.0
    return np.exp(-VERTICAL_DEPTH / AGASA_L1 * excess - VERTICAL_DEPTH / AGASA_L2 * excess ** 2)


def attenuation_length(zenith: np.ndarray) -> np.ndarray:
    """Local AGASA attenuation length (g/cm^2) at the ground slant depth."""
    return 1.0 / (1.0 / AGASA_L1 + 2.0 * (1.0 / np.cos(zenith) - 1.0) / AGASA_L2)


def _proton_shape(zenith: np.ndarray) -> np.ndarray:
    return (1.0 - MUON_SHARE) * em_attenuation(zenith) + MUON_SHARE


def vertical_s800(energy_ev: np.ndarray) -> np.ndarray:
    """S0(E): S800 (VEM/m^2) of the mean vertical proton shower of energy ``energy_ev``."""
    s0_anchor = ANCHOR_S800 / _proton_shape(ANCHOR_ZENITH)
    return s0_anchor * (np.asarray(energy_ev) / ANCHOR_ENERGY) ** (1.0 / ENERGY_EXPONENT)


def depth_shift(xmax: np.ndarray, log10_energy: np.ndarray, zenith: np.ndarray) -> np.ndarray:
    """dX (g/cm^2): how much younger than the mean proton the shower is at the ground."""
    ground = VERTICAL_DEPTH / np.cos(zenith)
    return np.minimum(xmax, ground) - mean_xmax(np.full(np.shape(xmax), PROTON), log10_energy)


def shower_size(energy_ev: np.ndarray, zenith: np.ndarray, xmax: np.ndarray,
                muon_scale: np.ndarray) -> dict[str, np.ndarray]:
    """S800 (VEM/m^2), LDF slope shift and front-curvature factor of each shower.

    Returns ``s800``, ``slope_shift`` (added to eta), ``curvature`` (multiplies the Linsley
    delay and spread) and ``muon_share`` (muon part of this shower's S800).
    """
    log10_energy = np.log10(energy_ev)
    shift = depth_shift(xmax, log10_energy, zenith)
    lever = XMAX_LEVER * attenuation_length(zenith)
    em = (1.0 - MUON_SHARE) * em_attenuation(zenith) * np.exp(shift / lever)
    muons = MUON_SHARE * muon_scale
    share = muons / (em + muons)
    proton_share = MUON_SHARE / _proton_shape(zenith)
    age_slope = ETA_SEC_SLOPE / VERTICAL_DEPTH * shift / XMAX_LEVER
    eta = ETA_VERTICAL - ETA_SEC_SLOPE * (1.0 / np.cos(zenith) - 1.0)
    slope_shift = np.maximum(age_slope + MUON_SLOPE * (share - proton_share), MIN_ETA - eta)
    return {"s800": vertical_s800(energy_ev) * (em + muons), "slope_shift": slope_shift,
            "curvature": np.exp(shift / CURVATURE_DEPTH), "muon_share": share}
