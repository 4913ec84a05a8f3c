"""The figures of the ``neutrino_events`` evaluation kind from per-event columns: numu CC
efficiency against atmospheric-muon (``eas``) rejection of ``event_score``, and per
neutrino kind the angular error, log10-energy bias and resolution and the coverage of the
reported uncertainties (``resolution``), for the GNN and the baseline.
"""

from __future__ import annotations

import numpy as np

from .rejection import efficiency_at_rejection, rejection_at_efficiency
from .resolution import direction_report, energy_report

BACKGROUND_KINDS = ("eas", "noise")
"""Event kinds that are not signal; neutrino hits are those of ``NEUTRINO_KINDS``."""
NEUTRINO_KINDS = ("numu_cc", "nue_cc", "nc")
TRUTH_COLUMNS = ("true_zenith", "true_azimuth", "true_energy")
DIRECTION_COLUMNS = ("reco_zenith", "reco_azimuth", "reco_angle_sigma")
REGRESSION_COLUMNS = ("reco_log10_energy", "reco_log10_energy_sigma", *DIRECTION_COLUMNS)


def event_figures(kinds: np.ndarray, score: np.ndarray) -> dict:
    """Events of each class and the rejection of ``eas`` events at 50, 70 and 90 % numu CC
    efficiency, the efficiency at a rejection of 100 and 1000 (``score`` one per event,
    ``kinds`` their ``true_kind``)."""
    numu, eas = score[kinds == "numu_cc"], score[kinds == "eas"]
    if not numu.size or not eas.size:
        return {"note": "needs numu_cc and eas events"}
    return {"numu_cc_events": int(numu.size), "eas_events": int(eas.size),
            "rejection_at_efficiency": [rejection_at_efficiency(numu, eas, e) for e in (0.5, 0.7, 0.9)],
            "efficiency_at_rejection": [efficiency_at_rejection(numu, eas, r) for r in (1e2, 1e3)]}


def regression_figures(c: dict[str, np.ndarray]) -> dict:
    """Direction and energy figures per neutrino kind, GNN and baseline, from the
    per-event columns ``c``: ``kind``, ``signal_hits``, ``TRUTH_COLUMNS`` and per method
    ``gnn_reco_*`` / ``base_reco_*``."""
    figures = {"direction": {}, "energy": {}}
    for kind in NEUTRINO_KINDS:
        mask = c["kind"] == kind
        if not mask.any():
            continue
        truth = {name: c[name][mask] for name in (*TRUTH_COLUMNS, "signal_hits")}
        for method in ("gnn", "base"):
            reco = {name[len(method) + 1:]: values[mask]
                    for name, values in c.items() if name.startswith(method + "_reco")}
            label = "gnn" if method == "gnn" else "baseline"
            if {"reco_zenith", "reco_azimuth"} <= set(reco):
                figures["direction"].setdefault(kind, {})[label] = direction_report(truth, reco)
            if {"reco_log10_energy", "reco_log10_energy_sigma"} <= set(reco):
                figures["energy"].setdefault(kind, {})[label] = energy_report(truth, reco)
    return {key: value for key, value in figures.items() if value}
