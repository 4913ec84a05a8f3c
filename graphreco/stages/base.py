"""What every stage provides to the pipeline and to training."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from ..detectors import Detector
from ..graph import GraphBatch
from ..io import EventBatch, EventFormatError
from ..io.batch import event_of_hit
from ..models import CsrEvents, EdgeAggregation, EventReduction, GraphEncoder
from .inputs import StageInput

GRAPH_BUILDING = "graph building: the detector's node features and edges of all hits (graphreco.graph.build_graph)"
"""What stays outside an exported stage that reads the detector's graph of all hits."""


@dataclass(frozen=True)
class StageExport:
    """What a stage's network returns when exported, and what stays outside it.

    ``output`` the output's name; ``axis`` what its first axis runs over ("nodes" or
    "events"); ``width`` its second axis (None: the output is a vector); ``meaning`` what
    it holds; ``outside`` the work the stage does around its network (graph building,
    post-processing), in words, for the export manifest.
    """

    output: str
    axis: str
    width: int | None
    meaning: str
    outside: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class StageGraph:
    """A batch as a stage reads it: its graph, the events whose hits are the graph's
    nodes, and per-event values the stage uses beside its network.

    Args:
        graph: tensors only (node features, edges, offsets; per-event inputs and training
            targets where the stage has them).
        events: the events with the hits the graph holds, in node order: all the batch's,
            or those the stage kept.
        values: per-event arrays by name, (events,) or (events, k): columns of earlier
            stages or quantities of the kept hits (their centroid) that the stage's
            estimates read.
    """

    graph: GraphBatch
    events: EventBatch
    values: Mapping[str, np.ndarray] = field(default_factory=dict)

    def with_targets(self, targets: Mapping[str, torch.Tensor]) -> StageGraph:
        """This one with ``targets`` (by name, per node or per event) in its graph."""
        return replace(self, graph=replace(self.graph, targets=dict(targets)))


