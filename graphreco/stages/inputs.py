"""What a stage sees of an event batch when the pipeline runs it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..detectors import Detector
from ..graph import GraphBatch
from ..io import EventBatch


@dataclass
class StageInput:
    """The events, their detector, the detector's graph of all their hits, and the
    per-hit and per-event columns that earlier stages wrote (a stage names those it needs
    in ``reads``). ``kept`` holds the hit selections stages made of the batch
    (``kept_hits``), so that the stages after the hit selection share one;
    ``embeddings`` the per-event graph embeddings (events, width) that stages left for
    later ones, by the name of the stage; ``posterior_samples`` how many posterior
    samples per event the stages that run on request (``Stage.on_request``) draw (0:
    they do not run)."""

    batch: EventBatch
    detector: Detector
    graph: GraphBatch
    hit_columns: dict[str, np.ndarray] = field(default_factory=dict)
    event_columns: dict[str, np.ndarray] = field(default_factory=dict)
    kept: dict[tuple, tuple[np.ndarray, EventBatch]] = field(default_factory=dict, repr=False)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    posterior_samples: int = 0
