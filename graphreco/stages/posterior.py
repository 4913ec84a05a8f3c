"""Posterior: the joint posterior of an event's arrival direction and log10 energy, as a
conditional normalizing flow (``models.flow.ConditionalFlow``), sampled on request.

The flow is conditioned on the event's graph embedding (what the ``energy_direction``
stage's heads read: the pooled node states of the kept hits, their number and the
detector's event features) and on the pipeline's final point estimate and uncertainties
(``reco_zenith``, ``reco_azimuth``, ``reco_angle_sigma``, ``reco_log10_energy``,
``reco_log10_energy_sigma``), each standardised by its mean and spread in the training
events. It lives in standardised coordinates about that estimate:

- direction: the tangent-plane chart about the estimate (``sky.to_chart``: azimuthal
  equidistant, its axes towards larger zenith and larger azimuth, singular only at the
  antipode), divided by the estimate's per-axis sigma ``reco_angle_sigma / 1.5096`` (the
  68 % radius of a 2-D Gaussian in sigmas);
- energy: ``(log10 E - reco_log10_energy) / reco_log10_energy_sigma``.

An untrained flow is the standard normal there, the pipeline's own circular Gaussian;
training by maximum likelihood (``training_loss``) makes it the event's posterior: an
ellipse, skewed, or with two modes. The flow is block-triangular with the direction
first, so the direction's marginal density is exact (``log_density``); densities per sr
on the sphere include the chart's area ratio (``sky.log_area_ratio``). The flow's mass
beyond the antipode (chart radius > pi) is not on the sphere: it is negligible for any
event whose cone is not the whole sky.

The stage runs only when samples are asked for (``on_request``; ``graphreco reconstruct
--posterior N``) and then writes N joint samples per event: ``reco_posterior_zenith``,
``reco_posterior_azimuth`` (rad) and ``reco_posterior_log10_energy`` (log10 GeV).
Events without a point estimate get NaN samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..graph import GraphBatch
from ..models.flow import ConditionalFlow
from ..sky import POSTERIOR_COLUMNS, from_chart, hpd_areas, hpd_levels, log_area_ratio, to_chart
from ..statistics import central_levels, unit_vectors, zenith_azimuth
from .base import Stage, StageExport, StageGraph
from .energy_direction import EMBEDDING, direction_targets, stacked_targets
from .inputs import StageInput
from .likelihoods import gaussian_2d_radius

ESTIMATES = ("reco_zenith", "reco_azimuth", "reco_angle_sigma", "reco_log10_energy", "reco_log10_energy_sigma")
COLUMNS = POSTERIOR_COLUMNS
SIGMA_PER_CONE = 1.0 / gaussian_2d_radius(0.68)
"""Per-axis sigma of a 2-D Gaussian whose 68 % circle has radius 1."""
LEVELS = (0.5, 0.68, 0.9)
"""Credibility levels that the calibration record checks."""
SEED_MIX = np.int64(0x9E37_79B9_7F4A_7C15 - (1 << 64))
"""Odd multiplier (2^64 / golden ratio) spreading event ids into the sampling seed."""
CHECK_SAMPLES = 256
"""Samples per event in the calibration record's HPD coverage."""
EXPORT_MEANING = ("raw flow parameters per event (ConditionalFlow.parameters_of), in the order "
                  "ConditionalFlow.distribution reads them")
EXPORT_OUTSIDE = (
    "event_x (Posterior.input_graph): the energy_direction stage's embedding (its heads' input) beside the final "
    "point estimate (its unit vector sin zenith cos azimuth, sin zenith sin azimuth, cos zenith; ln "
    "reco_angle_sigma, reco_log10_energy, ln reco_log10_energy_sigma); the network standardises it itself",
    "the flow itself (zuko transforms: splines, triangular maps) and the chart back to zenith, azimuth and "
    "log10 E (Posterior.draw) run in torch and numpy")