class Stage(nn.Module):
    """A trainable reconstruction step.

    ``reads`` names the per-hit columns of earlier stages it needs, ``writes`` its output
    columns (float32 per event), ``hit_writes`` those of them that are per hit instead
    (list<float32> in an output), ``config`` its constructor arguments (stored in
    artifacts).
    """

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    hit_writes: tuple[str, ...] = ()
    config: dict
    trained: bool = True
    encodes_graph: bool = True
    """Whether the stage has a graph encoder of its own (``encoder``): what
    domain-adversarial training and the ONNX export work on."""
    on_request: bool = False
    """Whether the stage runs only when its output is asked for (the posterior's samples:
    ``StageInput.posterior_samples``); its columns are then per event lists."""
    """Whether the stage has a network that ``graphreco train`` fits (False: only
    ``calibrate_on`` fixes it, and ``graphreco export`` leaves it outside ONNX)."""
    encoder: GraphEncoder
    n_event_inputs: int = 0
    """Width of the per-event inputs ``event_x`` the readout takes (0: none)."""
    energy_scales: tuple[str, ...] = ()
    """The config keys of the stage's log10-energy uncertainty scales (``rescale_on``)."""

    @classmethod
    def for_detector(cls, detector: Detector, **settings) -> Stage:
        """A new stage for ``detector``, its constructor keywords ``settings``: a network
        stage takes the detector's node features and relative features first."""
        return cls(len(detector.feature_names), detector.relative_features, **settings)

    def readout(self, h: torch.Tensor, x: torch.Tensor, events: EventReduction,
                event_x: torch.Tensor | None) -> torch.Tensor:
        """The network's raw output from the node states.

        Args:
            h: (N, H) node states from the encoder; x: (N, F) node features.
            events: how the nodes' rows are reduced per event.
            event_x: (events, n_event_inputs) per-event inputs, or None.
        """
        raise NotImplementedError

    def network(self, x: torch.Tensor, edge_index: torch.Tensor, events: EventReduction,
                event_x: torch.Tensor | None = None, aggregation: EdgeAggregation | None = None) -> torch.Tensor:
        """The stage's network: encoder, then ``readout``, with the edge aggregation and
        event reduction the caller chooses (``aggregation`` None: ``default_aggregation``)."""
        return self.readout(self.encoder(x, edge_index, aggregation), x, events, event_x)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, ptr: torch.Tensor | None = None,
                event_x: torch.Tensor | None = None) -> torch.Tensor:
        """The raw output (``export_spec``) of a graph: node features ``x`` (N, F),
        ``edge_index`` (2, E) grouped by target, events by their node offsets ``ptr``
        (events + 1; not read by per-node stages), ``event_x`` per-event inputs."""
        return self.network(x, edge_index, CsrEvents(ptr), event_x)

    @property
    def export_spec(self) -> StageExport:
        """What the exported network returns and what stays outside it."""
        raise NotImplementedError

    def outputs(self, inputs: StageInput) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per-hit and per-event output columns for a batch."""
        raise NotImplementedError

    def input_graph(self, inputs: StageInput) -> StageGraph:
        """The graph the stage reads a batch through (the detector's graph of all hits)."""
        return StageGraph(inputs.graph, inputs.batch)

    def training_graph(self, inputs: StageInput) -> StageGraph:
        """``input_graph`` with the truth the stage learns in ``graph.targets``; raises
        ``KeyError`` naming a truth column the batch lacks."""
        raise NotImplementedError

    def training_loss(self, stage_graph: StageGraph) -> torch.Tensor:
        """Loss of a graph from ``training_graph``."""
        raise NotImplementedError

    def prepare_on(self, stage_graphs: list[StageGraph]) -> None:
        """Fix what the network needs to know of its inputs before training (the width
        and standardisation of per-event inputs) from training graphs; most stages know
        it from their config and do nothing."""

    def calibrate_on(self, stage_graphs: list[StageGraph]) -> dict:
        """Fix uncertainty calibrations on validation graphs (from ``training_graph``);
        returns what was measured."""
        return {}

    @property
    def calibrated(self) -> bool:
        """Whether the stage has a calibration that ``calibrate_on`` fits."""
        return self._overrides("calibrate_on")

    def adapt_on(self, labelled: list[StageGraph], unlabelled: list[StageGraph]) -> dict:
        """Adapt what the stage assumes of the data to unlabelled graphs of a new
        condition (from ``input_graph``), with labelled graphs (from ``training_graph``)
        of the condition it was made for; returns what was fitted ({}: nothing to adapt)."""
        return {}

    @property
    def adapts(self) -> bool:
        """Whether ``adapt_on`` fits anything."""
        return self._overrides("adapt_on")

    def working_point_on(self, stage_graphs: list[StageGraph], efficiency: float | None = None,
                         rejection: float | None = None) -> dict:
        """Fix the score threshold that keeps ``efficiency`` of the signal events of
        labelled graphs (from ``training_graph``), or lets ``1 / rejection`` of their
        background events through; returns it ({}: the stage has no event score to cut
        on)."""
        return {}

    @property
    def has_working_point(self) -> bool:
        """Whether ``working_point_on`` fixes anything."""
        return self._overrides("working_point_on")

    def scales_on(self, stage_graphs: list[StageGraph]) -> dict:
        """Fix only the uncertainty scales on labelled graphs (from ``training_graph``),
        keeping whatever else ``calibrate_on`` fits; the same as ``calibrate_on`` for a
        stage whose calibration is its scales alone."""
        return self.calibrate_on(stage_graphs)

    def rescale_on(self, stage_graphs: list[StageGraph]) -> dict:
        """``scales_on`` for ``graphreco calibrate``, the log10-energy scales
        (``energy_scales``) kept as they are: a later stage may read the scaled sigma as
        an input (the combination's regression), and the ``energy_scale`` stage fixes
        the final energy's interval. Returns the scales fitted, and the keys kept."""
        kept = {key: self.config[key] for key in self.energy_scales if key in self.config}
        record = self.scales_on(stage_graphs)
        self.config |= kept
        return {key: value for key, value in record.items() if key not in kept} | {"kept": sorted(kept)}

    def _overrides(self, method: str) -> bool:
        """Whether the stage's class defines its own ``method`` rather than ``Stage``'s."""
        return getattr(type(self), method) is not getattr(Stage, method)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"


def truth(batch: EventBatch, name: str, valid: Callable[[np.ndarray], np.ndarray] | None = None,
          problem: str = "") -> np.ndarray:
    """Truth column ``name`` of a batch (per hit or per event). ``KeyError`` names the
    column when it is absent; where ``valid(values)`` is false, ``EventFormatError``
    names the file, the column, the first offending event and ``problem``."""
    columns = batch.hits if name in batch.hits else batch.events
    if name not in columns:
        raise KeyError(name)
    values = columns[name]
    if valid is not None and not np.all(accepted := valid(values)):
        bad = int(np.argmin(accepted))
        event = bad if columns is batch.events else event_of_hit(batch.offsets, bad)
        raise EventFormatError(batch.source, problem, column=name, event_id=int(batch.event_id[event]))
    return values
