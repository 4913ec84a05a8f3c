"""PNG figures of the pile-up comparison (GNN, PUPPI, SoftKiller, CHS, ...); ``FIGURES``
names each file, its kind and what it shows. ROC curves are drawn per population of
``pileup.POPULATIONS`` (background efficiency on a log scale, 1e-3 to 1); methods with a
0/1 score are their working point. The jet response comes from ``jets.jet_report``.

Needs matplotlib (``pip install graphreco[plots]``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .metrics import roc_curve
from .pileup import POPULATIONS, efficiency_at_background, working_point
from .plots import FigureFolder, FigureNote

FIGURES = {
    "pileup_roc.png": FigureNote("roc", "Leading-interaction candidates kept against pile-up candidates kept, per "
                                        "population of candidates, one curve (or working point) per method."),
    "jet_response.png": FigureNote("other", "pT response of the matched leading-interaction reference jets, per "
                                            "method, with its median and resolution."),
}
BACKGROUND_GRID = np.geomspace(1e-3, 1.0, 300)
"""Background efficiencies at which a ROC curve is drawn (it has a point per distinct score)."""


def draw_pileup_comparison(labels: np.ndarray, pt: np.ndarray, charge: np.ndarray, scores: dict[str, np.ndarray],
                           jets: dict | None, folder: Path) -> list[Path]:
    """Draw the ROC curves of ``scores`` (one per candidate, labels 1 = leading
    interaction, pT in GeV) and, when ``jets`` (a ``jet_report``) is given, the jet pT
    response; returns the files written to ``folder``."""
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
        for name, score in scores.items():
            signal, score = labels[mask], np.asarray(score)[mask]
            if signal.all() or not signal.any():
                continue
            if np.unique(score).size <= 2:
                point = working_point(signal, score)
                axis.plot([point["background_efficiency"]], [point["signal_efficiency"]], markers[name], mfc="none",
                          ms=8, mew=2, color=colours[name], label=name)
            else:
                fpr, tpr, _ = roc_curve(signal, score)
                axis.plot(BACKGROUND_GRID, efficiency_at_background(fpr, tpr, BACKGROUND_GRID), color=colours[name],
                          label=f"{name} (AUC {np.trapezoid(tpr, fpr):.3f})")
        axis.set(xscale="log", xlim=(1e-3, 1), ylim=(0, 1.02), xlabel="pile-up candidates kept",
                 ylabel="leading-interaction candidates kept",
                 title=f"{population.description}\n{mask.sum()} candidates")
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8, loc="lower right")
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
    return output.written
