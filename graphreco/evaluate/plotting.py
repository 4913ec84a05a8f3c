"""The figure toolkit every evaluation kind draws with: matplotlib's pyplot (``pyplot``),
the folder a comparison's PNGs go to (``FigureFolder``), what each PNG shows
(``FigureNote``, collected per kind in a module's ``FIGURES``) and the shared ROC drawing
(``draw_roc``).

Needs matplotlib (``pip install graphreco[plots]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..extras import require
from .metrics import efficiency_at_background, roc_curve, working_point

MIN_EVENTS = 10
"""Fewest events (or jets) behind a point of a binned curve or an energy histogram."""
ROC_POINTS = 300
"""Background efficiencies, log-spaced, at which a ROC curve is drawn (it has a point per
distinct score)."""
PURPOSE = "drawing plots"
"""What needs matplotlib, as the error of a missing extra names it."""


class FigureNote(NamedTuple):
    """What a PNG shows: ``kind`` (``roc``, ``resolution_vs_energy``, ``pulls``,
    ``coverage`` or ``other``) and a one-sentence ``caption``."""

    kind: str
    caption: str


def pyplot():
    """matplotlib's pyplot on the Agg backend; ``MissingExtra`` (an ImportError) saying
    how to install it."""
    require("matplotlib", "plots", PURPOSE).use("Agg")
    return require("matplotlib.pyplot", "plots", PURPOSE)


class FigureFolder:
    """Where a comparison's PNGs go: ``save`` writes and closes a figure, ``written``
    lists the files."""

    def __init__(self, folder: Path):
        self.plt = pyplot()
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.written: list[Path] = []

    def save(self, figure, name: str) -> None:
        figure.tight_layout()
        figure.savefig(self.folder / name, dpi=110)
        self.plt.close(figure)
        self.written.append(self.folder / name)


def draw_roc(axis, signal: np.ndarray, scores: dict[str, np.ndarray], colours: dict[str, str],
             markers: dict[str, str], xlabel: str, ylabel: str, title: str, min_background: float = 1e-3) -> None:
    """On ``axis``, the ROC of each method of ``scores`` (one score per hit, higher more
    signal-like; ``signal`` the bool labels), when there are both signal and background:
    a curve at ``ROC_POINTS`` background efficiencies labelled with its AUC, or for a
    score of at most two values its working point (an open marker, so that coinciding
    points show). Background efficiency on a log scale from ``min_background`` to 1."""
    grid = np.geomspace(min_background, 1.0, ROC_POINTS)
    if signal.any() and not signal.all():
        for name, score in scores.items():
            if np.unique(score).size <= 2:
                point = working_point(signal, score)
                axis.plot([point["background_efficiency"]], [point["signal_efficiency"]], markers[name], mfc="none",
                          ms=8, mew=2, color=colours[name], label=name)
            else:
                fpr, tpr, _ = roc_curve(signal, score)
                axis.plot(grid, efficiency_at_background(fpr, tpr, grid), color=colours[name],
                          label=f"{name} (AUC {np.trapezoid(tpr, fpr):.3f})")
    axis.set(xscale="log", xlim=(min_background, 1), ylim=(0, 1.02), xlabel=xlabel, ylabel=ylabel, title=title)
    axis.grid(alpha=0.3)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=8, loc="lower right")
