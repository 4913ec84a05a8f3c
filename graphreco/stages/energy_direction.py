"""Energy and direction: log10 E and the arrival direction of an event, each with a
calibrated uncertainty, from the hits that hit selection kept.

The stage reads ``hit_score``, keeps the hits with ``hit_score >= threshold`` (at least
``min_hits`` per event, its best-scored ones), builds the detector's graph on them alone
and encodes it. An event readout (max and mean of the node states, and the log of the
number of kept hits) feeds two heads:

- direction: a 3-vector whose direction is the mean and whose norm is kappa of a
  von Mises-Fisher distribution (loss ``vmf_nll``); ``reco_angle_sigma`` is the radius
  of its 68 % cone;
- energy: mean and sigma of a Gaussian in log10 E/GeV (loss ``gaussian_nll``);
- with ``core`` (air-shower arrays): the shower core on the ground, as the mean and
  sigma of an isotropic 2-D Gaussian in km around the centroid of the selected hits
  (loss ``gaussian_2d_nll``); ``reco_core_sigma`` is the radius (m) of its 68 % circle.

With ``event_features`` the event readout also takes the detector's classical fit of the
selected hits (``Detector.event_features``; TA SD: log10 S800, sec(theta), their
uncertainty and the front curvature), with a flag for events where it failed (their
features set to 0): the network corrects a precise classical measurement with what the
fit does not model (for air showers, the composition that shifts S800 at fixed energy).

With ``refine`` (Baikal-GVD's shipped setting), the direction of track-like events
(the mean ``hit_track_score`` of their selected hits at least ``track_like``) is then
refined by the detector's track fit (``Detector.refine_direction``: for Baikal-GVD the
robust chi-square fit of the classical chain) on the selected hits, started at the GNN
direction; their cone is the fit's covariance cone. The GNN finds the hits and the basin
of the right minimum, the fit the precise time-residual minimum; cascades keep the GNN
direction, for which a track hypothesis is wrong. With ``track_like`` None (air showers:
TA SD's standard fit) every event is refined and counts as track-like. With
``combine_core`` the core is then a weighted mean of the GNN's and the refit's
(``core_refit_weight``, fixed on the validation sample); with ``combine`` the energy is the
refit's corrected by a linear regression on features the detector declares
(``Detector.energy_combination``; TA SD: the composition stage's probabilities and the
GNN's own energy); the stage config names the event columns it reads
(``combination_columns``, as the detector declares them).

The uncertainties are multiplied by scales fixed on a validation sample
(``calibrate_on``: the GNN cone and the energy sigma of cascade-like and of track-like
events, and the refit cone, separately, since a muon's energy is measured far worse than a
contained cascade's; each per bin of selected hits, since faint and bright events are
misjudged in opposite directions; with ``fiducial``, also apart for the events inside and
outside the detector's fiducial cut, ``Detector.fiducial``, of their reconstructed zenith
and core: TA SD showers clipped by the edge or inclined have the worse-judged cones), so
that their coverage there is exactly 68 % (1 sigma: 68.27 %). Directions are where the
particle comes from (the event format's convention).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial

import numpy as np
import torch
from torch import nn

from .. import detectors
from ..detectors.base import EnergyCombination, event_means
from ..graph import GraphBatch, build_graph
from ..io import EventBatch
from ..kernels import select_hits
from ..models import EventReduction, GraphEncoder
from ..statistics import ONE_SIGMA, calibration_scale, opening_angle, unit_vectors, zenith_azimuth
from .base import Stage, StageExport, truth
from .inputs import StageInput
from .likelihoods import CONTAINMENT, gaussian_2d_nll, gaussian_2d_radius, gaussian_nll, vmf_cone, vmf_nll

MIN_SIGMA = 1e-3
"""Smallest log10-energy uncertainty the head can report (keeps the likelihood finite)."""
HIT_BIN_EDGES = (10, 20)
"""Bins of selected hits (< 10, 10-19, >= 20), each with its own uncertainty scales: the
refit's covariance cone is too small for bright muons, whose stochastic losses the
single-track time model misses, and too large for faint ones (one scale covered 0.55 and
0.77); the GNN cone of faint cascades was too small (0.47-0.55 with one scale)."""
N_HIT_BINS = len(HIT_BIN_EDGES) + 1
MIN_EVENTS_PER_BIN = 20
"""A bin with fewer validation events takes its group's overall scale."""
SCALES = ("angle_scale", "angle_scale_track", "refit_scale", "energy_scale", "energy_scale_track")
CORE_UNIT = 1000.0
"""m: the core head predicts the core's offset from the selected hits' centroid in km."""
CORE_COLUMNS = ("reco_core_x", "reco_core_y", "reco_core_sigma")
REFIT_COLUMNS = ("fit_cone", "log10_energy", "log10_energy_sigma", "reco_core_x", "reco_core_y")
"""What ``refine`` takes from ``Detector.refine_direction`` where it gives them: the 68 %
cone (rad), log10 E and its sigma (GeV) and the core (m)."""
CORE_WEIGHTS = np.linspace(0.0, 1.0, 21)
"""The refit core's weights ``calibrate_on`` chooses among (``combine_core``)."""
EXPORT_MEANING = ("columns 0-2 direction vector (where the particle comes from; norm = vMF kappa), "
                  "3 mean log10 E/GeV, 4 raw sigma; with core: 5-6 core offset (km) from the "
                  "selected hits' centroid, 7 its raw sigma")
