"""Refit: an event's direction (and, where the fit gives them, its energy and core) from
the detector's classical fit of the kept hits, started at the estimate before it.

The network finds the hits and the basin of the right minimum, the fit the precise
minimum of its likelihood (``Detector.refine_direction``; Baikal-GVD: the robust
chi-square track fit of the classical chain; TA SD: the standard geometry and LDF fit).
With ``track_like`` only track-like events are refitted (the mean ``hit_track_score`` of
their kept hits at least ``track_like``): cascades keep the network's direction, for
which a track hypothesis is wrong; with None (air showers) every event is. A refitted
event's ``reco_angle_sigma`` is the fit's 68 % covariance cone times ``refit_scale`` of
its calibration bin (``stages.calibration``; with ``fiducial`` the cut is applied to the
refitted zenith and the core before it), fixed on a validation sample by
``calibrate_on``; where the fit fails the event keeps what the stage before gave. With
``fit_columns`` it also writes the fit's own log10 E, its sigma and its core
(``FIT_COLUMNS``, NaN where there is none) for the ``combination`` stage. Nothing in it is
trained.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import detectors
from ..detectors.base import event_means
from ..io import EventBatch
from ..statistics import opening_angle, unit_vectors
from .base import StageGraph
from .calibration import Group, calibration_bins, estimate_all, fit_scales, initial_scales
from .energy_direction import direction_targets, stacked_targets
from .inputs import StageInput
from .likelihoods import CONTAINMENT
from .untrained import UntrainedStage

DIRECTION_COLUMNS = ("reco_zenith", "reco_azimuth", "reco_angle_sigma")
FIT_COLUMNS = ("fit_log10_energy", "fit_log10_energy_sigma", "fit_core_x", "fit_core_y")
"""The fit's own log10 E/GeV and its 1-sigma uncertainty, and its core (m), where it gives them."""
FROM_FIT = {"fit_log10_energy": "log10_energy", "fit_log10_energy_sigma": "log10_energy_sigma",
            "fit_core_x": "reco_core_x", "fit_core_y": "reco_core_y"}
"""Each of ``FIT_COLUMNS`` by its name in ``Detector.refine_direction``'s result."""


