"""Air-shower arrays (Telescope Array SD): the GNN and the standard fit on the same events.

Events enter the comparison when they pass the issue's quality cuts, applied to the
truth so that every method is scored on the same showers: zenith below 45 deg, at least
5 counters hit by the shower, the core at least 1,200 m inside the array's edge, and
10^18.5 <= E < 10^20 eV. Per method, overall and in bins of log10(E/eV):

- direction: median and 68 % opening angle to the true arrival direction (degrees), and
  the coverage of the reported 68 % cone (``reco_angle_sigma``);
- energy: median and half the central 68 % interval of log10(E_reco/E_true), the
  coverage of the reported 1-sigma and the width of the pulls;
- core: median and 68 % distance to the true core (m), and the coverage of the reported
  68 % circle (``reco_core_sigma``) where a method reports one;
- the fraction of selected events each method reconstructed (NaN counts as failed).

Counters: precision, recall and AUC of ``hit_score`` against ``true_label`` over all
events. Composition, where the reconstruction has ``reco_p_<class>`` columns and the truth
``true_primary``: on the selected events, the AUC of each class against the others, of
photon against hadron showers (``reco_p_photon``) and of proton against iron among the
hadron showers (``p_proton / (p_proton + p_iron)``), the photon efficiency at a hadron
contamination of 1 % and 0.1 %, and the confusion matrix of the most probable class. ``compare_showers(..., plots=FOLDER)`` draws resolution and coverage versus
energy, pulls and the counter-selection ROC (the GNN's ``hit_score`` beside the counters
the standard fit kept).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from .. import detectors
from ..detectors.ta_sd.composition import IRON, PHOTON, PROTON
from ..detectors.ta_sd.geometry import FIDUCIAL_MAX_ZENITH, FIDUCIAL_MIN_EDGE_DISTANCE, distance_to_edge
from ..io import EventFormatError, read_events
from ..statistics import coverage
from .matching import hit_values, reco_rows
from .metrics import precision_recall, roc_auc
from .rejection import efficiency_at_rejection
from .resolution import direction_report, energy_report

MIN_SHOWER_COUNTERS = 5
ENERGY_BIN_EDGES = (18.5, 19.0, 19.5, 20.0)
"""log10(E/eV) bins of the report (the target range is 10^18.5 - 10^20 eV)."""
EV_PER_GEV = 9.0  # log10
TRUTH_COLUMNS = ("true_energy", "true_zenith", "true_azimuth", "true_core_x", "true_core_y")
RECO_COLUMNS = ("reco_log10_energy", "reco_log10_energy_sigma", "reco_zenith", "reco_azimuth", "reco_angle_sigma",
                "reco_core_x", "reco_core_y", "reco_core_sigma")
METHODS = ("gnn", "baseline")
PROBABILITY_PREFIX = "reco_p_"
PRIMARIES = {"proton": PROTON, "iron": IRON, "photon": PHOTON}
"""Composition class -> PDG id of its primary (``true_primary``)."""
HADRON_CONTAMINATIONS = (1e-2, 1e-3)


def core_report(truth: dict, reco: dict) -> dict:
    """Median and 68 % distance (m) of the reconstructed to the true core, and the
    coverage of ``reco_core_sigma`` (the 68 % circle) where it is reported."""
    distance = np.hypot(np.asarray(reco["reco_core_x"], dtype=np.float64) - truth["true_core_x"],
                        np.asarray(reco["reco_core_y"], dtype=np.float64) - truth["true_core_y"])
    done = np.isfinite(distance)
    report = {"events": int(distance.size), "reconstructed_fraction": round(float(done.mean()), 4) if distance.size else None}
    if done.any():
        report |= {"median_m": round(float(np.median(distance[done])), 1),
                   "q68_m": round(float(np.quantile(distance[done], 0.68)), 1)}
    sigma = np.asarray(reco.get("reco_core_sigma", np.full(distance.size, np.nan)), dtype=np.float64)
    with_sigma = done & np.isfinite(sigma)
    if with_sigma.any():
        report["coverage_68_circle"] = round(coverage(distance[with_sigma], sigma[with_sigma]), 4)
    return report


def _method_report(truth: dict, reco: dict) -> dict:
    report = {"direction": direction_report(truth, reco)}
    if {"reco_log10_energy", "reco_log10_energy_sigma"} <= set(reco):
        report["energy"] = energy_report(truth, reco)
    if {"reco_core_x", "reco_core_y"} <= set(reco):
        report["core"] = core_report(truth, reco)
    return report


def selected(c: dict[str, np.ndarray]) -> np.ndarray:
    """The events that pass the quality cuts (see the module docstring), from the truth."""
    log10_ev = np.log10(c["true_energy"]) + EV_PER_GEV
    return ((c["true_zenith"] < FIDUCIAL_MAX_ZENITH) & (c["shower_counters"] >= MIN_SHOWER_COUNTERS)
            & (c["edge_distance"] >= FIDUCIAL_MIN_EDGE_DISTANCE)
            & (log10_ev >= ENERGY_BIN_EDGES[0]) & (log10_ev < ENERGY_BIN_EDGES[-1]))


def energy_bins(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The selected events (``"all"``), then those of each bin of ``ENERGY_BIN_EDGES``
    (labelled ``"low-high"`` in log10(E/eV))."""
    chosen = selected(c)
    log10_ev = np.log10(c["true_energy"]) + EV_PER_GEV
    bins = {"all": chosen}
    for low, high in zip(ENERGY_BIN_EDGES[:-1], ENERGY_BIN_EDGES[1:]):
        bins[f"{low:g}-{high:g}"] = chosen & (log10_ev >= low) & (log10_ev < high)
    return bins


