"""Energy and direction: log10 E and the arrival direction of an event, each with a
calibrated uncertainty, from the hits that hit selection kept.

The stage reads ``hit_score``, keeps the hits with ``hit_score >= threshold`` (at least
``min_hits`` per event, its best-scored ones; ``kept_hits``), builds the detector's graph
on them alone and encodes it. An event readout (max and mean of the node states, and the
log of the number of kept hits) feeds two heads:

- direction: a 3-vector whose direction is the mean and whose norm is kappa of a
  von Mises-Fisher distribution (loss ``vmf_nll``); ``reco_angle_sigma`` is the radius
  of its 68 % cone;
- energy: mean and sigma of a Gaussian in log10 E/GeV (loss ``gaussian_nll``);
- with ``core`` (air-shower arrays): the shower core on the ground, as the mean and
  sigma of an isotropic 2-D Gaussian in km around the centroid of the kept hits
  (loss ``gaussian_2d_nll``); ``reco_core_sigma`` is the radius (m) of its 68 % circle.

With ``event_features`` the event readout also takes the detector's classical fit of the
kept hits (``Detector.event_features``; TA SD: log10 S800, sec(theta), their uncertainty
and the front curvature), with a flag for events where it failed (their features set to
0): the network corrects a precise classical measurement with what the fit does not
model (for air showers, the composition that shifts S800 at fixed energy).

The uncertainties are multiplied by scales fixed on a validation sample
(``calibrate_on``, ``stages.calibration``): with ``track_like``, those of cascade-like
and of track-like events (the mean ``hit_track_score`` of their kept hits at least
``track_like``) apart, since a muon's energy is measured far worse than a contained
cascade's; each per calibration bin (kept hits, and with ``fiducial`` inside and outside
the detector's fiducial cut of the stage's own zenith and core), so that their coverage
there is exactly 68 % (1 sigma: 68.27 %). Directions are where the particle comes from
(the event format's convention). The ``refit`` and ``combination`` stages after it
refine these estimates with the detector's classical fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from .. import detectors
from ..detectors.base import event_means
from ..graph import build_graph
from ..models import CsrEvents, EventReduction, GraphEncoder
from ..statistics import ONE_SIGMA, opening_angle, unit_vectors, zenith_azimuth
from .base import Stage, StageExport, StageGraph, truth
from .calibration import Group, calibration_bins, estimate_all, fit_scales, initial_scales, n_bins
from .inputs import StageInput
from .kept_hits import kept_hits, too_few
from .likelihoods import CONTAINMENT, gaussian_2d_nll, gaussian_2d_radius, gaussian_nll, vmf_cone, vmf_nll

MIN_SIGMA = 1e-3
"""Smallest log10-energy uncertainty the head can report (keeps the likelihood finite)."""
SCALES = ("angle_scale", "angle_scale_track", "energy_scale", "energy_scale_track")
EMBEDDING = "energy_direction"
"""The key of the stage's event embeddings in ``StageInput.embeddings`` (the posterior's
flow is conditioned on them)."""
CORE_UNIT = 1000.0
"""m: the core head predicts the core's offset from the kept hits' centroid in km."""
CORE_COLUMNS = ("reco_core_x", "reco_core_y", "reco_core_sigma")
EXPORT_MEANING = ("columns 0-2 direction vector (where the particle comes from; norm = vMF kappa), "
                  "3 mean log10 E/GeV, 4 raw sigma; with core: 5-6 core offset (km) from the "
                  "kept hits' centroid, 7 its raw sigma")
EXPORT_OUTSIDE = (
    "hit selection: the hits with hit_score >= threshold, at least min_hits per event (kernels.select_hits), "
    "and the graph built on them alone (EnergyDirection.input_graph)",
    "sigma = softplus(prediction[:, 4]) + 1e-3; zenith and azimuth of the direction vector; "
    "68 % cone of the vMF from kappa (EnergyDirection.split, estimates)",
    "calibration: the cone times angle_scale, sigma times energy_scale (cascade-like) or angle_scale_track, "
    "energy_scale_track (track-like: mean hit_track_score of the kept hits >= track_like); "
    "the scales are in the stage config, one per calibration bin: the bin of kept hits "
    "(digitize at 10, 20), plus 3 where the stage config has fiducial and the event passes "
    "Detector.fiducial of its reconstructed zenith and core (EnergyDirection.estimates)",
    "with event_features: event_x = the detector's classical fit of the kept hits "
    "(Detector.event_features), NaN set to 0, and a last column 1 where the fit failed "
    "(EnergyDirection.event_inputs)",
    "with core: core = centroid of the kept hits + 1000 m * prediction[:, 5:7]; its 68 % circle "
    "1000 m * (softplus(prediction[:, 7]) + 1e-3) * sqrt(-2 ln 0.32) times core_scale of its bin "
    "(EnergyDirection.split_core, estimates)",
    "NaN for events without (kept) hits")
"""What the exported network returns (``export_spec``) and the work that stays outside it."""


class EnergyDirection(Stage):
    """GraphEncoder on the kept hits + event readout -> vMF direction and Gaussian log10 E
    (and with ``core`` the shower core), uncertainties calibrated per bin."""

    energy_scales = ("energy_scale", "energy_scale_track")

    def __init__(self, n_features: int, relative_features: tuple[int, ...], hidden: int = 48, layers: int = 3,
                 threshold: float = 0.5, min_hits: int = 4, track_like: float | None = None,
                 angle_scale: Sequence[float] | None = None, angle_scale_track: Sequence[float] | None = None,
                 energy_scale: Sequence[float] | None = None, energy_scale_track: Sequence[float] | None = None,
                 core: bool = False, core_scale: Sequence[float] | None = None, event_features: int = 0,
                 fiducial: bool = False):
        super().__init__()
        self.config = {"n_features": n_features, "relative_features": list(relative_features), "hidden": hidden,
                       "layers": layers, "threshold": threshold, "min_hits": min_hits, "track_like": track_like}
        if fiducial:
            self.config["fiducial"] = True
        if core:
            self.config["core"] = True
        if event_features:
            self.config["event_features"] = event_features
        self.config |= initial_scales(SCALES + (("core_scale",) if core else ()),
                                      {"angle_scale": angle_scale, "angle_scale_track": angle_scale_track,
                                       "energy_scale": energy_scale, "energy_scale_track": energy_scale_track,
                                       "core_scale": core_scale}, self.calibration_bins)
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
        return ("hit_score", "hit_track_score") if self.config["track_like"] is not None else ("hit_score",)

    @property
    def calibration_bins(self) -> int:
        """Bins with their own uncertainty scales (``stages.calibration.n_bins``)."""
        return n_bins(bool(self.config.get("fiducial")))

    @property
    def n_event_inputs(self) -> int:
        """Width of ``event_x``: the detector's event features and the failed-fit flag (0 without)."""
        features = self.config.get("event_features", 0)
        return features + 1 if features else 0

    def readout(self, h: torch.Tensor, x: torch.Tensor, events: EventReduction,
                event_x: torch.Tensor | None) -> torch.Tensor:
        """(n_events, 5 or 8): direction vector (3, norm = kappa), mean log10 E, raw sigma;
        with ``core`` then the core offset (2, km) and its raw sigma; the heads on the
        ``embedding``."""
        return self.head(self.embedding(h, x, events, event_x))

    @staticmethod
    def embedding(h: torch.Tensor, x: torch.Tensor, events: EventReduction,
                  event_x: torch.Tensor | None) -> torch.Tensor:
        """(n_events, 2 hidden + 1 [+ event inputs]): what the heads read, the event's graph
        embedding: the pooled node states (max, mean), the log of the number of hits and,
        when the stage takes them, the event inputs ``event_x`` (see ``event_inputs``)."""
        parts = [events.pool(h), torch.log1p(events.count(x.dtype))[:, None]]
        if event_x is not None:
            parts.append(event_x.to(x.dtype))
        return torch.cat(parts, dim=1)

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

    def input_graph(self, inputs: StageInput) -> StageGraph:
        """Graph of the kept hits of the batch, those hits beside it (with their
        ``hit_track_score`` where ``track_like`` groups the events) and, with ``core``,
        their ``centroid`` (events, 2) m per event; with ``event_features`` the graph's
        ``event_x`` (``event_inputs``)."""
        detector = inputs.detector
        grouping = ("hit_track_score",) if self.config["track_like"] is not None else ()
        selection = kept_hits(inputs, self.config["threshold"], self.config["min_hits"], grouping)
        graph = build_graph(selection, detector)
        values = {}
        if self.config.get("core"):
            values["centroid"] = np.stack([event_means(selection.offsets, selection.hits[name]) for name in ("x", "y")],
                                          axis=1)
        if self.config.get("event_features"):
            if detector.event_features is None:
                raise ValueError(f"{detector.name} has no event features; set event_features to 0")
            features = detector.event_features(selection.offsets, selection.hits, configuration=selection.configuration)
            graph = replace(graph, event_x=self.event_inputs(features))
        if self.config.get("fiducial") and detector.fiducial is None:
            raise ValueError(f"{detector.name} has no fiducial cut; set fiducial to false")
        return StageGraph(graph, selection, values)

    def training_graph(self, inputs: StageInput) -> StageGraph:
        """Targets: ``true_direction`` (events, 3) unit vectors, ``true_log10_energy``
        (events,) log10 E/GeV; with ``core`` ``true_core`` (events, 2) m."""
        return self.input_graph(inputs).with_targets(direction_targets(inputs, bool(self.config.get("core"))))

    def training_loss(self, stage_graph: StageGraph) -> torch.Tensor:
        graph, targets = stage_graph.graph, stage_graph.graph.targets
        prediction = self(graph.x, graph.edge_index, graph.ptr, graph.event_x)
        direction, energy, sigma = self.split(prediction)
        loss = (vmf_nll(direction, targets["true_direction"].to(direction.dtype))
                + gaussian_nll(energy, sigma, targets["true_log10_energy"].to(energy.dtype)))
        if self.config.get("core"):
            offset, core_sigma = self.split_core(prediction)
            centroid = torch.from_numpy(stage_graph.values["centroid"])
            target = ((targets["true_core"] - centroid) / CORE_UNIT).to(offset.dtype)
            loss = loss + gaussian_2d_nll(offset, core_sigma, target)
        return loss

    def estimates(self, stage_graph: StageGraph, prediction: torch.Tensor | None = None
                  ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Output columns (float64) of a graph from ``input_graph`` (its network's output
        ``prediction``, when already at hand), uncertainties calibrated; which events are
        track-like, and each event's calibration bin."""
        graph, selection = stage_graph.graph, stage_graph.events
        if prediction is None:
            prediction = self(graph.x, graph.edge_index, graph.ptr, graph.event_x)
        direction, energy, sigma = (tensor.double().numpy() for tensor in self.split(prediction))
        zenith, azimuth = zenith_azimuth(direction)
        track_like = np.zeros(zenith.size, dtype=bool)
        if self.config["track_like"] is not None:
            track_like = event_means(selection.offsets, selection.hits["hit_track_score"]) >= self.config["track_like"]
        cone = vmf_cone(np.linalg.norm(direction, axis=1), CONTAINMENT)
        core = {}
        if self.config.get("core"):
            offset, core_sigma = (tensor.double().numpy() for tensor in self.split_core(prediction))
            position = stage_graph.values["centroid"] + CORE_UNIT * offset
            core = {"reco_core_x": position[:, 0], "reco_core_y": position[:, 1]}
        inside = None
        if self.config.get("fiducial"):
            inside = detectors.get(selection.detector).fiducial({"reco_zenith": zenith, "reco_azimuth": azimuth,
                                                                 **core}, configuration=selection.configuration)
        calibration_bin = calibration_bins(np.diff(graph.ptr.numpy()), inside)
        scale = {name: np.asarray(self.config[name])[calibration_bin] for name in SCALES}
        cone = cone * np.where(track_like, scale["angle_scale_track"], scale["angle_scale"])
        sigma = sigma * np.where(track_like, scale["energy_scale_track"], scale["energy_scale"])
        columns = {"reco_log10_energy": energy, "reco_log10_energy_sigma": sigma, "reco_zenith": zenith,
                   "reco_azimuth": azimuth, "reco_angle_sigma": np.minimum(cone, np.pi)}
        if core:
            columns |= core | {"reco_core_sigma": CORE_UNIT * core_sigma * gaussian_2d_radius(CONTAINMENT)
                               * np.asarray(self.config["core_scale"])[calibration_bin]}
        return columns, track_like, calibration_bin

    def calibrate_on(self, stage_graphs: list[StageGraph]) -> dict:
        """Scale the uncertainties so that they cover exactly on ``stage_graphs`` (a
        validation sample from ``training_graph``), each group in each calibration bin on
        its own: the 68 % cone and the log10-energy sigma of cascade-like and of
        track-like events, and with ``core`` the core's 68 % circle. Returns the scales,
        the events per group and bin, and the coverage before scaling."""
        core = bool(self.config.get("core"))
        self.config |= initial_scales(SCALES + (("core_scale",) if core else ()), {}, self.calibration_bins)
        targets = stacked_targets(stage_graphs)
        reco, track_like, calibration_bin = estimate_all(self.estimates, stage_graphs)
        angle_error = opening_angle(unit_vectors(reco["reco_zenith"], reco["reco_azimuth"]), targets["true_direction"])
        energy_error = reco["reco_log10_energy"] - targets["true_log10_energy"]
        cone, sigma = reco["reco_angle_sigma"], reco["reco_log10_energy_sigma"]
        groups = {"angle_scale": Group(angle_error, cone, ~track_like, CONTAINMENT),
                  "angle_scale_track": Group(angle_error, cone, track_like, CONTAINMENT),
                  "energy_scale": Group(energy_error, sigma, ~track_like, ONE_SIGMA),
                  "energy_scale_track": Group(energy_error, sigma, track_like, ONE_SIGMA)}
        if core:
            groups["core_scale"] = Group(core_error(reco, targets["true_core"]), reco["reco_core_sigma"],
                                         np.ones(energy_error.size, dtype=bool), CONTAINMENT)
        scales, counts = fit_scales(groups, calibration_bin, self.calibration_bins)
        self.config |= scales
        return {**scales, "events_per_bin": counts, "fiducial_bins": bool(self.config.get("fiducial")),
                "events": int(energy_error.size), "track_like_events": int(track_like.sum()),
                "coverage_before": {"angle": float(np.mean(angle_error <= cone)),
                                    "energy": float(np.mean(np.abs(energy_error) <= sigma))}}

    def outputs(self, inputs: StageInput) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per-hit and per-event output columns for a batch; events with fewer kept hits
        than ``min_hits`` (``too_few``) get NaN. The events' ``embedding`` stays in
        ``inputs.embeddings`` for later stages (the posterior's flow)."""
        stage_graph = self.input_graph(inputs)
        graph = stage_graph.graph
        embedding = self.embedding(self.encoder(graph.x, graph.edge_index), graph.x, CsrEvents(graph.ptr),
                                   graph.event_x)
        inputs.embeddings[EMBEDDING] = embedding.numpy()
        columns = self.estimates(stage_graph, self.head(embedding))[0]
        return {}, event_outputs(columns, too_few(stage_graph.graph.ptr.numpy(), self.config["min_hits"]), self.writes)


def direction_targets(inputs: StageInput, core: bool) -> dict[str, torch.Tensor]:
    """What the direction, energy and core are scored against: ``true_direction``
    (events, 3) unit vectors (from ``true_zenith``, ``true_azimuth``),
    ``true_log10_energy`` (events,) log10 E/GeV and, with ``core``, ``true_core``
    (events, 2) m; ``EventFormatError`` names a non-finite or non-positive value."""
    zenith, azimuth = (truth(inputs.batch, name, np.isfinite, "training needs a finite direction")
                       for name in ("true_zenith", "true_azimuth"))
    energy = truth(inputs.batch, "true_energy", lambda e: np.isfinite(e) & (e > 0),
                   "training needs a positive, finite energy")
    targets = {"true_direction": torch.from_numpy(unit_vectors(zenith, azimuth)),
               "true_log10_energy": torch.from_numpy(np.log10(energy))}
    if core:
        targets["true_core"] = torch.from_numpy(np.stack([truth(inputs.batch, name, np.isfinite,
                                                                "training needs a finite core")
                                                          for name in ("true_core_x", "true_core_y")], axis=1))
    return targets


def stacked_targets(stage_graphs: Sequence[StageGraph]) -> dict[str, np.ndarray]:
    """The training targets of ``stage_graphs``, each concatenated over the graphs."""
    return {name: np.concatenate([stage_graph.graph.targets[name].numpy() for stage_graph in stage_graphs])
            for name in stage_graphs[0].graph.targets}


def core_error(columns: dict[str, np.ndarray], true_core: np.ndarray) -> np.ndarray:
    """Distance (m) of ``reco_core_x``, ``reco_core_y`` from the true cores (events, 2) m."""
    return np.hypot(columns["reco_core_x"] - true_core[:, 0], columns["reco_core_y"] - true_core[:, 1])


def event_outputs(columns: dict[str, np.ndarray], empty: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The per-event output columns ``names`` as float32, NaN for the ``empty`` events
    (without enough kept hits: ``too_few``)."""
    return {name: np.where(empty, np.nan, columns[name]).astype(np.float32) for name in names}
