"""The TA SD energy combination: the refit's log10 E corrected by a linear regression on
the composition stage's probabilities and the GNN's own energy (the ``combination``
stage's ``energy``; ``ENERGY_COMBINATION`` declares it to the engine).
"""

from __future__ import annotations

import numpy as np

from ..base import EnergyCombination

COLUMNS = ("reco_p_proton", "reco_p_iron", "reco_p_photon")
"""The event columns the combination reads: the composition stage's probabilities."""


def combination_features(fit_energy: np.ndarray, fit_sigma: np.ndarray, fit_zenith: np.ndarray,
                         gnn_energy: np.ndarray, gnn_sigma: np.ndarray, probabilities: np.ndarray,
                         counters: np.ndarray) -> np.ndarray:
    """What the ``combination`` stage regresses the offset of the fit's
    log10 E from the truth on, (n, N_FEATURES): a quadratic in e = log10 E_fit - 10 (log10 GeV: 10^19 eV)
    and s = sec(zenith_fit) - 1.3 (1, e, s, e s, s^2) times each primary's probability; the
    difference d = GNN - fit times each probability, and times e and s; d times the
    inverse-variance weight of the GNN, w = sigma_fit^2 / (sigma_fit^2 + sigma_GNN^2), and
    times w e; d times l = ln(counters / 12), and l; ln(sigma_fit / 0.15). The fit reads
    S800 well but not the primary, which shifts S800 at fixed energy; the probabilities and
    the GNN's own estimate correct it, by how much depends on how well each measured this
    shower (the two sigmas, in log10 E, the fit's clipped at 1; the counters the GNN kept).

    Args:
        fit_energy, fit_sigma: (n,) the refit's log10 E/GeV and its uncertainty.
        fit_zenith: (n,) the refit's zenith (rad).
        gnn_energy, gnn_sigma: (n,) the GNN's log10 E/GeV and its calibrated uncertainty.
        probabilities: (n, 3) the composition stage's ``COLUMNS`` (proton, iron, photon).
        counters: (n,) the counters the hit selection kept.
    """
    e, s = fit_energy - 10.0, 1.0 / np.cos(fit_zenith) - 1.3
    quadratic = np.stack([np.ones_like(e), e, s, e * s, s * s], axis=1)
    difference = gnn_energy - fit_energy
    fit_sigma = np.minimum(fit_sigma, 1.0)
    weight = fit_sigma ** 2 / (fit_sigma ** 2 + gnn_sigma ** 2)
    size = np.log(np.maximum(counters, 1) / 12.0)  # events without selected hits are not combined
    per_shower = np.stack([difference * weight, difference * weight * e, difference * size, size,
                           np.log(fit_sigma / 0.15)], axis=1)
    return np.concatenate([quadratic * probabilities[:, [k]] for k in range(probabilities.shape[1])]
                          + [difference[:, None] * probabilities, difference[:, None] * quadratic[:, 1:3],
                             per_shower], axis=1)


N_FEATURES = 25
"""Columns of :func:`combination_features` (the length of a stage's ``combination``)."""

ENERGY_COMBINATION = EnergyCombination(columns=COLUMNS, features=combination_features, n_features=N_FEATURES)
