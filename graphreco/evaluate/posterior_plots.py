"""Posterior samples of a few example events, drawn beside their point estimate's cone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..sky import to_chart
from ..statistics import unit_vectors
from .plotting import FigureFolder, FigureNote
from .posteriors import kde_log_densities

NAME = "posterior_examples.png"
NOTE = FigureNote("other", "Posterior samples of four example events in the tangent plane about the point estimate "
                           "(deg; darker: inside the 68 % HPD region, lighter: inside 90 %), the point estimate's "
                           "68 % cone (circle) and the truth (star); from the narrowest to the widest cone.")
EXAMPLES = 4


def draw_posterior_examples(c: dict[str, np.ndarray], chosen: np.ndarray, folder: Path) -> list[Path]:
    """Draw ``NAME`` for ``EXAMPLES`` events of the mask ``chosen`` with samples (spread
    over the range of their cones) from the columns ``c`` (truth, ``gnn_reco_*`` and the
    samples, as ``posteriors.population_figures`` reads them); returns the file, or
    nothing when no event has samples."""
    usable = np.flatnonzero(chosen & np.all(np.isfinite(c["gnn_reco_posterior_zenith"]), axis=1)
                            & np.isfinite(c["gnn_reco_angle_sigma"]))
    if usable.size == 0:
        return []
    ordered = usable[np.argsort(c["gnn_reco_angle_sigma"][usable])]
    events = ordered[np.linspace(0, ordered.size - 1, min(EXAMPLES, ordered.size)).astype(int)]
    figures = FigureFolder(folder)
    figure, axes = figures.plt.subplots(1, events.size, figsize=(3.2 * events.size, 3.4), squeeze=False)
    for axis, event in zip(axes[0], events, strict=True):
        centre = (c["gnn_reco_zenith"][[event]], c["gnn_reco_azimuth"][[event]])
        samples = np.degrees(to_chart(*centre, unit_vectors(c["gnn_reco_posterior_zenith"][event],
                                                            c["gnn_reco_posterior_azimuth"][event])[:, None, :]))[:, 0]
        truth = np.degrees(to_chart(*centre, unit_vectors(c["true_zenith"][[event]], c["true_azimuth"][[event]])))[0]
        at_samples, _ = kde_log_densities(*centre, c["gnn_reco_posterior_zenith"][[event]],
                                          c["gnn_reco_posterior_azimuth"][[event]], c["true_zenith"][[event]],
                                          c["true_azimuth"][[event]])
        rank = np.argsort(np.argsort(-at_samples[0])) / at_samples.shape[1]  # HPD level of each sample
        for upper, colour in ((1.0, "0.8"), (0.9, "tab:blue"), (0.68, "navy")):
            inside = rank < upper
            axis.scatter(samples[inside, 1], samples[inside, 0], s=3, color=colour, linewidths=0)
        radius = np.degrees(c["gnn_reco_angle_sigma"][event])
        angle = np.linspace(0, 2 * np.pi, 200)
        axis.plot(radius * np.cos(angle), radius * np.sin(angle), color="tab:orange", label="68 % cone")
        axis.plot(truth[1], truth[0], "*", color="tab:red", markersize=10, label="truth")
        limit = 1.15 * max(np.percentile(np.abs(samples), 95), np.abs(truth).max())
        axis.set(aspect="equal", xlim=(-limit, limit), ylim=(-limit, limit), xlabel="towards larger azimuth (deg)",
                 ylabel="towards larger zenith (deg)", title=f"cone {radius:.1f} deg")
    axes[0][0].legend(fontsize=7, loc="upper left")
    figures.save(figure, NAME)
    return figures.written
