"""Energy and direction: log10 E and the arrival direction of an event, each with a
calibrated uncertainty, from the hits that hit selection kept.

The stage reads ``hit_score``, keeps the hits with ``hit_score >= threshold`` (at least
``min_hits`` per event, its best-scored ones), builds the detector's graph on them alone
and encodes it. An event readout (max and mean of the node states, and the log of the
number of kept hits) feeds two heads:

- direction: a 3-vector whose direction is the mean and whose norm is kappa of a
  von Mises-Fisher distribution (loss ``vmf_nll``); ``reco_angle_sigma`` is the radius
  of its 68 % cone;
- energy: mean and sigma of a Gaussian in log10 E/GeV (loss ``gaussian_nll``).

Both uncertainties are multiplied by scales fixed on a validation sample
(``calibrate``), so that their coverage there is exactly 68 % (1 sigma: 68.27 %).
Directions are where the particle comes from (the event format's convention).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from torch_geometric.data import Batch

from ..evaluate import ONE_SIGMA, calibration_scale
from ..graph import build_graph
from ..io import EventBatch
from ..kernels import select_hits
from ..models import GraphEncoder, event_pool
from .base import Stage, truth
from .inputs import StageInput
from .likelihoods import CONTAINMENT, gaussian_nll, vmf_cone, vmf_nll

MIN_SIGMA = 1e-3
"""Smallest log10-energy uncertainty the head can report (keeps the likelihood finite)."""


def unit_vectors(zenith: np.ndarray, azimuth: np.ndarray) -> np.ndarray:
    """(n, 3) unit vectors pointing where the particle comes from (rad in)."""
    sin_zenith = np.sin(zenith)
    return np.stack([sin_zenith * np.cos(azimuth), sin_zenith * np.sin(azimuth), np.cos(zenith)], axis=1)


def opening_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (rad) between rows of two (n, 3) arrays of unit vectors."""
    return np.arccos(np.clip(np.sum(a * b, axis=1), -1.0, 1.0))


