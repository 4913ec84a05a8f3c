"""PNG figures of an air-shower comparison (``air_showers.evaluate(..., plots=FOLDER)``):
the GNN and the standard fit on the events that pass the quality cuts, per quantity
(direction, log10 energy, core), and their counter selection on all events (the shared
ROC drawing, ``plotting.draw_roc``). ``FIGURES`` names each file, its kind and what it
shows.

Needs matplotlib (``pip install graphreco[plots]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ..detectors.base import ShowerCuts
from ..statistics import coverage
from .plotting import FigureFolder, FigureNote, draw_roc
from .resolution import angular_error
from .shower_metrics import ENERGY_BIN_EDGES, METHODS, energy_bins

LABELS = {"gnn": "GNN", "baseline": "standard fit"}
COLOURS = {LABELS[method]: f"C{index}" for index, method in enumerate(METHODS)}
"""Per method label: its colour in the counters' ROC (the order of the other figures)."""
FIGURES = {
    "counters_roc.png": FigureNote("roc", "Shower counters kept against accidental counters kept, all events: the "
                                          "GNN's hit_score as a curve (with its AUC), the counters the standard fit "
                                          "kept as a point."),
    "composition_roc.png": FigureNote("roc", "Composition of the selected showers: photon against proton and iron "
                                      "showers kept by a cut on p_photon, and proton against iron by a cut on "
                                      "p_proton / (p_proton + p_iron), with the AUCs"),
    "resolution_vs_energy.png": FigureNote("resolution_vs_energy", "68 % opening angle (deg), log10-energy error and "
                                           "core distance (m) of the GNN and the standard fit in bins of log10(E/eV)."),
    "coverage_vs_energy.png": FigureNote("coverage", "Fraction of events inside the reported 68 % cone, 1-sigma "
                                         "energy interval and 68 % core circle, in bins of log10(E/eV)."),
    "pulls.png": FigureNote("pulls", "Error over reported uncertainty for the direction (over the 68 % cone), the "
                                     "energy (|residual| over sigma) and the core (over the 68 % circle)."),
}


