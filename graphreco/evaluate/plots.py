"""PNG figures of a comparison (``compare_with_baseline(..., plots=FOLDER)``): the GNN
and the detector's baseline on the same events.

- ``hits_roc.png``: signal-hit ROC of ``hit_score`` (neutrino events), the baseline's
  kept hits as a point;
- ``events_rejection.png``: numu CC efficiency vs atmospheric-muon rejection;
- ``direction_vs_signal_hits.png``: median and 68 % angular error of numu CC events
  versus their number of signal hits;
- ``energy_numu_cc.png`` and friends: reconstructed vs true log10 energy;
- ``pulls.png``: error over reported uncertainty, for the angle (over the 68 % cone)
  and log10 energy (over sigma), with the 68 % line.

Needs matplotlib (``pip install graphreco[plots]``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .compare import NEUTRINO_KINDS
from .metrics import precision_recall, roc_curve
from .resolution import angular_error

HIT_BINS = np.array([1, 6, 10, 15, 20, 30, 45, 70, 100, 1000])


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'graphreco[plots]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


class FigureFolder:
    """Where a comparison's PNGs go: ``save`` writes and closes a figure, ``written``
    lists the files."""

    def __init__(self, folder: Path):
        self.plt = _pyplot()
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.written: list[Path] = []

    def save(self, figure, name: str) -> None:
        figure.tight_layout()
        figure.savefig(self.folder / name, dpi=110)
        self.plt.close(figure)
        self.written.append(self.folder / name)


def _errors_deg(c: dict, method: str, mask: np.ndarray) -> np.ndarray:
    truth = {name: c[name][mask] for name in ("true_zenith", "true_azimuth")}
    reco = {name: c[f"{method}_{name}"][mask] for name in ("reco_zenith", "reco_azimuth")}
    return np.degrees(angular_error(truth, reco))


def draw_comparison(c: dict[str, np.ndarray], folder: Path) -> list[Path]:
    """Draw every figure the columns ``c`` (from compare_with_baseline) allow; returns the files."""
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
                values = [np.nanquantile(errors[which == b], quantile) if np.isfinite(errors[which == b]).sum() >= 10
                          else np.nan for b in range(len(centres))]
                axis.plot(centres, values, style + marker, label=f"{label}, {int(quantile * 100)} % quantile")
        axis.set(xscale="log", yscale="log", xlabel="signal hits", ylabel="angular error (deg)",
                 title="numu CC direction")
        axis.legend(fontsize=8)
        save(figure, "direction_vs_signal_hits.png")

    if "gnn_reco_log10_energy" in c:
        for kind in NEUTRINO_KINDS:
            mask = (c["kind"] == kind) & np.isfinite(c["gnn_reco_log10_energy"])
            if mask.sum() < 10:
                continue
            figure, axis = plt.subplots(figsize=(5, 4))
            true = np.log10(c["true_energy"][mask])
            axis.hist2d(true, c["gnn_reco_log10_energy"][mask], bins=40, cmin=1)
            axis.plot([true.min(), true.max()], [true.min(), true.max()], "w--", lw=1)
            axis.set(xlabel="true log10(E / GeV)", ylabel="reconstructed log10(E / GeV)", title=f"{kind} energy (GNN)")
            save(figure, f"energy_{kind}.png")

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
