"""Energy scale: the absolute energy calibration of a pipeline, fixed on labelled
reference events without retraining (``graphreco calibrate``).

The stage runs last and shifts the log10 E of every event by ``log10_offset`` (a factor
``10**log10_offset`` in energy; TA SD calibrates its surface-detector energy to the
fluorescence detector, a ~27 % rescaling) and multiplies its 1-sigma uncertainty by
``sigma_scale``. ``calibrate_on`` fixes the offset as the median of true minus
reconstructed log10 E on the reference events (inside the detector's fiducial cut, where
it has one: the events the energy is quoted for), then the scale that makes the shifted
energies' 1-sigma intervals cover 68.27 % of them. Nothing in it is trained by gradient.
"""

from __future__ import annotations

import numpy as np

from .. import detectors
from ..statistics import ONE_SIGMA, calibration_scale
from .base import StageGraph
from .calibration import MIN_REFERENCE_EVENTS, TooFewReferenceEvents, estimate_all
from .energy_direction import direction_targets, event_outputs, stacked_targets
from .inputs import StageInput
from .untrained import UntrainedStage

ENERGY_COLUMNS = ("reco_log10_energy", "reco_log10_energy_sigma")
FIDUCIAL_COLUMNS = ("reco_zenith", "reco_azimuth", "reco_core_x", "reco_core_y")


class EnergyScale(UntrainedStage):
    """A constant shift of log10 E and a factor on its uncertainty, per pipeline."""

    def __init__(self, log10_offset: float = 0.0, sigma_scale: float = 1.0, fiducial: bool = False):
        super().__init__()
        self.config = {"log10_offset": float(log10_offset), "sigma_scale": float(sigma_scale)}
        if fiducial:
            self.config["fiducial"] = True

    @property
    def reads(self) -> tuple[str, ...]:
        return ENERGY_COLUMNS + (FIDUCIAL_COLUMNS if self.config.get("fiducial") else ())

    @property
    def writes(self) -> tuple[str, ...]:
        return ENERGY_COLUMNS

    def input_graph(self, inputs: StageInput) -> StageGraph:
        """All the batch's events, with the event columns it reads (float64) as the values."""
        values = {name: np.asarray(inputs.event_columns[name], dtype=np.float64) for name in self.reads}
        return StageGraph(inputs.graph, inputs.batch, values)

    def training_graph(self, inputs: StageInput) -> StageGraph:
        """Targets: ``true_log10_energy`` (events,) log10 E/GeV (and the true direction),
        for ``calibrate_on``."""
        return self.input_graph(inputs).with_targets(direction_targets(inputs, core=False))

    def estimates(self, stage_graph: StageGraph) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The shifted log10 E/GeV and scaled sigma (float64) of a graph from
        ``input_graph``, and which events the energy is quoted for (inside the
        detector's fiducial cut with ``fiducial``; all otherwise)."""
        values = stage_graph.values
        columns = {"reco_log10_energy": values["reco_log10_energy"] + self.config["log10_offset"],
                   "reco_log10_energy_sigma": values["reco_log10_energy_sigma"] * self.config["sigma_scale"]}
        quoted = np.ones(columns["reco_log10_energy"].size, dtype=bool)
        if self.config.get("fiducial"):
            events = stage_graph.events
            quoted = detectors.get(events.detector).fiducial({name: values[name] for name in FIDUCIAL_COLUMNS},
                                                              configuration=events.configuration)
        return columns, quoted

    def outputs(self, inputs: StageInput) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The shifted energy columns; an event without an energy keeps NaN."""
        columns = self.estimates(self.input_graph(inputs))[0]
        return {}, event_outputs(columns, np.zeros(inputs.batch.offsets.size - 1, dtype=bool), self.writes)

    def calibrate_on(self, stage_graphs: list[StageGraph]) -> dict:
        """Fix ``log10_offset`` and ``sigma_scale`` on labelled reference graphs (from
        ``training_graph``); ``TooFewReferenceEvents`` when fewer than
        ``MIN_REFERENCE_EVENTS`` of them have an energy to compare. Returns both, the
        events they were fitted on, and the bias and coverage before and after (on these
        same events)."""
        self.config |= {"log10_offset": 0.0, "sigma_scale": 1.0}
        reco, quoted = estimate_all(self.estimates, stage_graphs)
        truth = stacked_targets(stage_graphs)["true_log10_energy"]
        used = quoted & np.isfinite(reco["reco_log10_energy"]) & (reco["reco_log10_energy_sigma"] > 0)
        if used.sum() < MIN_REFERENCE_EVENTS:
            raise TooFewReferenceEvents(
                f"the energy scale needs at least {MIN_REFERENCE_EVENTS} reference events with a reconstructed "
                f"energy{' inside the fiducial cut' if self.config.get('fiducial') else ''}; "
                f"the reference files give {int(used.sum())}")
        error = reco["reco_log10_energy"][used] - truth[used]
        sigma = reco["reco_log10_energy_sigma"][used]
        offset = -float(np.median(error))
        scale = calibration_scale(error + offset, sigma, ONE_SIGMA)
        self.config |= {"log10_offset": offset, "sigma_scale": scale}
        return {"log10_offset": offset, "sigma_scale": scale, "events": int(used.sum()),
                "bias_before": -offset, "coverage_before": float(np.mean(np.abs(error) <= sigma)),
                "coverage_after": float(np.mean(np.abs(error + offset) <= scale * sigma))}