class Posterior(Stage):
    """Conditional flow over (direction chart, log10 E) about the point estimate."""

    on_request = True
    encodes_graph = False
    reads = ESTIMATES
    writes = COLUMNS

    def __init__(self, n_features: int = 0, relative_features: tuple[int, ...] = (), hidden: int = 64,
                 transforms: int = 3, bins: int = 8, direction_temperature: float = 1.0,
                 energy_temperature: float = 1.0):
        super().__init__()
        self.config = {"hidden": hidden, "transforms": transforms, "bins": bins,
                       "direction_temperature": direction_temperature, "energy_temperature": energy_temperature}
        self.flow: ConditionalFlow | None = None

    def _build(self, context: int) -> None:
        """The flow and the context's standardisation, for a context of width ``context``
        (known from the training graphs, ``prepare_on``, or from saved weights)."""
        self.flow = ConditionalFlow(3, context, self.config["hidden"], self.config["transforms"], self.config["bins"])
        self.register_buffer("context_mean", torch.zeros(context))
        self.register_buffer("context_std", torch.ones(context))

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load weights, first building the flow for their context width."""
        if self.flow is None and "context_mean" in state_dict:
            self._build(int(state_dict["context_mean"].shape[0]))
        return super().load_state_dict(state_dict, strict, assign)

    @property
    def n_event_inputs(self) -> int:
        return 0 if self.flow is None else int(self.context_mean.shape[0])

    @property
    def export_spec(self) -> StageExport:
        return StageExport("flow_parameters", "events", None, EXPORT_MEANING, EXPORT_OUTSIDE)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, ptr: torch.Tensor | None = None,
                event_x: torch.Tensor | None = None) -> torch.Tensor:
        """The raw flow parameters (events, P) of the contexts ``event_x`` (events, C;
        ``input_graph``'s, before standardisation): the conditioner."""
        return self.flow.parameters_of(self.context(event_x))

    def input_graph(self, inputs: StageInput) -> StageGraph:
        """A graph without nodes whose ``event_x`` is each event's context (``context``);
        the values are the point estimates (float64) and ``valid``, the events that have
        one."""
        if EMBEDDING not in inputs.embeddings:
            raise ValueError(f"the posterior stage reads the {EMBEDDING} stage's embedding: run it after that stage")
        embedding = np.asarray(inputs.embeddings[EMBEDDING], dtype=np.float64)
        values = {name: np.asarray(inputs.event_columns[name], dtype=np.float64) for name in ESTIMATES}
        features = context_features(embedding, values)
        valid = np.all(np.isfinite(features), axis=1) & (values["reco_angle_sigma"] > 0) \
            & (values["reco_log10_energy_sigma"] > 0)
        n = valid.size
        empty = torch.zeros(n + 1, dtype=torch.int64)
        graph = GraphBatch(torch.zeros(0, 1), torch.zeros(2, 0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64),
                           empty, empty, torch.as_tensor(np.array(inputs.batch.event_id, dtype=np.int64)),
                           torch.from_numpy(np.where(valid[:, None], features, 0.0).astype(np.float32)))
        return StageGraph(graph, inputs.batch, values | {"valid": valid})

    def prepare_on(self, stage_graphs: list[StageGraph]) -> None:
        """Build the flow for the training graphs' context width and standardise the
        context by its mean and spread over their valid events (a stage already built,
        one being fine-tuned, keeps its own)."""
        if self.flow is not None:
            return
        contexts = np.concatenate([g.graph.event_x.numpy()[g.values["valid"]] for g in stage_graphs])
        self._build(contexts.shape[1])
        self.context_mean.copy_(torch.from_numpy(contexts.mean(axis=0)))
        self.context_std.copy_(torch.from_numpy(np.maximum(contexts.std(axis=0), 1e-6)))

    def context(self, event_x: torch.Tensor) -> torch.Tensor:
        """(events, C) the standardised contexts of ``input_graph``'s ``event_x``."""
        return (event_x - self.context_mean) / self.context_std

    def training_graph(self, inputs: StageInput) -> StageGraph:
        """Targets: ``standardised`` (events, 3), the truth in the flow's coordinates
        (``standardise``); events without a point estimate are not valid."""
        stage_graph = self.input_graph(inputs)
        targets = direction_targets(inputs, core=False)
        truth = standardise(stage_graph.values, targets["true_direction"].numpy(),
                            targets["true_log10_energy"].numpy())
        valid = stage_graph.values["valid"] & np.all(np.isfinite(truth), axis=1)
        return StageGraph(stage_graph.graph, stage_graph.events, {**stage_graph.values, "valid": valid}).with_targets(
            {**targets, "standardised": torch.from_numpy(np.where(valid[:, None], truth, 0.0).astype(np.float32))})

    def training_loss(self, stage_graph: StageGraph) -> torch.Tensor:
        """Negative log likelihood (standardised coordinates) per valid event."""
        valid = torch.from_numpy(stage_graph.values["valid"])
        if not bool(valid.any()):
            return self.flow.hyper[-1].bias.sum() * 0.0
        context = self.context(stage_graph.graph.event_x)[valid]
        return -self.flow.log_prob(stage_graph.graph.targets["standardised"][valid], context).mean()

    def log_density(self, stage_graph: StageGraph, zenith: np.ndarray, azimuth: np.ndarray,
                    log10_energy: np.ndarray | None = None) -> np.ndarray:
        """(..., events) log posterior density at directions ``zenith``, ``azimuth``
        (rad, (..., events)): of the direction per sr, or with ``log10_energy`` the joint
        density per sr and per decade; NaN for events without a point estimate."""
        values = stage_graph.values
        offsets = to_chart(values["reco_zenith"], values["reco_azimuth"], unit_vectors(zenith, azimuth))
        scale, sigma = self.units(values)
        coordinates = [offsets / scale[:, None]]
        to_physical = log_area_ratio(offsets) - 2 * np.log(scale)  # per unit^2 of the flow -> per sr
        if log10_energy is not None:
            coordinates.append(((log10_energy - values["reco_log10_energy"]) / sigma)[..., None])
            to_physical = to_physical - np.log(sigma)
        x = torch.from_numpy(np.concatenate(coordinates, axis=-1).astype(np.float32))
        with torch.inference_mode():
            density = self.flow.log_prob(x, self.context(stage_graph.graph.event_x)).double().numpy()
        return np.where(values["valid"], density + to_physical, np.nan)

    def units(self, values: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(events,) each: the flow's unit of the direction chart (rad: the estimate's
        per-axis sigma) and of log10 E (its sigma), each times its temperature."""
        return (direction_scale(values) * self.config["direction_temperature"],
                values["reco_log10_energy_sigma"] * self.config["energy_temperature"])

    def truth_levels(self, stage_graph: StageGraph, n: int, zenith: np.ndarray, azimuth: np.ndarray,
                     log10_energy: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """``n`` samples per event (``draw``) and, from them and the exact density, each
        event's ``direction`` HPD level of the direction ``zenith``, ``azimuth`` (rad),
        ``energy`` central level of ``log10_energy`` and ``area_90`` (sr) of its 90 %
        direction region."""
        samples = self.draw(stage_graph, n)
        at_samples = self.log_density(stage_graph, samples[COLUMNS[0]].T, samples[COLUMNS[1]].T)
        at_truth = self.log_density(stage_graph, zenith, azimuth)
        return samples, {"direction": hpd_levels(at_samples, at_truth),
                         "energy": central_levels(samples[COLUMNS[2]], log10_energy),
                         "area_90": hpd_areas(at_samples, (0.9,))[0]}

    def draw(self, stage_graph: StageGraph, n: int) -> dict[str, np.ndarray]:
        """``n`` joint samples per event (``COLUMNS``, each (events, n) float64; NaN for
        events without a point estimate)."""
        values = stage_graph.values
        with torch.inference_mode():
            standard = self.flow.sample(self.context(stage_graph.graph.event_x), n).double().numpy()
        scale, sigma = self.units(values)
        zenith, azimuth = from_chart(values["reco_zenith"], values["reco_azimuth"], standard[..., :2] * scale[:, None])
        energy = values["reco_log10_energy"] + standard[..., 2] * sigma
        invalid = ~values["valid"]
        return {name: np.where(invalid[:, None], np.nan, sample.T)
                for name, sample in zip(COLUMNS, (zenith, azimuth, energy), strict=True)}

    def outputs(self, inputs: StageInput) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """``inputs.posterior_samples`` samples per event (``draw``), as float32 (events, n);
        drawn from a random state seeded by the events' ids, so that an output is
        reproducible whatever the chunks and workers (torch's own state is kept)."""
        seed = int(np.bitwise_xor.reduce(np.asarray(inputs.batch.event_id, dtype=np.int64) * SEED_MIX)
                   if inputs.batch.event_id.size else 0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed & 0x7FFF_FFFF_FFFF_FFFF)
            samples = self.draw(self.input_graph(inputs), inputs.posterior_samples)
        return {}, {name: values.astype(np.float32) for name, values in samples.items()}

    def calibrate_on(self, stage_graphs: list[StageGraph]) -> dict:
        """Fix the temperatures on validation graphs (from ``training_graph``): the
        factors on the flow's direction and energy coordinates that make the truth fall
        inside the 68 % direction HPD region and the 68 % central energy interval of
        exactly 68 % of the events (a flow fitted by maximum likelihood on a finite
        sample is a little too sure of itself); then record the coverage at ``LEVELS``
        and the median area of the 90 % direction region (``coverage``)."""
        self.config |= {"direction_temperature": 1.0, "energy_temperature": 1.0}
        before = self.coverage(stage_graphs)
        torch.manual_seed(0)
        parts = []
        for stage_graph in stage_graphs:
            valid = torch.from_numpy(stage_graph.values["valid"])
            if bool(valid.any()):
                context = self.context(stage_graph.graph.event_x)[valid]
                with torch.inference_mode():
                    standard = self.flow.sample(context, CHECK_SAMPLES)
                    density = self.flow.log_prob(standard[..., :2], context)
                parts.append((context, density, standard[..., 2].T, stage_graph.graph.targets["standardised"][valid]))

        def direction_coverage(temperature: float) -> float:
            with torch.inference_mode():
                inside = [(density > self.flow.log_prob(truth[:, :2] / temperature, context)).float().mean(0) <= 0.68
                          for context, density, _, truth in parts]
            return float(torch.cat(inside).float().mean())

        def energy_coverage(temperature: float) -> float:
            levels = [central_levels(energy.numpy(), truth[:, 2].numpy() / temperature)
                      for _, _, energy, truth in parts]
            return float(np.mean(np.concatenate(levels) <= 0.68))

        self.config["direction_temperature"] = temperature_for(direction_coverage)
        self.config["energy_temperature"] = temperature_for(energy_coverage)
        return {"direction_temperature": self.config["direction_temperature"],
                "energy_temperature": self.config["energy_temperature"], "before": before,
                "after": self.coverage(stage_graphs)}

    def coverage(self, stage_graphs: list[StageGraph]) -> dict:
        """The coverage on labelled graphs (from ``training_graph``) of the direction's
        HPD regions and the energy's central intervals at ``LEVELS`` (``CHECK_SAMPLES``
        samples per event), and the median area (deg^2) of the 90 % direction region."""
        torch.manual_seed(0)
        levels, energy_levels, areas = [], [], []
        for stage_graph in stage_graphs:
            valid = stage_graph.values["valid"]
            if not valid.any():
                continue
            truth = stacked_targets([stage_graph])
            found = self.truth_levels(stage_graph, CHECK_SAMPLES, *zenith_azimuth(truth["true_direction"]),
                                      truth["true_log10_energy"])[1]
            levels.append(found["direction"][valid])
            energy_levels.append(found["energy"][valid])
            areas.append(found["area_90"][valid])
        levels, energy_levels, areas = (np.concatenate(part) for part in (levels, energy_levels, areas))
        return {"events": int(levels.size),
                "direction_coverage": {f"{level:g}": float(np.mean(levels <= level)) for level in LEVELS},
                "energy_coverage": {f"{level:g}": float(np.mean(energy_levels <= level)) for level in LEVELS},
                "median_area_90_deg2": float(np.median(areas) * np.degrees(1) ** 2)}


def temperature_for(coverage: Callable[[float], float], target: float = 0.68, low: float = 0.5,
                    high: float = 3.0, steps: int = 20) -> float:
    """The temperature in [low, high] at which ``coverage(temperature)`` (rising with
    it) reaches ``target``, by bisection (a bound where the target is out of reach)."""
    for _ in range(steps):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if coverage(middle) < target else (low, middle)
    return round(0.5 * (low + high), 4)


def context_features(embedding: np.ndarray, values: dict[str, np.ndarray]) -> np.ndarray:
    """(events, E + 6): the graph embedding beside the point estimate (its direction as a
    unit vector, ln reco_angle_sigma, reco_log10_energy, ln reco_log10_energy_sigma)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = np.column_stack([unit_vectors(values["reco_zenith"], values["reco_azimuth"]),
                                    np.log(values["reco_angle_sigma"]), values["reco_log10_energy"],
                                    np.log(values["reco_log10_energy_sigma"])])
    return np.concatenate([embedding, estimate], axis=1)


def direction_scale(values: dict[str, np.ndarray]) -> np.ndarray:
    """(events,) rad: the per-axis sigma of the point estimate's cone."""
    return values["reco_angle_sigma"] * SIGMA_PER_CONE


def standardise(values: dict[str, np.ndarray], direction: np.ndarray, log10_energy: np.ndarray) -> np.ndarray:
    """(events, 3) the flow's coordinates of directions (events, 3 unit vectors) and log10
    energies (events,) about the point estimates ``values``."""
    offsets = to_chart(values["reco_zenith"], values["reco_azimuth"], direction)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.column_stack([offsets / direction_scale(values)[:, None],
                                (log10_energy - values["reco_log10_energy"]) / values["reco_log10_energy_sigma"]])

