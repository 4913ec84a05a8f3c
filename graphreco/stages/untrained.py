"""What the stages without a network share: they read the hits the hit selection kept
and the event columns of earlier stages, and only their calibration is fitted."""

from __future__ import annotations

import numpy as np

from .. import detectors
from .base import Stage, StageGraph
from .calibration import n_bins
from .energy_direction import event_outputs
from .inputs import StageInput
from .kept_hits import kept_hits, too_few


class UntrainedStage(Stage):
    """A stage without a network (``refit``, ``combination``): ``graphreco train`` only
    calibrates it and ``graphreco export`` leaves it outside ONNX. Subclasses set
    ``config`` (with ``threshold``, ``min_hits`` and optionally ``fiducial``) and define
    ``estimates(stage_graph) -> (columns, ...)``."""

    trained = False
    kept_hit_columns: tuple[str, ...] = ()
    """Per-hit columns of earlier stages carried with the kept hits."""

    @classmethod
    def for_detector(cls, detector: detectors.Detector, **settings) -> UntrainedStage:
        return cls(**settings)

    @property
    def calibration_bins(self) -> int:
        """Bins with their own scales (``stages.calibration.n_bins``)."""
        return n_bins(bool(self.config.get("fiducial")))

    def input_graph(self, inputs: StageInput) -> StageGraph:
        """The kept hits (with ``kept_hit_columns``) beside the detector's graph, and the
        event columns it reads (float64) as the values."""
        selection = kept_hits(inputs, self.config["threshold"], self.config["min_hits"], self.kept_hit_columns)
        values = {name: np.asarray(inputs.event_columns[name], dtype=np.float64)
                  for name in self.reads if name in inputs.event_columns}
        return StageGraph(inputs.graph, selection, values)

    def estimates(self, stage_graph: StageGraph) -> tuple:
        """Output columns (float64, by name) of a graph from ``input_graph``, then what
        the stage's calibration needs per event."""
        raise NotImplementedError

    def outputs(self, inputs: StageInput) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per-event output columns for a batch; events with fewer kept hits than
        ``min_hits`` (``too_few``) get NaN."""
        stage_graph = self.input_graph(inputs)
        columns = self.estimates(stage_graph)[0]
        return {}, event_outputs(columns, too_few(stage_graph.events.offsets, self.config["min_hits"]), self.writes)
