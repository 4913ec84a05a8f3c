"""PNG figures of an air-shower comparison (``compare_showers(..., plots=FOLDER)``).

- ``resolution_vs_energy.png``: 68 % opening angle (deg), log10-energy resolution and
  68 % core distance (m) of the GNN and the standard fit in bins of log10(E/eV), on the
  events that pass the quality cuts;
- ``pulls.png``: error over reported uncertainty for the direction (over the 68 % cone),
  the energy (|residual| over sigma) and the core (over the 68 % circle), with the
  line where 68 % of a calibrated method's events fall.

Needs matplotlib (``pip install graphreco[plots]``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .plots import FigureFolder
from .resolution import angular_error
from .shower_compare import ENERGY_BIN_EDGES, METHODS, energy_bins

LABELS = {"gnn": "GNN", "baseline": "standard fit"}


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


def draw_shower_comparison(c: dict[str, np.ndarray], folder: Path) -> list[Path]:
    """Draw the figures of the module docstring into ``folder``; returns their paths."""
    figures = FigureFolder(folder)
    plt = figures.plt
    bins = energy_bins(c)
    chosen, per_energy = bins.pop("all"), list(bins.values())
    edges = np.asarray(ENERGY_BIN_EDGES)
    centres = (edges[:-1] + edges[1:]) / 2
    methods = [m for m in METHODS if f"{m}_reco_zenith" in c]
    figure, axes = plt.subplots(1, 3, figsize=(13, 4))
    for method in methods:
        for axis, (name, (error, _)) in zip(axes, _errors(c, method).items()):
            q68 = [_q68(error[in_bin]) for in_bin in per_energy]
            axis.plot(centres, q68, "o-", label=LABELS[method])
            axis.set(xlabel="log10(E / eV)", ylabel=f"68 % error, {name}")
    axes[0].legend()
    figures.save(figure, "resolution_vs_energy.png")
    figure, axes = plt.subplots(1, 3, figsize=(13, 4))
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
    return figures.written
