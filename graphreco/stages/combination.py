"""Combination: the energy and core of the refit and of the network, combined per event.

With ``energy`` the log10 E is the refit's corrected by a linear regression on features
the detector declares (``Detector.energy_combination``; TA SD: the composition stage's
probabilities, the network's own energy and both uncertainties): ``fit_log10_energy +
features @ combination``, for the events where the fit gave an energy with an
uncertainty, the network's log10 E is at least ``combine_from`` and the two lie within
``combine_within`` decades (a fit far from the network is the one that failed: a core
outside the array, an S800 extrapolated); the others keep the network's. With ``core``
the core is ``(1 - core_refit_weight)`` times the network's plus ``core_refit_weight``
times the refit's, where the fit gave one.

``calibrate_on`` fixes, on a validation sample, the regression's weights (least squares
on the events inside the detector's fiducial cut whose true energy lies in
``combination_range``), the refit core's weight (the one of ``CORE_WEIGHTS`` with the
smallest 68 % core distance), then (``scales_on``, alone when ``graphreco calibrate``
keeps the weights) the scales of the combined events' log10-energy
sigma (``energy_scale_combined``) and of the core's 68 % circle (``core_scale``) per
calibration bin (``stages.calibration``; with ``fiducial`` the cut of the combined zenith
and core). Nothing in it is trained by gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import detectors
from ..detectors.base import EnergyCombination
from ..statistics import ONE_SIGMA
from .base import StageGraph
from .calibration import N_HIT_BINS, Group, calibration_bins, estimate_all, fit_scales, initial_scales
from .energy_direction import core_error, direction_targets, stacked_targets
from .inputs import StageInput
from .likelihoods import CONTAINMENT
from .untrained import UntrainedStage

ENERGY_COLUMNS = ("reco_log10_energy", "reco_log10_energy_sigma")
CORE_COLUMNS = ("reco_core_x", "reco_core_y", "reco_core_sigma")
CORE_WEIGHTS = np.linspace(0.0, 1.0, 21)
"""The refit core's weights ``calibrate_on`` chooses among."""