EXPORT_OUTSIDE = (
    "hit selection: the hits with hit_score >= threshold, at least min_hits per event (kernels.select_hits), "
    "and the graph built on them alone (EnergyDirection.input_graph)",
    "sigma = softplus(prediction[:, 4]) + 1e-3; zenith and azimuth of the direction vector; "
    "68 % cone of the vMF from kappa (EnergyDirection.split, estimates)",
    "calibration: the cone times angle_scale, sigma times energy_scale (cascade-like) or "
    "energy_scale_track (track-like: mean hit_track_score of the selected hits >= track_like); "
    "the scales are in the stage config, one per calibration bin: the bin of selected hits "
    "(digitize at 10, 20), plus 3 where the stage config has fiducial and the event passes "
    "Detector.fiducial of its reconstructed zenith and core (EnergyDirection.estimates)",
    "with refine: the direction of track-like events refitted by the detector's classical track fit "
    "(Detector.refine_direction) on the selected hits, started at the GNN direction, its cone times "
    "refit_scale of its calibration bin (EnergyDirection.refine)",
    "with combine: where the refit gave an energy with an uncertainty (Detector.refine_direction's "
    "log10_energy, log10_energy_sigma), the GNN's log10 E is at least combine_from and the two lie within "
    "combine_within of each other, log10 E = the "
    "fit's + Detector.energy_combination's features(fit energy and sigma, fit zenith, GNN energy and "
    "sigma before calibration, the event columns combination_columns, selected hits) @ combination, its sigma times "
    "energy_scale_combined of its bin (EnergyDirection.estimates)",
    "with combine_core: where the refit gave a core (Detector.refine_direction's reco_core_x, "
    "reco_core_y), the core = (1 - core_refit_weight) * the GNN's + core_refit_weight * the refit's "
    "(EnergyDirection.blend_cores)",
    "with event_features: event_x = the detector's classical fit of the selected hits "
    "(Detector.event_features), NaN set to 0, and a last column 1 where the fit failed "
    "(EnergyDirection.event_inputs)",
    "with core: core = centroid of the selected hits + 1000 m * prediction[:, 5:7]; its 68 % circle "
    "1000 m * (softplus(prediction[:, 7]) + 1e-3) * sqrt(-2 ln 0.32) times core_scale of its bin "
    "(EnergyDirection.split_core, estimates)",
    "NaN for events without (selected) hits")
"""What the exported network returns (``export_spec``) and the work that stays outside it."""


