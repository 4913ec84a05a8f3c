"""PNG figures of the ``neutrino_events`` evaluation (``neutrino_events.evaluate(...,
plots=FOLDER)``): the GNN and the detector's baseline on the same events. ``FIGURES``
names each file, its kind and what it shows.

Needs matplotlib (``pip install graphreco[plots]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..statistics import ONE_SIGMA
from .metrics import precision_recall, roc_curve
from .neutrino_metrics import NEUTRINO_KINDS, TRUTH_COLUMNS, regression_figures
from .plotting import MIN_EVENTS, FigureFolder, FigureNote
from .resolution import angular_error

HIT_BINS = np.array([1, 6, 10, 15, 20, 30, 45, 70, 100, 1000])
ENERGY_BIN_EDGES = np.arange(1.0, 6.01, 0.5)
"""log10(E/GeV) bins of the figures versus energy (the simulation spans 10 GeV - 1 PeV)."""


FIGURES = {
    "hits_roc.png": FigureNote("roc", "Signal-hit ROC of the GNN's hit_score on neutrino events; the baseline's "
                                      "cleaned hits as a point."),
    "events_rejection.png": FigureNote("roc", "numu CC efficiency against atmospheric-muon (EAS) rejection of "
                                              "event_score, GNN and baseline."),
    "resolution_vs_energy.png": FigureNote("resolution_vs_energy", "68 % angular error (GNN and baseline fit) and "
                                           "log10-energy resolution (GNN) per neutrino kind, in bins of true energy."),
    "pulls.png": FigureNote("pulls", "Error over reported uncertainty of the GNN, for the angle (over the 68 % cone) "
                                     "and log10 energy (over sigma), neutrino events."),
    "coverage_vs_energy.png": FigureNote("coverage", "Fraction of events inside the reported 68 % cone and 1-sigma "
                                         "energy interval per neutrino kind, in bins of true energy."),
    "direction_vs_signal_hits.png": FigureNote("other", "Median and 68 % angular error of numu CC events versus "
                                                        "their number of signal hits."),
    **{f"energy_{kind}.png": FigureNote("other", f"Reconstructed against true log10 energy of {kind} events (GNN).")
       for kind in NEUTRINO_KINDS},
}


def _errors_deg(c: dict, method: str, mask: np.ndarray) -> np.ndarray:
    truth = {name: c[name][mask] for name in ("true_zenith", "true_azimuth")}
    reco = {name: c[f"{method}_{name}"][mask] for name in ("reco_zenith", "reco_azimuth")}
    return np.degrees(angular_error(truth, reco))


class Panel(NamedTuple):
    """One axis of a figure versus energy: ``figure`` of the ``quantity`` reports
    (``direction`` or ``energy``) of ``neutrino_metrics.regression_figures``, with its
    label, the value a calibrated method reaches (or None) and the y scale."""

    quantity: str
    figure: str
    label: str
    target: float | None
    yscale: str


VERSUS_ENERGY = {
    "resolution_vs_energy.png": (Panel("direction", "q68_deg", "68 % angular error (deg)", None, "log"),
                                 Panel("energy", "resolution_log10", "log10 E resolution", None, "linear")),
    "coverage_vs_energy.png": (Panel("direction", "coverage_68_cone", "fraction inside the 68 % cone", 0.68, "linear"),
                               Panel("energy", "coverage_1_sigma", "fraction inside 1 sigma of log10 E", ONE_SIGMA,
                                     "linear")),
}
METHOD_STYLES = {"gnn": ("GNN", "o-"), "baseline": ("baseline", "s--")}


def _figures_by_energy(c: dict[str, np.ndarray]) -> list[dict]:
    """The comparison's direction and energy figures
    (``neutrino_metrics.regression_figures``) of the events in each bin of
    ``ENERGY_BIN_EDGES``."""
    which = np.digitize(np.log10(c["true_energy"]), ENERGY_BIN_EDGES) - 1
    per_event = [name for name in c if name in (*TRUTH_COLUMNS, "kind", "signal_hits") or "_reco_" in name]
    return [regression_figures({name: c[name][which == b] for name in per_event})
            for b in range(ENERGY_BIN_EDGES.size - 1)]


def _curves(bins: list[dict], panel: Panel) -> dict[tuple[str, str], np.ndarray]:
    """Per (neutrino kind, method) with at least one point: the panel's figure in each
    energy bin, NaN where the bin has fewer than ``MIN_EVENTS`` events."""
    curves = {}
    for kind in NEUTRINO_KINDS:
        for method in METHOD_STYLES:
            entries = [figures.get(panel.quantity, {}).get(kind, {}).get(method, {}) for figures in bins]
            values = np.array([entry[panel.figure] if entry.get("events", 0) >= MIN_EVENTS
                               and entry.get(panel.figure) is not None else np.nan for entry in entries])
            if np.isfinite(values).any():
                curves[kind, method] = values
    return curves


def _draw_versus_energy(figures: FigureFolder, c: dict[str, np.ndarray]) -> None:
    """The figures of ``VERSUS_ENERGY`` that have at least one point."""
    bins = _figures_by_energy(c)
    centres = (ENERGY_BIN_EDGES[:-1] + ENERGY_BIN_EDGES[1:]) / 2
    for name, panels in VERSUS_ENERGY.items():
        curves = [_curves(bins, panel) for panel in panels]
        if not any(curves):
            continue
        figure, axes = figures.plt.subplots(1, len(panels), figsize=(10, 4))
        for axis, panel, panel_curves in zip(axes, panels, curves):
            for (kind, method), values in panel_curves.items():
                label, style = METHOD_STYLES[method]
                axis.plot(centres, values, style, color=f"C{NEUTRINO_KINDS.index(kind)}", label=f"{kind}, {label}")
            if panel.target is not None:
                axis.axhline(panel.target, color="grey", ls=":")
            axis.set(xlabel="true log10(E / GeV)", ylabel=panel.label, yscale=panel.yscale)
            if panel_curves:
                axis.legend(fontsize=8)
        figures.save(figure, name)


def draw_comparison(c: dict[str, np.ndarray], folder: Path) -> list[Path]:
    """Draw every figure the columns ``c`` (from ``neutrino_events.evaluate``) allow; returns the files."""
    figures = FigureFolder(folder)
    plt, save = figures.plt, figures.save
    neutrino_hits = np.isin(c["hit_kind"], NEUTRINO_KINDS)
    if "gnn_hit" in c and neutrino_hits.any():
        figure, axis = plt.subplots(figsize=(5, 4))
        fpr, tpr, _ = roc_curve(c["signal"][neutrino_hits], c["gnn_hit"][neutrino_hits])
        axis.plot(fpr, tpr, label="GNN hit selection")
        precision, recall = precision_recall(c["signal"][neutrino_hits], c["base_hit"][neutrino_hits] > 0.5)
        kept = c["base_hit"][neutrino_hits] > 0.5
        noise = ~c["signal"][neutrino_hits]
        axis.plot([kept[noise].mean()], [recall], "o", label=f"baseline (P {precision:.3f}, R {recall:.3f})")
        axis.set(xscale="log", xlim=(1e-4, 1), xlabel="noise hits kept", ylabel="signal hits kept",
                 title="Hit selection, neutrino events")
        axis.legend()
        save(figure, "hits_roc.png")

    numu, eas = c["kind"] == "numu_cc", c["kind"] == "eas"
    if numu.any() and eas.any() and "gnn_event" in c:
        figure, axis = plt.subplots(figsize=(5, 4))
        for key, label in (("gnn_event", "GNN background suppression"), ("base_event", "baseline")):
            fpr, tpr, _ = roc_curve(np.r_[np.ones(numu.sum()), np.zeros(eas.sum())], np.r_[c[key][numu], c[key][eas]])
            passing = fpr > 0
            axis.plot(tpr[passing], 1 / fpr[passing], label=label)
        axis.set(yscale="log", xlabel="numu CC efficiency", ylabel="atmospheric-muon rejection",
                 title=f"{numu.sum()} numu CC, {eas.sum()} EAS events")
        axis.legend()
        save(figure, "events_rejection.png")

    if numu.any() and "gnn_reco_zenith" in c:
        figure, axis = plt.subplots(figsize=(5, 4))
        centres = np.sqrt(HIT_BINS[:-1] * HIT_BINS[1:])
        for method, label, style in (("gnn", "GNN", "-"), ("base", "baseline fit", "--")):
            if f"{method}_reco_zenith" not in c:
                continue
            errors = _errors_deg(c, method, numu)
            which = np.digitize(c["signal_hits"][numu], HIT_BINS) - 1
            for quantile, marker in ((0.5, "o"), (0.68, "s")):
                values = [np.nanquantile(errors[which == b], quantile)
                          if np.isfinite(errors[which == b]).sum() >= MIN_EVENTS else np.nan
                          for b in range(len(centres))]
                axis.plot(centres, values, style + marker, label=f"{label}, {int(quantile * 100)} % quantile")
        axis.set(xscale="log", yscale="log", xlabel="signal hits", ylabel="angular error (deg)",
                 title="numu CC direction")
        axis.legend(fontsize=8)
        save(figure, "direction_vs_signal_hits.png")

    if "gnn_reco_log10_energy" in c:
        for kind in NEUTRINO_KINDS:
            mask = (c["kind"] == kind) & np.isfinite(c["gnn_reco_log10_energy"])
            if mask.sum() < MIN_EVENTS:
                continue
            figure, axis = plt.subplots(figsize=(5, 4))
            true = np.log10(c["true_energy"][mask])
            axis.hist2d(true, c["gnn_reco_log10_energy"][mask], bins=40, cmin=1)
            axis.plot([true.min(), true.max()], [true.min(), true.max()], "w--", lw=1)
            axis.set(xlabel="true log10(E / GeV)", ylabel="reconstructed log10(E / GeV)", title=f"{kind} energy (GNN)")
            save(figure, f"energy_{kind}.png")
    if set(TRUTH_COLUMNS) <= set(c):
        _draw_versus_energy(figures, c)

    pulls = {}
    neutrino = np.isin(c["kind"], NEUTRINO_KINDS)
    if "gnn_reco_angle_sigma" in c:
        pulls["angle / 68 % cone"] = np.radians(_errors_deg(c, "gnn", neutrino)) / c["gnn_reco_angle_sigma"][neutrino]
    if "gnn_reco_log10_energy_sigma" in c:
        residual = c["gnn_reco_log10_energy"][neutrino] - np.log10(c["true_energy"][neutrino])
        pulls["|log10 E error| / sigma"] = np.abs(residual) / c["gnn_reco_log10_energy_sigma"][neutrino]
    if pulls:
        figure, axis = plt.subplots(figsize=(5, 4))
        for label, values in pulls.items():
            values = values[np.isfinite(values)]
            axis.hist(values, bins=np.linspace(0, 4, 81), histtype="step", density=True,
                      label=f"{label}: {np.mean(values <= 1):.3f} inside")
        axis.axvline(1.0, color="grey", ls=":")
        axis.set(xlabel="error / reported uncertainty", ylabel="density", title="Uncertainty coverage (target 0.68)")
        axis.legend(fontsize=8)
        save(figure, "pulls.png")
    return figures.written
