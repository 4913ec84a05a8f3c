"""The figures of the ``air_showers`` evaluation kind from per-event columns: the GNN and
the detector's standard fit on the same showers.

Events enter the comparison when they pass the detector's quality cuts
(``Detector.shower_cuts``), applied to the truth so that every method is scored on the
same showers (Telescope Array SD: zenith below 45 deg, at least 5 counters hit by the
shower, the core at least 1,200 m inside the array's edge), and 10^18.5 <= E < 10^20 eV.
Per method, overall and in bins of log10(E/eV):

- direction: median and 68 % opening angle to the true arrival direction (degrees), and
  the coverage of the reported 68 % cone (``reco_angle_sigma``);
- energy: median and half the central 68 % interval of log10(E_reco/E_true), the
  coverage of the reported 1-sigma and the width of the pulls;
- core: median and 68 % distance to the true core (m), and the coverage of the reported
  68 % circle (``reco_core_sigma``) where a method reports one;
- the fraction of selected events each method reconstructed (NaN counts as failed);

each but the pull width with its statistical error (``_error``; ``resolution``).

Composition, where the reconstruction has ``reco_p_<class>`` columns and the truth
``true_primary``: on the selected events, the AUC of each class against the others, of
photon against hadron showers (``reco_p_photon``) and of proton against iron among the
hadron showers (``p_proton / (p_proton + p_iron)``), the photon efficiency at a hadron
contamination of 1 % and 0.1 %, and the confusion matrix of the most probable class; the
classes and their primaries' PDG ids are the detector's (``Detector.primaries``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..detectors.base import ShowerCuts
from ..statistics import coverage, quantile_error
from .measured import fraction, measured
from .metrics import roc_auc
from .rejection import efficiency_at_rejection
from .resolution import direction_report, energy_report, reconstructed

ENERGY_BIN_EDGES = (18.5, 19.0, 19.5, 20.0)
"""log10(E/eV) bins of the report (the target range is 10^18.5 - 10^20 eV)."""
EV_PER_GEV = 9.0  # log10
TRUTH_COLUMNS = ("true_energy", "true_zenith", "true_azimuth", "true_core_x", "true_core_y")
RECO_COLUMNS = ("reco_log10_energy", "reco_log10_energy_sigma", "reco_zenith", "reco_azimuth", "reco_angle_sigma",
                "reco_core_x", "reco_core_y", "reco_core_sigma")
METHODS = ("gnn", "baseline")
HADRON_CONTAMINATIONS = (1e-2, 1e-3)


def core_report(truth: dict, reco: dict) -> dict:
    """Median and 68 % distance (m) of the reconstructed to the true core, and the
    coverage of ``reco_core_sigma`` (the 68 % circle) where it is reported, each with its
    ``_error``."""
    distance = np.hypot(np.asarray(reco["reco_core_x"], dtype=np.float64) - truth["true_core_x"],
                        np.asarray(reco["reco_core_y"], dtype=np.float64) - truth["true_core_y"])
    done = np.isfinite(distance)
    report = {"events": int(distance.size), **reconstructed(done)}
    if done.any():
        found = distance[done]
        report |= {**measured("median_m", float(np.median(found)), quantile_error(found, 0.5), 1),
                   **measured("q68_m", float(np.quantile(found, 0.68)), quantile_error(found, 0.68), 1)}
    sigma = np.asarray(reco.get("reco_core_sigma", np.full(distance.size, np.nan)), dtype=np.float64)
    with_sigma = done & np.isfinite(sigma)
    if with_sigma.any():
        report |= fraction("coverage_68_circle", coverage(distance[with_sigma], sigma[with_sigma]),
                           int(with_sigma.sum()))
    return report


def _method_report(truth: dict, reco: dict) -> dict:
    report = {"direction": direction_report(truth, reco)}
    if {"reco_log10_energy", "reco_log10_energy_sigma"} <= set(reco):
        report["energy"] = energy_report(truth, reco)
    if {"reco_core_x", "reco_core_y"} <= set(reco):
        report["core"] = core_report(truth, reco)
    return report


def selected(c: dict[str, np.ndarray], cuts: ShowerCuts) -> np.ndarray:
    """The events that pass the detector's quality ``cuts`` and the energy range, from the
    truth columns ``true_energy`` (GeV), ``true_zenith`` (rad), ``shower_counters`` and
    ``edge_distance`` (m) of ``c``: bool, one per event."""
    log10_ev = np.log10(c["true_energy"]) + EV_PER_GEV
    return ((c["true_zenith"] < cuts.max_zenith) & (c["shower_counters"] >= cuts.min_shower_counters)
            & (c["edge_distance"] >= cuts.min_edge_distance)
            & (log10_ev >= ENERGY_BIN_EDGES[0]) & (log10_ev < ENERGY_BIN_EDGES[-1]))


def energy_bins(c: dict[str, np.ndarray], cuts: ShowerCuts) -> dict[str, np.ndarray]:
    """The selected events (``"all"``, by ``selected``), then those of each bin of
    ``ENERGY_BIN_EDGES`` (labelled ``"low-high"`` in log10(E/eV))."""
    chosen = selected(c, cuts)
    log10_ev = np.log10(c["true_energy"]) + EV_PER_GEV
    bins = {"all": chosen}
    for low, high in zip(ENERGY_BIN_EDGES[:-1], ENERGY_BIN_EDGES[1:]):
        bins[f"{low:g}-{high:g}"] = chosen & (log10_ev >= low) & (log10_ev < high)
    return bins


def shower_figures(c: dict[str, np.ndarray], cuts: ShowerCuts) -> dict:
    """The comparison's figures from per-event columns: truth (``TRUTH_COLUMNS``,
    ``shower_counters``, ``edge_distance``) and per method ``{method}_{reco column}``, on
    the events that pass ``cuts``."""
    bins = energy_bins(c, cuts)
    chosen = bins["all"]
    report = {"selection": {"events": int(chosen.size), "selected": int(chosen.sum()),
                            "cuts": f"zenith < {math.degrees(cuts.max_zenith):g} deg, >= {cuts.min_shower_counters} "
                                    f"shower counters, core >= {cuts.min_edge_distance:g} m inside the edge, "
                                    "10^18.5 <= E < 10^20 eV (truth)"},
              "methods": {}}
    for method in METHODS:
        reco = {name: c[f"{method}_{name}"] for name in RECO_COLUMNS if f"{method}_{name}" in c}
        if not reco:
            continue
        report["methods"][method] = {
            label: _method_report({name: c[name][mask] for name in TRUTH_COLUMNS},
                                  {name: values[mask] for name, values in reco.items()})
            for label, mask in bins.items() if mask.any()}
    return {"summary": summary(report), **report}


def composition_report(c: dict[str, np.ndarray], chosen: np.ndarray, primaries: Mapping[str, int]) -> dict:
    """Composition figures of the events ``chosen`` (see the module docstring), the
    classes and their primaries' PDG ids (``true_primary``) from ``primaries``."""
    primary = c["true_primary"][chosen]
    p = {name: c[f"gnn_reco_p_{name}"][chosen] for name in primaries if f"gnn_reco_p_{name}" in c}
    truth = {name: primary == code for name, code in primaries.items()}
    report = {"events": {name: int(is_class.sum()) for name, is_class in truth.items()},
              "auc_one_vs_rest": {name: round(roc_auc(truth[name], p[name]), 4) for name in p}}
    if {"proton", "iron", "photon"} <= set(p):
        hadron = truth["proton"] | truth["iron"]
        photon_over_hadron = {f"{contamination:g}": _rounded(efficiency_at_rejection(
            p["photon"][truth["photon"]], p["photon"][hadron], 1 / contamination)["efficiency"])
            for contamination in HADRON_CONTAMINATIONS}
        proton_share = p["proton"] / np.maximum(p["proton"] + p["iron"], 1e-12)
        report |= {"auc_photon_vs_hadron": round(roc_auc(truth["photon"][truth["photon"] | hadron],
                                                         p["photon"][truth["photon"] | hadron]), 4),
                   "auc_proton_vs_iron": round(roc_auc(truth["proton"][hadron], proton_share[hadron]), 4),
                   "photon_efficiency_at_hadron_contamination": photon_over_hadron}
    names = list(p)
    most_probable = np.array(names)[np.argmax(np.stack([p[name] for name in names]), axis=0)]
    report["confusion"] = {true: {reco: round(float(np.mean(most_probable[truth[true]] == reco)), 4) for reco in names}
                           for true in names if truth[true].any()}
    return report


def _rounded(value: float | None) -> float | None:
    """``value`` to four decimals (None, where it could not be measured, stays None)."""
    return None if value is None else round(value, 4)


def summary(report: dict) -> dict:
    """Per method, on all selected events: the 68 % angular error (deg), log10-energy
    resolution, 68 % core distance (m) and the coverage of each reported uncertainty."""
    rows = {}
    for method, bins in report["methods"].items():
        figures = bins.get("all", {})
        direction, energy, core = (figures.get(key, {}) for key in ("direction", "energy", "core"))
        rows[method] = {"angle_q68_deg": direction.get("q68_deg"), "angle_coverage": direction.get("coverage_68_cone"),
                        "log10_energy_resolution": energy.get("resolution_log10"),
                        "energy_coverage": energy.get("coverage_1_sigma"), "core_q68_m": core.get("q68_m"),
                        "core_coverage": core.get("coverage_68_circle")}
    return rows