class EnergyDirection(Stage):
    """GraphEncoder on the selected hits + event readout -> vMF direction and Gaussian
    log10 E; optionally the direction of track-like events refined by the detector's fit."""

    def __init__(self, n_features: int, relative_features: tuple[int, ...], hidden: int = 48, layers: int = 3,
                 threshold: float = 0.5, min_hits: int = 4, refine: bool = False, track_like: float | None = 0.5,
                 angle_scale: Sequence[float] | None = None, angle_scale_track: Sequence[float] | None = None,
                 refit_scale: Sequence[float] | None = None, energy_scale: Sequence[float] | None = None,
                 energy_scale_track: Sequence[float] | None = None, core: bool = False,
                 core_scale: Sequence[float] | None = None, event_features: int = 0, fiducial: bool = False,
                 combine: bool = False, combination: Sequence[float] | None = None,
                 combination_range: Sequence[float] | None = None, combination_columns: Sequence[str] = (),
                 combine_from: float | None = None,
                 combine_within: float | None = None,
                 energy_scale_combined: Sequence[float] | None = None, combine_core: bool = False,
                 core_refit_weight: float = 0.0):
        super().__init__()
        self.config = {"n_features": n_features, "relative_features": list(relative_features), "hidden": hidden,
                       "layers": layers, "threshold": threshold, "min_hits": min_hits, "refine": refine,
                       "track_like": track_like}
        if fiducial:
            self.config["fiducial"] = True
        given = {"angle_scale": angle_scale, "angle_scale_track": angle_scale_track, "refit_scale": refit_scale,
                 "energy_scale": energy_scale, "energy_scale_track": energy_scale_track}
        if core:
            self.config["core"] = True
            given["core_scale"] = core_scale
        if combine_core:
            if not (core and refine):
                raise ValueError("combine_core needs core and refine (the GNN's and the fit's cores)")
            self.config |= {"combine_core": True, "core_refit_weight": float(core_refit_weight)}
        if combine:
            if not refine:
                raise ValueError("combine needs refine (the fit's energy)")
            if not combination_columns:
                raise ValueError("combine needs combination_columns: the event columns the detector's energy "
                                 "combination reads (Detector.energy_combination.columns)")
            self.config |= {"combine": True, "combination_columns": list(combination_columns),
                            "combination": None if combination is None else list(combination),
                            "combination_range": None if combination_range is None else list(combination_range),
                            "combine_from": combine_from, "combine_within": combine_within}
            given["energy_scale_combined"] = energy_scale_combined
        for name, scales in given.items():
            self.config[name] = [1.0] * self.calibration_bins if scales is None else list(scales)
            if len(self.config[name]) != self.calibration_bins:
                raise ValueError(f"{name} needs {self.calibration_bins} scales (one per calibration bin), "
                                 f"got {len(self.config[name])}")
        if event_features:
            self.config["event_features"] = event_features
        self.encoder = GraphEncoder(n_features, tuple(relative_features), hidden, layers)
        readout = 2 * hidden + 1 + (event_features + 1 if event_features else 0)
        self.head = nn.Sequential(nn.Linear(readout, 2 * hidden), nn.ReLU(),
                                  nn.Linear(2 * hidden, 8 if core else 5))

    @property
    def writes(self) -> tuple[str, ...]:
        columns = ("reco_log10_energy", "reco_log10_energy_sigma", "reco_zenith", "reco_azimuth", "reco_angle_sigma")
        return columns + CORE_COLUMNS if self.config.get("core") else columns

    @property
    def reads(self) -> tuple[str, ...]:
        columns = ("hit_score", "hit_track_score") if self._refines_track_like else ("hit_score",)
        return columns + tuple(self.config["combination_columns"]) if self.config.get("combine") else columns

    @property
    def calibration_bins(self) -> int:
        """Bins with their own uncertainty scales: of selected hits, and with ``fiducial``
        each of them inside and outside the fiducial cut (bin + N_HIT_BINS)."""
        return N_HIT_BINS * (2 if self.config.get("fiducial") else 1)

    @property
    def _refines_track_like(self) -> bool:
        """Refines only events whose selected hits look like a track (needs hit_track_score)."""
        return self.config["refine"] and self.config["track_like"] is not None

    @property
    def n_event_inputs(self) -> int:
        """Width of ``event_x``: the detector's event features and the failed-fit flag (0 without)."""
        features = self.config.get("event_features", 0)
        return features + 1 if features else 0

    def readout(self, h: torch.Tensor, x: torch.Tensor, events: EventReduction,
                event_x: torch.Tensor | None) -> torch.Tensor:
        """(n_events, 5 or 8): direction vector (3, norm = kappa), mean log10 E, raw sigma;
        with ``core`` then the core offset (2, km) and its raw sigma; from the pooled node
        states, the log of the number of hits and, when the stage takes them, the event
        inputs ``event_x`` (see ``event_inputs``)."""
        parts = [events.pool(h), torch.log1p(events.count(x.dtype))[:, None]]
        if event_x is not None:
            parts.append(event_x.to(x.dtype))
        return self.head(torch.cat(parts, dim=1))

    @property
    def export_spec(self) -> StageExport:
        return StageExport("prediction", "events", 8 if self.config.get("core") else 5, EXPORT_MEANING, EXPORT_OUTSIDE)

    @staticmethod
    def event_inputs(features: np.ndarray) -> torch.Tensor:
        """The detector's event features with NaN (failed fit) set to 0, and a last column
        that is 1 where the fit failed."""
        failed = ~np.all(np.isfinite(features), axis=1)
        cleaned = np.where(failed[:, None], 0.0, features)
        return torch.from_numpy(np.concatenate([cleaned, failed[:, None]], axis=1).astype(np.float32))

    @staticmethod
    def split(prediction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Direction vector, mean log10 E and sigma (uncalibrated) of a forward output."""
        return prediction[:, :3], prediction[:, 3], nn.functional.softplus(prediction[:, 4]) + MIN_SIGMA

    @staticmethod
    def split_core(prediction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Core offset from the centroid (km) and its per-coordinate sigma (km, uncalibrated)."""
        return prediction[:, 5:7], nn.functional.softplus(prediction[:, 7]) + MIN_SIGMA

    def input_graph(self, inputs: StageInput) -> GraphBatch:
        """Graph of the selected hits of the batch; with ``refine`` it carries them as
        ``graph.selection`` (an EventBatch with their ``hit_track_score``) for the fit."""
        batch = inputs.batch
        hits = {column.name: batch.hits[column.name] for column in inputs.detector.columns  # what graphs use
                if column.per_hit and column.required}
        if self._refines_track_like:
            hits["hit_track_score"] = inputs.hit_columns["hit_track_score"]
        selection = replace(batch, hits=hits).with_hits(select_hits(batch.offsets, inputs.hit_columns["hit_score"],
                                                self.config["threshold"], self.config["min_hits"]))
        graph = build_graph(selection, inputs.detector)
        if self.config["refine"]:
            graph.selection = selection
        if self.config.get("core"):
            graph.centroid = torch.from_numpy(np.stack([event_means(selection.offsets, selection.hits[name])
                                                        for name in ("x", "y")], axis=1))
        if self.config.get("event_features"):
            if inputs.detector.event_features is None:
                raise ValueError(f"{inputs.detector.name} has no event features; set event_features to 0")
            graph.event_x = self.event_inputs(inputs.detector.event_features(selection.offsets, selection.hits,
                                                                              configuration=selection.configuration))
        if self.config.get("fiducial"):
            if inputs.detector.fiducial is None:
                raise ValueError(f"{inputs.detector.name} has no fiducial cut; set fiducial to false")
            graph.fiducial = partial(inputs.detector.fiducial, configuration=batch.configuration)
        if self.config.get("combine"):
            graph.combination_inputs = torch.from_numpy(np.stack(
                [np.asarray(inputs.event_columns[name], dtype=np.float64)
                 for name in self.config["combination_columns"]],
                axis=1))
        return graph

    def training_graph(self, inputs: StageInput) -> GraphBatch:
        zenith, azimuth = (truth(inputs.batch, name, np.isfinite, "training needs a finite direction")
                           for name in ("true_zenith", "true_azimuth"))
        energy = truth(inputs.batch, "true_energy", lambda e: np.isfinite(e) & (e > 0),
                       "training needs a positive, finite energy")
        graph = self.input_graph(inputs)
        graph.true_direction = torch.from_numpy(unit_vectors(zenith, azimuth))
        graph.true_log10_energy = torch.from_numpy(np.log10(energy))
        if self.config.get("core"):
            graph.true_core = torch.from_numpy(np.stack([truth(inputs.batch, name, np.isfinite,
                                                               "training needs a finite core")
                                                         for name in ("true_core_x", "true_core_y")], axis=1))
        return graph

    def training_loss(self, graph: GraphBatch) -> torch.Tensor:
        prediction = self(graph.x, graph.edge_index, graph.ptr, graph.get("event_x"))
        direction, energy, sigma = self.split(prediction)
        loss = (vmf_nll(direction, graph.true_direction.to(direction.dtype))
                + gaussian_nll(energy, sigma, graph.true_log10_energy.to(energy.dtype)))
        if self.config.get("core"):
            offset, core_sigma = self.split_core(prediction)
            target = ((graph.true_core - graph.centroid) / CORE_UNIT).to(offset.dtype)
            loss = loss + gaussian_2d_nll(offset, core_sigma, target)
        return loss

    def estimates(self, graph: GraphBatch) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """Output columns of a graph from ``input_graph``, uncertainties calibrated (with
        ``combine`` also the GNN's and the fit's own log10 E, ``gnn_log10_energy`` and
        ``fit_log10_energy``, and the combination's features, ``combination_features``; with ``combine_core`` the
        GNN's and the fit's cores, ``gnn_core`` and ``fit_core``, (n, 2) m); which events
        are track-like, which were refined, and each event's calibration bin."""
        prediction = self(graph.x, graph.edge_index, graph.ptr, graph.get("event_x"))
        direction, energy, sigma = (tensor.double().numpy() for tensor in self.split(prediction))
        zenith, azimuth = zenith_azimuth(direction)
        track_like, refined = np.zeros(zenith.size, dtype=bool), np.zeros(zenith.size, dtype=bool)
        if self._refines_track_like:
            track_like = event_means(graph.selection.offsets, graph.selection.hits["hit_track_score"]) >= \
                self.config["track_like"]
        elif self.config["refine"]:
            track_like[:] = True
        cone = vmf_cone(np.linalg.norm(direction, axis=1), CONTAINMENT)
        if self.config["refine"]:
            zenith, azimuth, refined, fit = self.refine(graph.selection, track_like, zenith, azimuth)
        combined, is_combined = {}, np.zeros(zenith.size, dtype=bool)
        if self.config.get("combine"):
            fit_energy = fit["log10_energy"]
            combination = self.energy_combination(detectors.get(graph.selection.detector))
            features = combination.features(fit_energy, fit["log10_energy_sigma"], zenith, energy, sigma,
                                            graph.combination_inputs.numpy(), np.diff(graph.ptr.numpy()))
            combined = {"gnn_log10_energy": energy, "fit_log10_energy": fit_energy,
                        "combination_features": features}
            if self.config["combination"] is not None:
                is_combined = self.combines(fit_energy, energy)
                energy = energy.copy()
                energy[is_combined] = fit_energy[is_combined] + features[is_combined] @ self.config["combination"]
        core = {}
        if self.config.get("core"):
            offset, core_sigma = (tensor.double().numpy() for tensor in self.split_core(prediction))
            position = graph.centroid.numpy() + CORE_UNIT * offset
            if self.config.get("combine_core"):
                fit_core = np.stack([fit["reco_core_x"], fit["reco_core_y"]], axis=1)
                combined |= {"gnn_core": position, "fit_core": fit_core}
                position = self.blend_cores(position, fit_core, self.config["core_refit_weight"])
            core = {"reco_core_x": position[:, 0], "reco_core_y": position[:, 1]}
        calibration_bin = np.digitize(np.diff(graph.ptr.numpy()), HIT_BIN_EDGES)
        if self.config.get("fiducial"):
            inside = graph.fiducial({"reco_zenith": zenith, "reco_azimuth": azimuth, **core})
            calibration_bin = calibration_bin + N_HIT_BINS * inside
        scale = {name: np.asarray(self.config[name])[calibration_bin] for name in SCALES}
        cone = cone * np.where(track_like, scale["angle_scale_track"], scale["angle_scale"])
        if self.config["refine"]:
            cone = np.where(refined, fit["fit_cone"] * scale["refit_scale"], cone)
        energy_scale = np.where(track_like, scale["energy_scale_track"], scale["energy_scale"])
        if is_combined.any():
            energy_scale = np.where(is_combined, np.asarray(self.config["energy_scale_combined"])[calibration_bin],
                                    energy_scale)
        sigma = sigma * energy_scale
        columns = {"reco_log10_energy": energy, "reco_log10_energy_sigma": sigma, "reco_zenith": zenith,
                   "reco_azimuth": azimuth, "reco_angle_sigma": np.minimum(cone, np.pi)}
        if core:
            columns |= core | {"reco_core_sigma": CORE_UNIT * core_sigma * gaussian_2d_radius(CONTAINMENT)
                               * np.asarray(self.config["core_scale"])[calibration_bin]}
        return columns | combined, track_like, refined, calibration_bin

    def energy_combination(self, detector: detectors.Detector) -> EnergyCombination:
        """The detector's energy combination, checked against the stage config: the event
        columns it reads are ``combination_columns`` and its features as many as the
        weights in ``combination``; ``ValueError`` names what disagrees."""
        combination = detector.energy_combination
        if combination is None:
            raise ValueError(f"{detector.name} has no energy combination; set combine to false")
        if list(combination.columns) != self.config["combination_columns"]:
            raise ValueError(f"combination_columns {self.config['combination_columns']} are not the columns "
                             f"{list(combination.columns)} that {detector.name}'s energy combination reads")
        weights = self.config["combination"]
        if weights is not None and len(weights) != combination.n_features:
            raise ValueError(f"combination needs {combination.n_features} weights ({detector.name}'s energy "
                             f"combination features), got {len(weights)}: calibrate the stage again")
        return combination

    def combines(self, fit_energy: np.ndarray, gnn_energy: np.ndarray) -> np.ndarray:
        """Which events get the combined energy: a fit energy; with ``combine_from`` the
        GNN's log10 E/GeV at least that; with ``combine_within`` the two within that many
        decades of each other (a fit far from the GNN is the one that failed: a core
        outside the array, an S800 extrapolated). The others keep the GNN's own."""
        chosen = np.isfinite(fit_energy)
        if self.config["combine_from"] is not None:
            chosen &= gnn_energy >= self.config["combine_from"]
        if self.config["combine_within"] is not None:
            chosen &= np.abs(fit_energy - gnn_energy) <= self.config["combine_within"]
        return chosen

    def refine(self, selection: EventBatch, track_like: np.ndarray, zenith: np.ndarray,
               azimuth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Direction of the ``track_like`` events from the detector's track fit on the
        selected hits, started at the GNN direction. Returns zenith, azimuth, which events
        were refined, and per event the fit's ``REFIT_COLUMNS`` (NaN where not refined or
        not given by the fit; the energy also where it has no uncertainty)."""
        detector = detectors.get(selection.detector)
        if detector.refine_direction is None:
            raise ValueError(f"{detector.name} has no direction fit to refine with; set refine to false")
        sizes = np.diff(selection.offsets)[track_like]  # fit the track-like events only
        in_fit = np.repeat(track_like, np.diff(selection.offsets))
        fit = detector.refine_direction(np.concatenate([[0], np.cumsum(sizes)]),
                                        {name: values[in_fit] for name, values in selection.hits.items()},
                                        zenith[track_like], azimuth[track_like],
                                        configuration=selection.configuration)
        refined = track_like.copy()
        refined[track_like] = np.isfinite(fit["reco_zenith"]) & np.isfinite(fit["fit_cone"])
        zenith, azimuth = zenith.copy(), azimuth.copy()
        done = refined[track_like]
        zenith[refined], azimuth[refined] = fit["reco_zenith"][done], fit["reco_azimuth"][done]
        columns = {name: np.full(zenith.size, np.nan) for name in REFIT_COLUMNS}
        for name in REFIT_COLUMNS:
            if name in fit:
                columns[name][refined] = fit[name][done]
        columns["log10_energy"][~np.isfinite(columns["log10_energy_sigma"])] = np.nan
        return zenith, azimuth, refined, columns

    @staticmethod
    def blend_cores(gnn_core: np.ndarray, fit_core: np.ndarray, weight: float) -> np.ndarray:
        """(n, 2) m: ``(1 - weight)`` times the GNN's core plus ``weight`` times the fit's,
        where the fit gave one (elsewhere the GNN's)."""
        with_fit = np.all(np.isfinite(fit_core), axis=1)
        return np.where(with_fit[:, None], (1.0 - weight) * gnn_core + weight * np.nan_to_num(fit_core), gnn_core)

    def calibrate_on(self, graphs: list[GraphBatch]) -> dict:
        """Scale the uncertainties so that they cover exactly on ``graphs`` (a validation
        sample from ``training_graph``), each group of events in each calibration bin
        (``calibration_bins``) on its own: the GNN's 68 % cone (cascade-like, and
        track-like events the fit did not refine), the refit's cone (refined events), the
        log10-energy sigma of cascade-like and of track-like events; with ``core``, the
        core's 68 % circle; with ``combine``, the weights first (``fit_combination``), then
        the sigma of the combined events apart; with ``combine_core``, the refit core's
        weight first (``fit_core_weight``). Returns the scales (and the weights), the
        events per group and bin, and the coverage before scaling."""
        core, combine = self.config.get("core", False), self.config.get("combine", False)
        combine_core = self.config.get("combine_core", False)
        n_bins = self.calibration_bins
        self.config |= {name: [1.0] * n_bins for name in SCALES + (("core_scale",) if core else ())
                        + (("energy_scale_combined",) if combine else ())}
        energy = np.concatenate([graph.true_log10_energy.numpy() for graph in graphs])
        true_core = np.concatenate([graph.true_core.numpy() for graph in graphs]) if core else None
        combination = {}
        if combine or combine_core:  # one pass of the refit serves both fits
            if combine:
                self.config["combination"] = None
            before, _, _, bins = self._estimate_all(graphs)
            inside = bins >= N_HIT_BINS if self.config.get("fiducial") else np.ones(bins.size, dtype=bool)
            if combine:
                combination |= self.fit_combination(before, inside, energy)
            if combine_core:
                combination |= self.fit_core_weight(before, inside, true_core)
        reco, track_like, refined, calibration_bin = self._estimate_all(graphs)
        angle = np.concatenate([graph.true_direction.numpy() for graph in graphs])
        angle_error = opening_angle(unit_vectors(reco["reco_zenith"], reco["reco_azimuth"]), angle)
        energy_error = reco["reco_log10_energy"] - energy
        cone, sigma = reco["reco_angle_sigma"], reco["reco_log10_energy_sigma"]
        is_combined = (self.combines(reco["fit_log10_energy"], reco["gnn_log10_energy"]) if combine
                       else np.zeros(energy_error.size, dtype=bool))
        groups = {"angle_scale": (angle_error, cone, ~refined & ~track_like, CONTAINMENT),
                  "angle_scale_track": (angle_error, cone, ~refined & track_like, CONTAINMENT),
                  "refit_scale": (angle_error, cone, refined, CONTAINMENT),
                  "energy_scale": (energy_error, sigma, ~track_like & ~is_combined, ONE_SIGMA),
                  "energy_scale_track": (energy_error, sigma, track_like & ~is_combined, ONE_SIGMA)}
        if combine:  # scaled on the showers of the range its weights were fitted for
            groups["energy_scale_combined"] = (energy_error, sigma,
                                               is_combined & self.in_combination_range(energy),
                                               ONE_SIGMA)
        if core:
            core_error = np.hypot(*(reco[f"reco_core_{axis}"] - true_core[:, i]
                                    for i, axis in enumerate("xy")))
            groups["core_scale"] = (core_error, reco["reco_core_sigma"], np.ones(core_error.size, dtype=bool),
                                    CONTAINMENT)
        scales, counts = {}, {}
        for name, (errors, uncertainty, members, target) in groups.items():
            overall = calibration_scale(errors[members], uncertainty[members], target) if members.any() else 1.0
            in_bin = [members & (calibration_bin == b) for b in range(n_bins)]
            counts[name] = [int(np.sum(chosen)) for chosen in in_bin]
            scales[name] = [calibration_scale(errors[chosen], uncertainty[chosen], target)
                            if count >= MIN_EVENTS_PER_BIN else overall for chosen, count in zip(in_bin, counts[name])]
        self.config |= scales
        return {**scales, **combination, "events_per_bin": counts, "hit_bin_edges": list(HIT_BIN_EDGES),
                "fiducial_bins": bool(self.config.get("fiducial")),
                "events": int(energy_error.size), "track_like_events": int(track_like.sum()),
                "refined_events": int(refined.sum()),
                "coverage_before": {"angle": float(np.mean(angle_error <= cone)),
                                    "energy": float(np.mean(np.abs(energy_error) <= sigma))}}

    def _estimate_all(self, graphs: list[GraphBatch]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray,
                                                                np.ndarray]:
        """``estimates`` of every graph, concatenated: the columns, which events are
        track-like, which were refined, and the calibration bins."""
        with torch.inference_mode():
            pieces = [self.estimates(graph) for graph in graphs]
        columns = {name: np.concatenate([piece[0][name] for piece in pieces]) for name in pieces[0][0]}
        track_like, refined, calibration_bin = (np.concatenate([piece[k] for piece in pieces]) for k in (1, 2, 3))
        return columns, track_like, refined, calibration_bin

    def fit_combination(self, columns: dict[str, np.ndarray], inside: np.ndarray, truth: np.ndarray) -> dict:
        """Fix ``combination`` from ``estimates`` of a validation sample (``columns``,
        estimated without a combination; ``truth`` its true log10 E/GeV): the least-squares
        weights of the detector's combination features (``Detector.energy_combination``)
        for the offset of the fit's log10 E from the
        truth, on the events ``inside`` the fiducial cut whose true energy lies in
        ``combination_range`` (when given): weights fitted on all events served the
        showers of the range worse. Returns the weights and the events they were fitted on."""
        features, offset = columns["combination_features"], truth - columns["fit_log10_energy"]
        usable = (np.isfinite(offset) & np.all(np.isfinite(features), axis=1) & inside
                  & self.in_combination_range(truth))
        weights = np.linalg.lstsq(features[usable], offset[usable], rcond=None)[0]
        self.config["combination"] = [float(w) for w in weights]
        return {"combination": self.config["combination"], "combination_events": int(usable.sum())}

    def fit_core_weight(self, columns: dict[str, np.ndarray], inside: np.ndarray, true_core: np.ndarray) -> dict:
        """Fix ``core_refit_weight`` from ``estimates`` of a validation sample (``columns``;
        ``true_core`` its true cores, (n, 2) m): among ``CORE_WEIGHTS``, the one with the
        smallest 68 % core distance on the events ``inside`` the fiducial cut with a fit
        core. Returns the weight, the 68 % distance (m) at each weight and the events."""
        gnn, fit = columns["gnn_core"], columns["fit_core"]
        usable = np.all(np.isfinite(fit), axis=1) & inside
        distances = [float(np.quantile(np.hypot(*(self.blend_cores(gnn, fit, weight) - true_core)[usable].T),
                                       CONTAINMENT))
                     for weight in CORE_WEIGHTS]
        self.config["core_refit_weight"] = float(CORE_WEIGHTS[int(np.argmin(distances))])
        return {"core_refit_weight": self.config["core_refit_weight"],
                "core_q68_by_refit_weight": [round(d, 1) for d in distances], "core_weight_events": int(usable.sum())}

    def in_combination_range(self, true_log10_energy: np.ndarray) -> np.ndarray:
        """Which calibration showers the combination is fitted and scaled on: true log10
        E/GeV in ``combination_range`` (all when it is None)."""
        if self.config["combination_range"] is None:
            return np.ones(true_log10_energy.size, dtype=bool)
        low, high = self.config["combination_range"]
        return (true_log10_energy >= low) & (true_log10_energy < high)

    def outputs(self, inputs: StageInput) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per-hit and per-event output columns for a batch; events without (kept) hits get NaN."""
        graph = self.input_graph(inputs)
        columns = self.estimates(graph)[0]
        empty = np.diff(graph.ptr.numpy()) == 0  # no hits, or none kept (min_hits 0)
        return {}, {name: np.where(empty, np.nan, columns[name]).astype(np.float32) for name in self.writes}
