"""Energy scale: the absolute energy calibration of a pipeline, fixed on labelled
reference events without retraining (``graphreco calibrate``).

The stage runs last and shifts the log10 E of every event by the ``log10_offset`` of its
class (a factor ``10**log10_offset`` in energy; TA SD calibrates its surface-detector
energy to the fluorescence detector, a ~27 % rescaling) and multiplies its 1-sigma
uncertainty by the class's ``sigma_scale``. With ``track_like`` the classes are
cascade-like and track-like events (the mean ``hit_track_score`` of the kept hits at
least ``track_like``, as the energy and direction stage groups them): a muon's energy
and a cascade's move apart when the light yield changes (in 30 m water the shipped
Baikal-GVD pipeline read numu CC 0.29 and nue CC 0.49 decades high); without it there is
one class. ``calibrate_on`` fixes each class's offset as the median of true minus
reconstructed log10 E on the reference events (inside the detector's fiducial cut with
``fiducial``: the events the energy is quoted for), then the scale that makes the shifted
energies' 1-sigma intervals cover 68.27 % of them. Nothing in it is trained by gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import detectors
from ..detectors.base import event_means
from ..statistics import ONE_SIGMA, calibration_scale
from .base import StageGraph
from .calibration import MIN_REFERENCE_EVENTS, TooFewReferenceEvents, estimate_all
from .energy_direction import direction_targets, event_outputs, stacked_targets
from .inputs import StageInput
from .untrained import UntrainedStage

ENERGY_COLUMNS = ("reco_log10_energy", "reco_log10_energy_sigma")
FIDUCIAL_COLUMNS = ("reco_zenith", "reco_azimuth", "reco_core_x", "reco_core_y")
CLASSES = ("cascade-like", "track-like")


class EnergyScale(UntrainedStage):
    """A shift of log10 E and a factor on its uncertainty, per event class."""

    def __init__(self, threshold: float = 0.5, min_hits: int = 4, track_like: float | None = None,
                 fiducial: bool = False, log10_offset: Sequence[float] | None = None,
                 sigma_scale: Sequence[float] | None = None):
        super().__init__()
        self.config = {"threshold": threshold, "min_hits": min_hits, "track_like": track_like}
        if fiducial:
            self.config["fiducial"] = True
        classes = 1 if track_like is None else 2
        self.config |= {"log10_offset": [0.0] * classes if log10_offset is None else [float(v) for v in log10_offset],
                        "sigma_scale": [1.0] * classes if sigma_scale is None else [float(v) for v in sigma_scale]}
        if len(self.config["log10_offset"]) != classes or len(self.config["sigma_scale"]) != classes:
            raise ValueError(f"log10_offset and sigma_scale need one value per class ({classes})")

    @property
    def reads(self) -> tuple[str, ...]:
        hits = ("hit_score", "hit_track_score") if self.config["track_like"] is not None else ("hit_score",)
        return hits + ENERGY_COLUMNS + (FIDUCIAL_COLUMNS if self.config.get("fiducial") else ())

    @property
    def writes(self) -> tuple[str, ...]:
        return ENERGY_COLUMNS

    @property
    def kept_hit_columns(self) -> tuple[str, ...]:
        """``hit_track_score`` where ``track_like`` classes the events."""
        return ("hit_track_score",) if self.config["track_like"] is not None else ()

    def training_graph(self, inputs: StageInput) -> StageGraph:
        """Targets: ``true_log10_energy`` (events,) log10 E/GeV (and the true direction),
        for ``calibrate_on``."""
        return self.input_graph(inputs).with_targets(direction_targets(inputs, core=False))

    def estimates(self, stage_graph: StageGraph) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """The shifted log10 E/GeV and scaled sigma (float64) of a graph from
        ``input_graph``; each event's class (an index into ``CLASSES``: 0 without
        ``track_like``) and whether its energy is quoted (inside the detector's fiducial
        cut with ``fiducial``; all otherwise)."""
        values, selection = stage_graph.values, stage_graph.events
        event_class = np.zeros(selection.offsets.size - 1, dtype=np.int64)
        if self.config["track_like"] is not None:
            event_class[event_means(selection.offsets, selection.hits["hit_track_score"])
                        >= self.config["track_like"]] = 1
        offset, scale = (np.asarray(self.config[key])[event_class] for key in ("log10_offset", "sigma_scale"))
        columns = {"reco_log10_energy": values["reco_log10_energy"] + offset,
                   "reco_log10_energy_sigma": values["reco_log10_energy_sigma"] * scale}
        quoted = np.ones(event_class.size, dtype=bool)
        if self.config.get("fiducial"):
            quoted = detectors.get(selection.detector).fiducial({name: values[name] for name in FIDUCIAL_COLUMNS},
                                                                configuration=selection.configuration)
        return columns, event_class, quoted

    def outputs(self, inputs: StageInput) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The shifted energy columns; an event without an energy keeps NaN."""
        columns = self.estimates(self.input_graph(inputs))[0]
        return {}, event_outputs(columns, np.zeros(inputs.batch.offsets.size - 1, dtype=bool), self.writes)

    def calibrate_on(self, stage_graphs: list[StageGraph]) -> dict:
        """Fix ``log10_offset`` and ``sigma_scale`` of each class on labelled reference
        graphs (from ``training_graph``). ``TooFewReferenceEvents`` when fewer than
        ``MIN_REFERENCE_EVENTS`` of them have an energy to compare; a class with fewer
        takes the values of all events together. Returns the values, the events per
        class, which classes took the overall values, and the bias and coverage before
        and after (on these same events)."""
        classes = len(self.config["log10_offset"])
        self.config |= {"log10_offset": [0.0] * classes, "sigma_scale": [1.0] * classes}
        reco, event_class, quoted = estimate_all(self.estimates, stage_graphs)
        error = reco["reco_log10_energy"] - stacked_targets(stage_graphs)["true_log10_energy"]
        sigma = reco["reco_log10_energy_sigma"]
        used = quoted & np.isfinite(error) & (sigma > 0)
        if used.sum() < MIN_REFERENCE_EVENTS:
            raise TooFewReferenceEvents(
                f"the energy scale needs at least {MIN_REFERENCE_EVENTS} reference events with a reconstructed "
                f"energy{' inside the fiducial cut' if self.config.get('fiducial') else ''}; "
                f"the reference files give {int(used.sum())}")
        overall = _offset_and_scale(error[used], sigma[used])
        members = [used & (event_class == index) for index in range(classes)]
        fitted = [_offset_and_scale(error[chosen], sigma[chosen]) if chosen.sum() >= MIN_REFERENCE_EVENTS
                  else overall for chosen in members]
        self.config |= {"log10_offset": [offset for offset, _ in fitted], "sigma_scale": [scale for _, scale in fitted]}
        shifted = error + np.asarray(self.config["log10_offset"])[event_class]
        scaled = sigma * np.asarray(self.config["sigma_scale"])[event_class]
        names = CLASSES if classes == 2 else ("all",)
        return {"log10_offset": self.config["log10_offset"], "sigma_scale": self.config["sigma_scale"],
                "classes": list(names), "events_per_class": [int(chosen.sum()) for chosen in members],
                "classes_from_all_events": [name for name, chosen in zip(names, members, strict=True)
                                            if chosen.sum() < MIN_REFERENCE_EVENTS],
                "bias_before": float(np.median(error[used])),
                "coverage_before": float(np.mean(np.abs(error[used]) <= sigma[used])),
                "coverage_after": float(np.mean(np.abs(shifted[used]) <= scaled[used]))}


def _offset_and_scale(error: np.ndarray, sigma: np.ndarray) -> tuple[float, float]:
    """The log10 E shift that centres ``error`` (reconstructed minus true log10 E) on
    zero by its median, and the factor on ``sigma`` that then covers 68.27 %."""
    offset = -float(np.median(error))
    return offset, calibration_scale(error + offset, sigma, ONE_SIGMA)
