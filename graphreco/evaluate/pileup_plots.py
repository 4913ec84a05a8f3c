"""PNG figures of the pile-up comparison (GNN, PUPPI, SoftKiller, CHS, ...); ``FIGURES``
names each file, its kind and what it shows. ROC curves are drawn per population of
``particles.POPULATIONS`` by ``plotting.draw_roc`` (background efficiency on a log scale,
1e-3 to 1; methods with a 0/1 score are their working point). The jet response, overall
and versus reference-jet pT, comes from ``jets.jet_report``.

Needs matplotlib (``pip install graphreco[plots]``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .particles import POPULATIONS
from .plotting import MIN_EVENTS, FigureFolder, FigureNote, draw_roc

FIGURES = {
    "pileup_roc.png": FigureNote("roc", "Leading-interaction candidates kept against pile-up candidates kept, per "
                                        "population of candidates, one curve (or working point) per method."),
    "jet_response.png": FigureNote("other", "pT response of the matched leading-interaction reference jets, per "
                                            "method, with its median and resolution."),
    "jet_response_vs_pt.png": FigureNote("resolution_vs_energy", "Median pT response and pT resolution (half the "
                                         "16-84 % range over the median) of the matched jets per method, in bins of "
                                         "the leading-interaction reference jet pT (GeV)."),
}
VERSUS_PT = (("response_median", "median pT response (reco / reference)", 1.0),
             ("response_resolution", "pT resolution (half 16-84 % / median)", None))
"""Panels of the jet figure versus pT: the ``jets_vs_pt`` figure, its axis label and the
value of a perfect method (or None)."""


def draw_pileup_comparison(labels: np.ndarray, pt: np.ndarray, charge: np.ndarray, scores: dict[str, np.ndarray],
                           jets: dict | None, folder: Path) -> list[Path]:
    """Draw the ROC curves of ``scores`` (one per candidate, labels 1 = leading
    interaction, pT in GeV) and, when ``jets`` (a ``jet_report``) is given, the jet pT
    response, overall and versus reference-jet pT; returns the files written to ``folder``."""
    output = FigureFolder(folder)
    plt, save = output.plt, output.save
    labels = np.asarray(labels) == 1
    colours = {name: f"C{index}" for index, name in enumerate(scores)}
    markers = {name: "osD^v"[index % 5] for index, name in enumerate(scores)}   # open, so coinciding points show
    rows = -(-len(POPULATIONS) // 3)
    figure, axes = plt.subplots(rows, 3, figsize=(13, 4 * rows), squeeze=False)
    for axis in axes.flat[len(POPULATIONS):]:
        axis.set_visible(False)
    for axis, population in zip(axes.flat, POPULATIONS.values()):
        mask = population.select(pt, charge)
        draw_roc(axis, labels[mask], {name: np.asarray(score)[mask] for name, score in scores.items()}, colours,
                 markers, "pile-up candidates kept", "leading-interaction candidates kept",
                 f"{population.description}\n{mask.sum()} candidates")
    save(figure, "pileup_roc.png")

    if jets is not None and jets["methods"]:
        edges = np.asarray(jets["response_bin_edges"])
        figure, axis = plt.subplots(figsize=(6, 4))
        for name, method in jets["methods"].items():
            figures = method["jets"]
            label = name if "response_median" not in figures else \
                f"{name}: median {figures['response_median']:.3f}, resolution {figures['response_resolution']:.3f}"
            axis.stairs(figures["response_counts"], edges, color=colours.get(name), label=label)
        axis.axvline(1.0, color="grey", ls=":")
        axis.set(xlabel="jet pT response (reco / leading-interaction reference)", ylabel="matched jets",
                 title=f"{jets['reference']['jets']} reference jets ({jets['reference']['selection']})")
        axis.title.set_fontsize(8)
        axis.legend(fontsize=8)
        save(figure, "jet_response.png")
        _draw_versus_pt(output, jets, colours)
    return output.written


def _draw_versus_pt(output: FigureFolder, jets: dict, colours: dict[str, str]) -> None:
    """The panels of ``VERSUS_PT`` per method of ``jets`` (a ``jet_report``), a point per
    reference-jet pT bin (GeV; at its geometric centre, a bar across it) with at least
    ``MIN_EVENTS`` matched jets; nothing where no bin has that many."""
    edges = np.asarray(jets["reference_pt_bin_edges_gev"])
    centres = np.sqrt(edges[:-1] * edges[1:])
    curves = {name: [figures if figures["matched"] >= MIN_EVENTS else {} for figures in method["jets_vs_pt"].values()]
              for name, method in jets["methods"].items()}
    if not any(any(bins) for bins in curves.values()):
        return
    figure, axes = output.plt.subplots(1, len(VERSUS_PT), figsize=(10, 4))
    for axis, (key, label, target) in zip(axes, VERSUS_PT):
        for name, bins in curves.items():
            axis.errorbar(centres, [figures.get(key, np.nan) for figures in bins],
                          xerr=(centres - edges[:-1], edges[1:] - centres), fmt="o", color=colours.get(name),
                          label=name)
        if target is not None:
            axis.axhline(target, color="grey", ls=":")
        axis.set(xscale="log", xlim=(edges[0], edges[-1]), xlabel="reference jet pT (GeV)", ylabel=label)
        axis.set_xticks(edges, [f"{edge:g}" for edge in edges], fontsize=8)
        axis.minorticks_off()
    axes[0].legend(fontsize=8)
    output.save(figure, "jet_response_vs_pt.png")