def _errors(c: dict, method: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per quantity: the error and the reported uncertainty of ``method``, per event."""
    truth = {name: c[name] for name in ("true_zenith", "true_azimuth")}
    reco = {name: c[f"{method}_{name}"] for name in ("reco_zenith", "reco_azimuth")}
    nan = np.full(c["true_energy"].size, np.nan)
    errors = {"direction (deg)": (np.degrees(angular_error(truth, reco)),
                                  np.degrees(c.get(f"{method}_reco_angle_sigma", nan))),
              "log10 energy": (np.abs(c[f"{method}_reco_log10_energy"] - np.log10(c["true_energy"])),
                               c.get(f"{method}_reco_log10_energy_sigma", nan)),
              "core (m)": (np.hypot(c[f"{method}_reco_core_x"] - c["true_core_x"],
                                    c[f"{method}_reco_core_y"] - c["true_core_y"]),
                           c.get(f"{method}_reco_core_sigma", nan))}
    return errors


def _q68(errors: np.ndarray) -> float:
    """68 % quantile of the finite errors (NaN without any)."""
    finite = errors[np.isfinite(errors)]
    return float(np.quantile(finite, 0.68)) if finite.size else np.nan


def _coverage(errors: np.ndarray, sigma: np.ndarray) -> float:
    """Fraction of the events with a finite error and uncertainty whose error is within
    it (NaN without any)."""
    finite = np.isfinite(errors) & np.isfinite(sigma)
    return coverage(errors[finite], sigma[finite]) if finite.any() else np.nan


def _draw_versus_energy(figures: FigureFolder, c: dict[str, np.ndarray], methods: list[str],
                        per_energy: list[np.ndarray], statistic: Callable[[np.ndarray, np.ndarray], float],
                        ylabel: str, name: str, target: float | None = None) -> None:
    """One panel per quantity of ``_errors``: ``statistic(error, uncertainty)`` of each
    method in each energy bin, with the ``target`` line where one is given."""
    edges = np.asarray(ENERGY_BIN_EDGES)
    centres = (edges[:-1] + edges[1:]) / 2
    figure, axes = figures.plt.subplots(1, 3, figsize=(13, 4))
    for method in methods:
        for axis, (quantity, (error, sigma)) in zip(axes, _errors(c, method).items()):
            values = [statistic(error[in_bin], sigma[in_bin]) for in_bin in per_energy]
            axis.plot(centres, values, "o-", label=LABELS[method])
            axis.set(xlabel="log10(E / eV)", ylabel=f"{ylabel}, {quantity}")
    if target is not None:
        for axis in axes:
            axis.axhline(target, color="grey", linestyle=":")
    axes[0].legend()
    figures.save(figure, name)


def _draw_counters_roc(figures: FigureFolder, signal: np.ndarray, counter_scores: dict[str, np.ndarray]) -> None:
    """ROC of each method's counter selection (``draw_roc``: a curve, or a point where
    the score is 0/1), shower counters (``signal``) against accidentals, from the decade
    where one accidental kept shows (the standard fit keeps few)."""
    scores = {LABELS[method]: counter_scores[method] for method in METHODS if method in counter_scores}
    accidentals = int((~signal).sum())
    figure, axis = figures.plt.subplots(figsize=(5, 4))
    draw_roc(axis, signal, scores, COLOURS, dict.fromkeys(COLOURS, "o"), "accidental counters kept",
             "shower counters kept", f"{signal.sum()} shower, {accidentals} accidental counters",
             min_background=10.0 ** np.floor(np.log10(1 / accidentals)))
    figures.save(figure, "counters_roc.png")


def _draw_composition_roc(figures: FigureFolder, c: dict[str, np.ndarray], primaries: Mapping[str, int]) -> None:
    """ROC of the composition stage on the selected events: photon against hadron
    showers (``p_photon``), proton against iron (``p_proton / (p_proton + p_iron)``);
    ``primaries`` the PDG id (``true_primary``) of each class."""
    primary = c["true_primary"]
    proton = primary == primaries["proton"]
    hadron, photon = proton | (primary == primaries["iron"]), primary == primaries["photon"]
    proton_share = c["gnn_reco_p_proton"] / np.maximum(c["gnn_reco_p_proton"] + c["gnn_reco_p_iron"], 1e-12)
    figure, axes = figures.plt.subplots(1, 2, figsize=(10, 4))
    for axis, events, signal, score, (signal_name, background_name) in (
            (axes[0], photon | hadron, photon, c["gnn_reco_p_photon"], ("photon", "hadron")),
            (axes[1], hadron, proton, proton_share, ("proton", "iron"))):
        background = int((events & ~signal).sum())
        draw_roc(axis, signal[events], {LABELS["gnn"]: score[events]}, COLOURS, dict.fromkeys(COLOURS, "o"),
                 f"{background_name} showers kept", f"{signal_name} showers kept",
                 f"{signal_name} vs {background_name}, {int(signal[events].sum())} / {background} showers",
                 min_background=10.0 ** np.floor(np.log10(1 / max(background, 1))))
    figures.save(figure, "composition_roc.png")


def draw_shower_comparison(c: dict[str, np.ndarray], folder: Path, signal: np.ndarray,
                           counter_scores: dict[str, np.ndarray], cuts: ShowerCuts,
                           primaries: Mapping[str, int]) -> list[Path]:
    """Draw the figures of ``FIGURES`` into ``folder`` from the per-event columns ``c``
    (on the events that pass ``cuts``) and, per counter of all events, ``signal`` (hit by
    the shower, else accidental) and each method's ``hit_score`` (``counter_scores``:
    ``gnn``, ``baseline``); the counters' ROC only with both kinds of counter, the
    composition ROC with the ``primaries`` (class -> PDG id) of ``true_primary``. Returns
    their paths."""
    figures = FigureFolder(folder)
    bins = energy_bins(c, cuts)
    chosen, per_energy = bins.pop("all"), list(bins.values())
    methods = [m for m in METHODS if f"{m}_reco_zenith" in c]
    _draw_versus_energy(figures, c, methods, per_energy, lambda error, _: _q68(error), "68 % error",
                        "resolution_vs_energy.png")
    _draw_versus_energy(figures, c, methods, per_energy, _coverage, "coverage", "coverage_vs_energy.png",
                        target=0.68)
    figure, axes = figures.plt.subplots(1, 3, figsize=(13, 4))
    for method in methods:
        for axis, (name, (error, sigma)) in zip(axes, _errors(c, method).items()):
            pull = (error / sigma)[chosen]
            pull = pull[np.isfinite(pull)]
            if pull.size:
                axis.hist(np.clip(pull, 0, 5), bins=50, range=(0, 5), histtype="step", density=True,
                          label=f"{LABELS[method]} ({np.mean(pull <= 1):.2f} within)")
            axis.set(xlabel=f"error / reported uncertainty, {name}")
    for axis in axes:
        axis.axvline(1.0, color="grey", linestyle=":")
        axis.legend()
    figures.save(figure, "pulls.png")
    if signal.any() and not signal.all():
        _draw_counters_roc(figures, signal, counter_scores)
    if "true_primary" in c and {"gnn_reco_p_photon", "gnn_reco_p_proton", "gnn_reco_p_iron"} <= set(c):
        _draw_composition_roc(figures, {name: values[chosen] for name, values in c.items()}, primaries)
    return figures.written