class Refit(UntrainedStage):
    """The detector's classical fit of the kept hits, started at the estimate before it."""

    def __init__(self, threshold: float = 0.5, min_hits: int = 4, track_like: float | None = None,
                 fiducial: bool = False, fit_columns: bool = False, refit_scale: Sequence[float] | None = None):
        super().__init__()
        self.config = {"threshold": threshold, "min_hits": min_hits, "track_like": track_like}
        if fiducial:
            self.config["fiducial"] = True
        if fit_columns:
            self.config["fit_columns"] = True
        self.config |= initial_scales(("refit_scale",), {"refit_scale": refit_scale}, self.calibration_bins)

    @property
    def reads(self) -> tuple[str, ...]:
        columns = ("hit_score", "hit_track_score") if self.config["track_like"] is not None else ("hit_score",)
        core = ("reco_core_x", "reco_core_y") if self.config.get("fiducial") else ()
        return columns + DIRECTION_COLUMNS + core

    @property
    def writes(self) -> tuple[str, ...]:
        return DIRECTION_COLUMNS + (FIT_COLUMNS if self.config.get("fit_columns") else ())

    @property
    def kept_hit_columns(self) -> tuple[str, ...]:
        """``hit_track_score`` where ``track_like`` chooses the events."""
        return ("hit_track_score",) if self.config["track_like"] is not None else ()

    def training_graph(self, inputs: StageInput) -> StageGraph:
        """Targets: ``true_direction`` (events, 3) unit vectors, for ``calibrate_on``."""
        return self.input_graph(inputs).with_targets(direction_targets(inputs, core=False))

    def estimates(self, stage_graph: StageGraph) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Output columns (float64) of a graph from ``input_graph``; which events were
        refitted, and each event's calibration bin."""
        selection, values = stage_graph.events, stage_graph.values
        zenith, azimuth, cone = (values[name] for name in DIRECTION_COLUMNS)
        chosen = np.diff(selection.offsets) > 0  # an event without kept hits has no estimate to start at
        if self.config["track_like"] is not None:
            chosen &= event_means(selection.offsets, selection.hits["hit_track_score"]) >= self.config["track_like"]
        zenith, azimuth, refitted, fit = self.refit(selection, chosen, zenith, azimuth)
        inside = None
        if self.config.get("fiducial"):
            inside = detectors.get(selection.detector).fiducial(
                {"reco_zenith": zenith, "reco_azimuth": azimuth, "reco_core_x": values["reco_core_x"],
                 "reco_core_y": values["reco_core_y"]}, configuration=selection.configuration)
        calibration_bin = calibration_bins(np.diff(selection.offsets), inside)
        scale = np.asarray(self.config["refit_scale"])[calibration_bin]
        cone = np.where(refitted, np.minimum(fit["fit_cone"] * scale, np.pi), cone)
        columns = {"reco_zenith": zenith, "reco_azimuth": azimuth, "reco_angle_sigma": cone}
        return columns | {name: fit[name] for name in FIT_COLUMNS}, refitted, calibration_bin

    def refit(self, selection: EventBatch, chosen: np.ndarray, zenith: np.ndarray,
              azimuth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Direction of the ``chosen`` events from the detector's fit of their kept hits,
        started at ``zenith``, ``azimuth`` (rad). Returns zenith, azimuth, which events
        were refitted, and per event the fit's ``fit_cone`` (rad) and ``FIT_COLUMNS`` (NaN
        where not refitted or not given; the energy also where it has no uncertainty)."""
        detector = detectors.get(selection.detector)
        if detector.refine_direction is None:
            raise ValueError(f"{detector.name} has no direction fit to refit with; remove the refit stage")
        sizes = np.diff(selection.offsets)[chosen]
        in_fit = np.repeat(chosen, np.diff(selection.offsets))
        fit = detector.refine_direction(np.concatenate([[0], np.cumsum(sizes)]),
                                        {name: values[in_fit] for name, values in selection.hits.items()},
                                        zenith[chosen], azimuth[chosen], configuration=selection.configuration)
        refitted = chosen.copy()
        refitted[chosen] = np.isfinite(fit["reco_zenith"]) & np.isfinite(fit["fit_cone"])
        zenith, azimuth = zenith.copy(), azimuth.copy()
        done = refitted[chosen]
        zenith[refitted], azimuth[refitted] = fit["reco_zenith"][done], fit["reco_azimuth"][done]
        columns = {name: np.full(zenith.size, np.nan) for name in ("fit_cone", *FIT_COLUMNS)}
        columns["fit_cone"][refitted] = fit["fit_cone"][done]
        for name, given in FROM_FIT.items():
            if given in fit:
                columns[name][refitted] = fit[given][done]
        columns["fit_log10_energy"][~np.isfinite(columns["fit_log10_energy_sigma"])] = np.nan
        return zenith, azimuth, refitted, columns

    def calibrate_on(self, stage_graphs: list[StageGraph]) -> dict:
        """Fix ``refit_scale`` on ``stage_graphs`` (a validation sample from
        ``training_graph``) so that the refitted events' cones cover 68 % in each
        calibration bin. Returns the scales, the events per bin and the coverage before."""
        self.config |= initial_scales(("refit_scale",), {}, self.calibration_bins)
        reco, refitted, calibration_bin = estimate_all(self.estimates, stage_graphs)
        error = opening_angle(unit_vectors(reco["reco_zenith"], reco["reco_azimuth"]),
                              stacked_targets(stage_graphs)["true_direction"])
        scales, counts = fit_scales({"refit_scale": Group(error, reco["reco_angle_sigma"], refitted, CONTAINMENT)},
                                    calibration_bin, self.calibration_bins)
        self.config |= scales
        return {**scales, "events_per_bin": counts, "events": int(error.size), "refitted_events": int(refitted.sum()),
                "coverage_before": float(np.mean((error <= reco["reco_angle_sigma"])[refitted]))
                if refitted.any() else None}