def zenith_azimuth(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zenith in [0, pi] and azimuth in [0, 2 pi) (rad) of (n, 3) vectors of any norm."""
    norm = np.maximum(np.linalg.norm(vectors, axis=1), 1e-30)
    zenith = np.arccos(np.clip(vectors[:, 2] / norm, -1.0, 1.0))
    return zenith, np.mod(np.arctan2(vectors[:, 1], vectors[:, 0]), 2 * np.pi)


class EnergyDirection(Stage):
    """GraphEncoder on the selected hits + event readout -> vMF direction and Gaussian log10 E."""

    reads = ("hit_score",)
    writes = ("reco_log10_energy", "reco_log10_energy_sigma", "reco_zenith", "reco_azimuth", "reco_angle_sigma")

    def __init__(self, n_features: int, relative_features: tuple[int, ...], hidden: int = 48, layers: int = 3,
                 threshold: float = 0.5, min_hits: int = 4, angle_scale: float = 1.0, energy_scale: float = 1.0):
        super().__init__()
        self.config = {"n_features": n_features, "relative_features": list(relative_features), "hidden": hidden,
                       "layers": layers, "threshold": threshold, "min_hits": min_hits,
                       "angle_scale": angle_scale, "energy_scale": energy_scale}
        self.encoder = GraphEncoder(n_features, tuple(relative_features), hidden, layers)
        self.head = nn.Sequential(nn.Linear(2 * hidden + 1, 2 * hidden), nn.ReLU(), nn.Linear(2 * hidden, 5))

    def select(self, batch: EventBatch, hit_score: np.ndarray) -> EventBatch:
        """The events of ``batch`` holding only the hits this stage reconstructs from."""
        return batch.with_hits(select_hits(batch.offsets, hit_score, self.config["threshold"], self.config["min_hits"]))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, ptr: torch.Tensor) -> torch.Tensor:
        """(n_events, 5): direction vector (3, norm = kappa), mean log10 E, raw sigma."""
        n_hits = (ptr[1:] - ptr[:-1]).to(x.dtype)
        readout = torch.cat([event_pool(self.encoder(x, edge_index), ptr), torch.log1p(n_hits)[:, None]], dim=1)
        return self.head(readout)

    @staticmethod
    def split(prediction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Direction vector, mean log10 E and sigma (uncalibrated) of a forward output."""
        return prediction[:, :3], prediction[:, 3], nn.functional.softplus(prediction[:, 4]) + MIN_SIGMA

    def input_graph(self, inputs: StageInput) -> Batch:
        """Graph of the selected hits of the batch."""
        return build_graph(self.select(inputs.batch, inputs.hit_columns["hit_score"]), inputs.detector)

    def training_graph(self, inputs: StageInput) -> Batch:
        events = inputs.batch.events
        graph = self.input_graph(inputs)
        graph.true_direction = torch.from_numpy(unit_vectors(truth(events, "true_zenith"), truth(events, "true_azimuth")))
        graph.true_log10_energy = torch.from_numpy(np.log10(truth(events, "true_energy")))
        return graph

    def training_loss(self, graph: Batch) -> torch.Tensor:
        direction, energy, sigma = self.split(self(graph.x, graph.edge_index, graph.ptr))
        return (vmf_nll(direction, graph.true_direction.to(direction.dtype))
                + gaussian_nll(energy, sigma, graph.true_log10_energy.to(energy.dtype)))

    def estimates(self, prediction: torch.Tensor) -> dict[str, np.ndarray]:
        """Output columns of a forward output, uncertainties calibrated."""
        direction, energy, sigma = (tensor.double().numpy() for tensor in self.split(prediction))
        zenith, azimuth = zenith_azimuth(direction)
        cone = vmf_cone(np.linalg.norm(direction, axis=1), CONTAINMENT)
        return {"reco_log10_energy": energy, "reco_log10_energy_sigma": sigma * self.config["energy_scale"],
                "reco_zenith": zenith, "reco_azimuth": azimuth,
                "reco_angle_sigma": np.minimum(cone * self.config["angle_scale"], np.pi)}

    def calibrate_on(self, graphs: list[Batch]) -> dict:
        """Scale the 68 % cone and the log10-energy sigma so that they cover exactly on
        ``graphs`` (a validation sample from ``training_graph``); returns the scales and
        the coverage before scaling."""
        self.config |= {"angle_scale": 1.0, "energy_scale": 1.0}
        columns, angle, energy = [], [], []
        with torch.inference_mode():
            for graph in graphs:
                columns.append(self.estimates(self(graph.x, graph.edge_index, graph.ptr)))
                angle.append(graph.true_direction.numpy())
                energy.append(graph.true_log10_energy.numpy())
        reco = {name: np.concatenate([c[name] for c in columns]) for name in columns[0]}
        angle_error = opening_angle(unit_vectors(reco["reco_zenith"], reco["reco_azimuth"]), np.concatenate(angle))
        energy_error = reco["reco_log10_energy"] - np.concatenate(energy)
        scales = {"angle_scale": calibration_scale(angle_error, reco["reco_angle_sigma"], CONTAINMENT),
                  "energy_scale": calibration_scale(energy_error, reco["reco_log10_energy_sigma"], ONE_SIGMA)}
        self.config |= scales
        return {**scales, "events": int(energy_error.size),
                "coverage_before": {"angle": float(np.mean(angle_error <= reco["reco_angle_sigma"])),
                                    "energy": float(np.mean(np.abs(energy_error) <= reco["reco_log10_energy_sigma"]))}}

    def outputs(self, inputs: StageInput) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per-hit and per-event output columns for a batch; events without hits get NaN."""
        graph = self.input_graph(inputs)
        columns = self.estimates(self(graph.x, graph.edge_index, graph.ptr))
        empty = inputs.batch.hits_per_event == 0
        return {}, {name: np.where(empty, np.nan, values).astype(np.float32) for name, values in columns.items()}