class Combination(UntrainedStage):
    """The refit's and the network's energy and core, combined per event."""

    energy_scales = ("energy_scale_combined",)

    def __init__(self, threshold: float = 0.5, min_hits: int = 4, fiducial: bool = False, energy: bool = False,
                 combination_columns: Sequence[str] = (), combination: Sequence[float] | None = None,
                 combination_range: Sequence[float] | None = None, combine_from: float | None = None,
                 combine_within: float | None = None, energy_scale_combined: Sequence[float] | None = None,
                 core: bool = False, core_refit_weight: float = 0.0, core_scale: Sequence[float] | None = None):
        super().__init__()
        if not (energy or core):
            raise ValueError("a combination stage combines the energy, the core or both")
        self.config = {"threshold": threshold, "min_hits": min_hits}
        if fiducial:
            self.config["fiducial"] = True
        if energy:
            if not combination_columns:
                raise ValueError("combining the energy needs combination_columns: the event columns the detector's "
                                 "energy combination reads (Detector.energy_combination.columns)")
            self.config |= {"energy": True, "combination_columns": list(combination_columns),
                            "combination": None if combination is None else [float(w) for w in combination],
                            "combination_range": None if combination_range is None else list(combination_range),
                            "combine_from": combine_from, "combine_within": combine_within}
            self.config |= initial_scales(("energy_scale_combined",), {"energy_scale_combined": energy_scale_combined},
                                          self.calibration_bins)
        if core:
            self.config |= {"core": True, "core_refit_weight": float(core_refit_weight)}
            self.config |= initial_scales(("core_scale",), {"core_scale": core_scale}, self.calibration_bins)

    @property
    def reads(self) -> tuple[str, ...]:
        columns = ("hit_score", "reco_zenith", "reco_azimuth")
        if self.config.get("energy"):
            columns += ENERGY_COLUMNS + ("fit_log10_energy", "fit_log10_energy_sigma",
                                         *self.config["combination_columns"])
        if self.config.get("core") or self.config.get("fiducial"):
            columns += CORE_COLUMNS + (("fit_core_x", "fit_core_y") if self.config.get("core") else ())
        return columns

    @property
    def writes(self) -> tuple[str, ...]:
        return ((ENERGY_COLUMNS if self.config.get("energy") else ())
                + (CORE_COLUMNS if self.config.get("core") else ()))

    def training_graph(self, inputs: StageInput) -> StageGraph:
        """Targets: ``true_log10_energy`` (events,) log10 E/GeV and ``true_core``
        (events, 2) m (with ``core``), for ``calibrate_on``."""
        return self.input_graph(inputs).with_targets(direction_targets(inputs, bool(self.config.get("core"))))

    def energy_combination(self, detector: detectors.Detector) -> EnergyCombination:
        """The detector's energy combination, checked against the stage config: the event
        columns it reads are ``combination_columns`` and its features as many as the
        weights in ``combination``; ``ValueError`` names what disagrees."""
        combination = detector.energy_combination
        if combination is None:
            raise ValueError(f"{detector.name} has no energy combination; set energy to false")
        if list(combination.columns) != self.config["combination_columns"]:
            raise ValueError(f"combination_columns {self.config['combination_columns']} are not the columns "
                             f"{list(combination.columns)} that {detector.name}'s energy combination reads")
        weights = self.config["combination"]
        if weights is not None and len(weights) != combination.n_features:
            raise ValueError(f"combination needs {combination.n_features} weights ({detector.name}'s energy "
                             f"combination features), got {len(weights)}: calibrate the stage again")
        return combination

    def estimates(self, stage_graph: StageGraph) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Output columns (float64) of a graph from ``input_graph`` (with ``energy`` also
        the ``combination_features`` and the ``fit_log10_energy``; with ``core`` the network's and the fit's cores,
        ``gnn_core`` and ``fit_core``, (events, 2) m); which events took the combined
        energy, and each event's calibration bin."""
        values, selection = stage_graph.values, stage_graph.events
        kept = np.diff(selection.offsets)
        columns, is_combined = {}, np.zeros(kept.size, dtype=bool)
        if self.config.get("energy"):
            energy, sigma = values["reco_log10_energy"].copy(), values["reco_log10_energy_sigma"].copy()
            fit_energy = values["fit_log10_energy"]
            combination = self.energy_combination(detectors.get(selection.detector))
            inputs = np.stack([values[name] for name in self.config["combination_columns"]], axis=1)
            features = combination.features(fit_energy, values["fit_log10_energy_sigma"], values["reco_zenith"],
                                            energy, sigma, inputs, kept)
            columns |= {"combination_features": features, "fit_log10_energy": fit_energy}
            if self.config["combination"] is not None:
                is_combined = self.combines(fit_energy, energy)
                energy[is_combined] = fit_energy[is_combined] + features[is_combined] @ self.config["combination"]
            columns |= {"reco_log10_energy": energy, "reco_log10_energy_sigma": sigma}
        if self.config.get("core") or self.config.get("fiducial"):
            position = np.stack([values["reco_core_x"], values["reco_core_y"]], axis=1)
            if self.config.get("core"):
                fit_core = np.stack([values["fit_core_x"], values["fit_core_y"]], axis=1)
                columns |= {"gnn_core": position, "fit_core": fit_core}
                position = self.blend_cores(position, fit_core, self.config["core_refit_weight"])
            columns |= {"reco_core_x": position[:, 0], "reco_core_y": position[:, 1],
                        "reco_core_sigma": values["reco_core_sigma"].copy()}
        inside = None
        if self.config.get("fiducial"):
            inside = detectors.get(selection.detector).fiducial(
                {"reco_zenith": values["reco_zenith"], "reco_azimuth": values["reco_azimuth"],
                 "reco_core_x": columns["reco_core_x"], "reco_core_y": columns["reco_core_y"]},
                configuration=selection.configuration)
        calibration_bin = calibration_bins(kept, inside)
        if self.config.get("energy"):
            scale = np.asarray(self.config["energy_scale_combined"])[calibration_bin]
            columns["reco_log10_energy_sigma"] = np.where(is_combined, columns["reco_log10_energy_sigma"] * scale,
                                                          columns["reco_log10_energy_sigma"])
        if self.config.get("core"):
            columns["reco_core_sigma"] = columns["reco_core_sigma"] * np.asarray(self.config["core_scale"])[
                calibration_bin]
        return columns, is_combined, calibration_bin

    def combines(self, fit_energy: np.ndarray, gnn_energy: np.ndarray) -> np.ndarray:
        """Which events get the combined energy: a fit energy; with ``combine_from`` the
        network's log10 E/GeV at least that; with ``combine_within`` the two within that
        many decades of each other. The others keep the network's own."""
        chosen = np.isfinite(fit_energy)
        if self.config["combine_from"] is not None:
            chosen &= gnn_energy >= self.config["combine_from"]
        if self.config["combine_within"] is not None:
            chosen &= np.abs(fit_energy - gnn_energy) <= self.config["combine_within"]
        return chosen

    @staticmethod
    def blend_cores(gnn_core: np.ndarray, fit_core: np.ndarray, weight: float) -> np.ndarray:
        """(n, 2) m: ``(1 - weight)`` times the network's core plus ``weight`` times the
        fit's, where the fit gave one (elsewhere the network's)."""
        with_fit = np.all(np.isfinite(fit_core), axis=1)
        return np.where(with_fit[:, None], (1.0 - weight) * gnn_core + weight * np.nan_to_num(fit_core), gnn_core)

    def in_combination_range(self, true_log10_energy: np.ndarray) -> np.ndarray:
        """Which calibration events the energy combination is fitted and scaled on: true
        log10 E/GeV in ``combination_range`` (all when it is None)."""
        if self.config["combination_range"] is None:
            return np.ones(true_log10_energy.size, dtype=bool)
        low, high = self.config["combination_range"]
        return (true_log10_energy >= low) & (true_log10_energy < high)

    def calibrate_on(self, stage_graphs: list[StageGraph]) -> dict:
        """Fix the weights (``combination``, ``core_refit_weight``), then the scales
        (``scales_on``) on ``stage_graphs`` (a validation sample from
        ``training_graph``). Returns them, the events they were fitted on, the events per
        bin, and the coverage before scaling."""
        energy, core = bool(self.config.get("energy")), bool(self.config.get("core"))
        targets = stacked_targets(stage_graphs)
        if energy:
            self.config["combination"] = None
        before, _, bins = estimate_all(self.estimates, stage_graphs)
        inside = bins >= N_HIT_BINS if self.config.get("fiducial") else np.ones(bins.size, dtype=bool)
        record = {}
        if energy:
            record |= self.fit_combination(before, inside, targets["true_log10_energy"])
        if core:
            record |= self.fit_core_weight(before, inside, targets["true_core"])
        return record | self.scales_on(stage_graphs)

    def scales_on(self, stage_graphs: list[StageGraph]) -> dict:
        """Fix the scales of the combined events' log10-energy sigma
        (``energy_scale_combined``) and of the core's 68 % circle (``core_scale``) per
        calibration bin on ``stage_graphs``, the weights kept. Returns the scales, the
        events per bin and the coverage before scaling."""
        energy, core = bool(self.config.get("energy")), bool(self.config.get("core"))
        names = (("energy_scale_combined",) if energy else ()) + (("core_scale",) if core else ())
        self.config |= initial_scales(names, {}, self.calibration_bins)
        targets = stacked_targets(stage_graphs)
        reco, is_combined, calibration_bin = estimate_all(self.estimates, stage_graphs)
        groups, coverage = {}, {}
        if energy:
            error = reco["reco_log10_energy"] - targets["true_log10_energy"]
            members = is_combined & self.in_combination_range(targets["true_log10_energy"])
            groups["energy_scale_combined"] = Group(error, reco["reco_log10_energy_sigma"], members, ONE_SIGMA)
            coverage["energy_combined"] = (float(np.mean(np.abs(error[members]) <= reco["reco_log10_energy_sigma"]
                                                         [members])) if members.any() else None)
        if core:
            error = core_error(reco, targets["true_core"])
            groups["core_scale"] = Group(error, reco["reco_core_sigma"], np.ones(error.size, dtype=bool), CONTAINMENT)
            coverage["core"] = float(np.mean(error <= reco["reco_core_sigma"]))
        scales, counts = fit_scales(groups, calibration_bin, self.calibration_bins)
        self.config |= scales
        return {**scales, "events_per_bin": counts, "events": int(calibration_bin.size),
                "combined_events": int(is_combined.sum()), "coverage_before": coverage}

    def fit_combination(self, columns: dict[str, np.ndarray], inside: np.ndarray, truth: np.ndarray) -> dict:
        """Fix ``combination`` from ``estimates`` without a combination (``columns``;
        ``truth`` the true log10 E/GeV): the least-squares weights of the detector's
        combination features for the offset of the fit's log10 E from the truth, on the
        events ``inside`` the fiducial cut whose true energy lies in
        ``combination_range`` (weights fitted on all events served the events of the
        range worse). Returns the weights and the events they were fitted on."""
        features, offset = columns["combination_features"], truth - columns["fit_log10_energy"]
        usable = (np.isfinite(offset) & np.all(np.isfinite(features), axis=1) & inside
                  & self.in_combination_range(truth))
        weights = np.linalg.lstsq(features[usable], offset[usable], rcond=None)[0]
        self.config["combination"] = [float(w) for w in weights]
        return {"combination": self.config["combination"], "combination_events": int(usable.sum())}

    def fit_core_weight(self, columns: dict[str, np.ndarray], inside: np.ndarray, true_core: np.ndarray) -> dict:
        """Fix ``core_refit_weight`` from ``estimates`` (``columns``; ``true_core`` the
        true cores, (n, 2) m): among ``CORE_WEIGHTS``, the one with the smallest 68 % core
        distance on the events ``inside`` the fiducial cut with a fit core. Returns the
        weight, the 68 % distance (m) at each weight and the events."""
        gnn, fit = columns["gnn_core"], columns["fit_core"]
        usable = np.all(np.isfinite(fit), axis=1) & inside
        distances = [float(np.quantile(np.hypot(*(self.blend_cores(gnn, fit, weight) - true_core)[usable].T),
                                       CONTAINMENT))
                     for weight in CORE_WEIGHTS]
        self.config["core_refit_weight"] = float(CORE_WEIGHTS[int(np.argmin(distances))])
        return {"core_refit_weight": self.config["core_refit_weight"],
                "core_q68_by_refit_weight": [round(d, 1) for d in distances], "core_weight_events": int(usable.sum())}