def shower_figures(c: dict[str, np.ndarray]) -> dict:
    """The comparison's figures from per-event columns: truth (``TRUTH_COLUMNS``,
    ``shower_counters``, ``edge_distance``) and per method ``{method}_{reco column}``."""
    bins = energy_bins(c)
    chosen = bins["all"]
    report = {"selection": {"events": int(chosen.size), "selected": int(chosen.sum()),
                            "cuts": f"zenith < 45 deg, >= {MIN_SHOWER_COUNTERS} shower counters, core >= "
                                    f"{FIDUCIAL_MIN_EDGE_DISTANCE:g} m inside the edge, "
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


def composition_report(c: dict[str, np.ndarray], chosen: np.ndarray) -> dict:
    """Composition figures of the events ``chosen`` (see the module docstring)."""
    primary = c["true_primary"][chosen]
    p = {name: c[f"gnn_reco_p_{name}"][chosen] for name in PRIMARIES if f"gnn_reco_p_{name}" in c}
    truth = {name: primary == code for name, code in PRIMARIES.items()}
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


def compare_showers(truth_path: str | Path, reco_path: str | Path, plots: str | Path | None = None) -> dict:
    """Figures of the reconstruction in ``reco_path`` and of the detector's standard fit,
    run here on the hits of ``truth_path`` (which carries the ``true_*`` columns)."""
    reco = pq.read_table(reco_path)
    reco_ids = reco.column("event_id").to_numpy()
    gnn_columns = {name: reco.column(name).to_numpy() for name in reco.column_names
                   if name in RECO_COLUMNS or name.startswith(PROBABILITY_PREFIX)}
    hit_score = reco.column("hit_score") if "hit_score" in reco.column_names else None
    pieces: dict[str, list[np.ndarray]] = {}
    counter_pieces: dict[str, list[np.ndarray]] = {}
    for batch in read_events(truth_path):
        missing = [name for name in TRUTH_COLUMNS if name not in batch.events] + \
            (["true_label"] if "true_label" not in batch.hits else [])
        if missing:
            raise EventFormatError(str(truth_path), f"truth columns {missing} are needed to evaluate")
        detector = detectors.get(batch.detector)
        rows = reco_rows(reco_ids, batch.event_id, reco_path)
        sizes = np.diff(batch.offsets)
        event_of_hit = np.repeat(np.arange(sizes.size), sizes)
        columns = {name: batch.events[name] for name in TRUTH_COLUMNS}
        columns["shower_counters"] = np.bincount(event_of_hit, batch.hits["true_label"] == 1, minlength=sizes.size)
        columns["edge_distance"] = distance_to_edge(batch.events["true_core_x"], batch.events["true_core_y"])
        columns |= {f"gnn_{name}": values[rows] for name, values in gnn_columns.items()}
        if "true_primary" in batch.events:
            columns["true_primary"] = batch.events["true_primary"]
        baseline = detector.baseline(batch.offsets, batch.hits)
        columns |= {f"baseline_{name}": baseline[name] for name in RECO_COLUMNS if name in baseline}
        counters = {"shower_counter": batch.hits["true_label"] == 1, "baseline": baseline["hit_score"]}
        if hit_score is not None:
            counters["gnn"] = hit_values(hit_score, rows, sizes, batch.event_id, reco_path, "hit_score")
        for collected, batch_columns in ((pieces, columns), (counter_pieces, counters)):
            for name, values in batch_columns.items():
                collected.setdefault(name, []).append(np.asarray(values))
    c = {name: np.concatenate(values) for name, values in pieces.items()}
    counter_scores = {name: np.concatenate(values) for name, values in counter_pieces.items()}
    signal = counter_scores.pop("shower_counter")
    report = shower_figures(c)
    if "true_primary" in c and any(name.startswith("gnn_reco_p_") for name in c):
        report["composition"] = composition_report(c, energy_bins(c)["all"])
    if "gnn" in counter_scores:
        score = counter_scores["gnn"]
        precision, recall = precision_recall(signal, score >= 0.5)
        report["counters"] = {"counters": int(signal.size), "shower_fraction": round(float(signal.mean()), 4),
                              "precision": round(precision, 5), "recall": round(recall, 5),
                              "auc": round(roc_auc(signal, score), 5)}
    if plots is not None:
        from .shower_plots import draw_shower_comparison

        report["plots"] = [str(path) for path in draw_shower_comparison(c, Path(plots), signal, counter_scores)]
    return report
