"""Counter response: sampling fluctuations of the two scintillator layers and saturation.

TA's LDF fit weighs a counter of density rho = (Q_upper + Q_lower) / 2 / 3 m^2 (VEM/m^2)
with the fluctuation ``sigma_rho = 0.53 sqrt(2 rho + 0.15^2 rho^2)`` (D. Ivanov's
``sdanalysis``, ``p2ldffitter.cpp``; the AGASA form of Teshima et al., J. Phys. G 12 (1986)
1097). For the mean of the two layers, Q = 3 rho, that is

    Var(Q) = 1.685 Q + (0.0795 Q)^2,

which the sampling here reproduces:
- a common density factor g per counter, relative RMS 0.53 x 0.15 = 0.0795 (the term in
  rho^2: local shower-to-shower structure, seen by both layers alike);
- a Poisson number N of particles crossing the counter (both layers see the same ones);
- each particle's deposit in each layer independently gamma distributed, mean s and
  relative RMS 0.43: the width of TA's 1-MIP peak, FWHM = 1 MIP read as sigma = FWHM /
  2.33 (``rufptn``/``sdmc`` calibration); the layer sum of N deposits is then exactly a
  gamma variate of shape N / 0.43^2;
- s = 1.685 / (1 + 0.43^2 / 2) = 1.54 VEM per particle, so that the variance is TA's.

Saturation (TA SD Monte Carlo ``sdmc_spctr.c``, B. Stokes and D. Ivanov; arXiv:1403.0644):
the FADC (12 bit, 20 ns bins) is compressed above 2000 counts per bin,
``sat + (q - sat) exp(-0.05 (q - sat) / 600)``, and clipped at 4095 counts. With 1 VEM =
47 integrated FADC counts (1-MIP peak 119 minus 12/8 of the pedestal peak 48, the ``sdmc``
typical values) and a pulse of FWHM ``sqrt(100 ns^2 + (2.35 sigma_front)^2)`` (100 ns
single-particle response, assumed), a narrow pulse saturates at ~430 VEM per layer.
"""

from __future__ import annotations

import numpy as np

VARIANCE_LINEAR = 9 * 0.53 ** 2 * 2 / 3  # 1.685 VEM
DENSITY_RMS = 0.53 * 0.15  # relative
DEPOSIT_RMS = 0.43  # relative, one particle in one layer
SIGNAL_PER_PARTICLE = VARIANCE_LINEAR / (1.0 + DEPOSIT_RMS ** 2 / 2.0)  # VEM
FADC_PER_VEM = 119.0 - 12.0 / 8.0 * 48.0  # 47 counts
FADC_BIN = 20.0  # ns
FADC_NONLINEAR, FADC_SOFTNESS, FADC_ATTENUATION, FADC_MAX = 2000.0, 600.0, 0.05, 4095.0
SINGLE_PULSE_FWHM = 100.0  # ns


def sample_layers(rng: np.random.Generator, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signals (VEM) of the upper and lower layers for expected signals ``mean`` (VEM per
    layer); zero in both where no particle crossed."""
    shape = 1.0 / DENSITY_RMS ** 2
    density = mean * rng.gamma(shape, 1.0 / shape, mean.shape)
    particles = rng.poisson(density / SIGNAL_PER_PARTICLE).astype(np.float64)
    crossed = particles > 0
    layers = []
    for _ in range(2):
        signal = np.zeros(mean.shape)
        k = particles[crossed] / DEPOSIT_RMS ** 2
        signal[crossed] = SIGNAL_PER_PARTICLE * DEPOSIT_RMS ** 2 * rng.gamma(k)
        layers.append(signal)
    return layers[0], layers[1]


def sample_single_particles(rng: np.random.Generator, path_factor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower signals (VEM) of single particles whose path through a layer is
    ``path_factor`` times the vertical one (sec of the track zenith)."""
    k = 1.0 / DEPOSIT_RMS ** 2
    return tuple(path_factor * rng.gamma(k, 1.0 / k, path_factor.shape) for _ in range(2))


def saturate(signal: np.ndarray, front_sigma: np.ndarray) -> np.ndarray:
    """Measured signal (VEM) of a layer whose true signal is ``signal`` (VEM), spread over a
    pulse widened by the front spread ``front_sigma`` (ns)."""
    width = np.sqrt(SINGLE_PULSE_FWHM ** 2 + (2.35 * front_sigma) ** 2)
    peak = signal * FADC_PER_VEM * FADC_BIN / width  # counts in the highest 20 ns bin
    excess = np.maximum(peak - FADC_NONLINEAR, 0.0)
    compressed = np.where(peak > FADC_NONLINEAR,
                          FADC_NONLINEAR + excess * np.exp(-FADC_ATTENUATION * excess / FADC_SOFTNESS), peak)
    compressed = np.minimum(compressed, FADC_MAX)
    return np.where(peak > 0.0, signal * compressed / np.maximum(peak, 1e-30), 0.0)
