"""A reconstruction pipeline: the detector and its trained stages, chained.

A pipeline folder holds ``pipeline.json`` (``{"detector": ..., "stages": [...]}``, the
stages in the order they run) and one artifact folder per stage (graphreco.artifacts).
Each detector ships its trained pipeline in ``detectors/<name>/artifacts``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from . import detectors
from .artifacts import ArtifactError, load_stage, pipeline_sha256
from .detectors import Detector
from .graph import build_graph
from .io import EventBatch
from .stages import STAGES, StageInput

PIPELINE_KEYS = {"detector", "stages"}
MIN_POSTERIOR_SAMPLES = 256
"""The fewest posterior samples per event the event format allows in an output."""
CHUNK_EVENTS = 512
CHUNK_HITS = 1 << 17
"""At most this many events and hits per forward pass of the stages (see
``Pipeline.reconstruct``): 512 Baikal-GVD windows, or ~17 LHC crossings of 140 pile-up."""


@dataclass
class Pipeline:
    """Stages of one detector, run in order on event batches; ``folder`` is where it was
    loaded from (None for one built in memory); ``posterior_samples`` the samples per
    event that the stages running on request (the posterior) draw (0: they do not run;
    ``with_posterior``)."""

    detector: Detector
    stages: dict[str, torch.nn.Module]
    folder: Path | None = None
    posterior_samples: int = 0

    def with_posterior(self, samples: int) -> Pipeline:
        """This pipeline, writing ``samples`` posterior samples per event (the event
        format asks for at least ``MIN_POSTERIOR_SAMPLES``); ``ValueError`` when it has
        no posterior stage."""
        if samples and not any(stage.on_request for stage in self.stages.values()):
            raise ValueError(f"{self.folder or 'the pipeline'} has no posterior stage to draw samples from")
        if samples and samples < MIN_POSTERIOR_SAMPLES:
            raise ValueError(f"posterior samples: at least {MIN_POSTERIOR_SAMPLES} per event (the event format's "
                             f"minimum), not {samples}")
        return replace(self, posterior_samples=samples)

    @property
    def running(self) -> dict[str, torch.nn.Module]:
        """The stages that run: all, except those running on request when no posterior
        samples are asked for."""
        return {name: stage for name, stage in self.stages.items()
                if self.posterior_samples or not stage.on_request}

    @classmethod
    def load(cls, folder: str | Path, sha256: str | None = None) -> Pipeline:
        """The pipeline in ``folder``; with ``sha256``, only if the folder's
        ``artifacts.pipeline_sha256`` is that (checked before any weights are read)."""
        folder = Path(folder)
        try:
            config = json.loads((folder / "pipeline.json").read_text())
        except (OSError, ValueError) as error:
            raise ArtifactError(f"{folder}: unreadable pipeline.json ({error})") from None
        unknown = set(config) - PIPELINE_KEYS
        if not isinstance(config, dict) or unknown or not PIPELINE_KEYS <= set(config):
            raise ArtifactError(f"{folder}: pipeline.json needs exactly the keys {sorted(PIPELINE_KEYS)}")
        if not isinstance(config["stages"], list) or not config["stages"]:
            raise ArtifactError(f"{folder}: pipeline.json lists no stages: it would reconstruct nothing")
        unknown = [name for name in config["stages"] if not isinstance(name, str) or name not in STAGES]
        if unknown:
            raise ArtifactError(f"{folder}: pipeline.json lists unknown stages {unknown}; known: {', '.join(STAGES)}")
        if sha256 is not None and pipeline_sha256(folder, config["stages"]) != sha256.lower():
            raise ArtifactError(f"{folder}: its SHA-256 is {pipeline_sha256(folder, config['stages'])}, "
                                f"not the pinned {sha256}")
        if config["detector"] not in detectors.available():
            raise ArtifactError(f"{folder}: pipeline.json names the unknown detector {config['detector']!r}; "
                                f"known: {', '.join(detectors.available())}")
        pipeline = cls.load_stages(folder, detectors.get(config["detector"]), config["stages"])
        pipeline.check_reads(folder)
        return replace(pipeline, folder=folder)

    @classmethod
    def load_stages(cls, folder: str | Path, detector: Detector, names: list[str]) -> Pipeline:
        """The pipeline of the stage artifacts ``folder/<name>`` (in the order given; a
        part of a chain may lack what its stages read: ``check_reads`` tells)."""
        folder = Path(folder)
        stages = {}
        for name in names:
            stage, model, stage_config = load_stage(folder / name)
            if stage != name or stage_config.get("detector") != detector.name:
                raise ArtifactError(f"{folder / name}: holds stage {stage!r} of {stage_config.get('detector')!r}")
            if stage_config.get("node_features") != detector.feature_names:
                raise ArtifactError(f"{folder / name}: trained on other node features than {detector.name} has now")
            stages[name] = model
        return cls(detector, stages)

    def check_reads(self, where: str | Path) -> None:
        """Refuse a chain in which a stage reads a column that no stage before it writes."""
        written: set[str] = set()
        for name, stage in self.stages.items():
            missing = set(stage.reads) - written
            if missing:
                raise ArtifactError(f"{where}: stage {name!r} reads {sorted(missing)}, which no stage before it writes")
            written |= set(stage.writes)

    @classmethod
    def shipped(cls, detector: str, sha256: str | None = None) -> Pipeline:
        """The trained pipeline that comes with the detector called ``detector``: a name the
        registry knows (``ValueError`` naming the known ones otherwise), never a path;
        ``sha256`` as in ``load``."""
        name = detectors.get(detector).name
        folder = Path(detectors.__file__).parent / name.replace("-", "_") / "artifacts"
        if not (folder / "pipeline.json").exists():
            raise ArtifactError(f"no trained pipeline is shipped for {detector!r} yet")
        return cls.load(folder, sha256)

    def sha256(self) -> str | None:
        """``artifacts.pipeline_sha256`` of the folder it was loaded from (None for a
        pipeline built in memory): the value to pin."""
        return pipeline_sha256(self.folder, list(self.stages)) if self.folder is not None else None

    def fingerprint(self) -> str:
        """SHA-256 of the detector, the stages' names and configs and their weights (and
        the posterior samples asked for): two pipelines with the same fingerprint write the
        same outputs."""
        digest = hashlib.sha256(self.detector.name.encode())
        if self.posterior_samples:
            digest.update(f"posterior_samples={self.posterior_samples}".encode())
        for name, stage in self.stages.items():
            digest.update(json.dumps([name, stage.config], sort_keys=True).encode())
            for key, tensor in stage.state_dict().items():
                digest.update(key.encode())
                digest.update(tensor.detach().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def output_schema(self) -> pa.Schema:
        """The columns of every output, whatever the data (an input without events
        included): ``event_id`` (int64), the stages' per-hit columns (list<float32>), then
        their per-event columns (float32; list<float32> of the posterior samples), each
        in the order the stages first write it."""
        hit_columns: dict[str, None] = {}
        event_columns: dict[str, pa.DataType] = {}
        for stage in self.running.values():
            for name in stage.writes:
                if name in stage.hit_writes:
                    hit_columns[name] = None
                else:
                    event_columns[name] = pa.list_(pa.float32()) if stage.on_request else pa.float32()
        return pa.schema([("event_id", pa.int64()), *((name, pa.list_(pa.float32())) for name in hit_columns),
                          *event_columns.items()])

    def reconstruct(self, batch: EventBatch, timings: dict[str, float] | None = None
                    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Output columns of a batch: per-hit arrays (aligned with its hits) and per-event
        arrays (NaN for events without hits). ``timings``, when given, accumulates seconds
        per step ("graph", each stage).

        The stages run on chunks of ``CHUNK_EVENTS`` events and ``CHUNK_HITS`` hits at
        most (an event larger than that alone): their activations then stay in the CPU
        caches (measured: 13,000 hit-selection events/s at 512 events a chunk, 7,300 at
        4,096)."""
        hit_parts, event_parts = [], []
        for start, stop in _chunks(batch.offsets, CHUNK_EVENTS, CHUNK_HITS):
            chunk = batch.slice(start, stop)
            with timed(timings, "graph"):
                inputs = StageInput(chunk, self.detector, build_graph(chunk, self.detector),
                                    posterior_samples=self.posterior_samples)
            event_parts.append(self.run(inputs, timings))
            hit_parts.append(inputs.hit_columns)
        events = {name: np.concatenate([part[name] for part in event_parts]) for name in event_parts[0]}
        without_hits = np.diff(batch.offsets) == 0
        for values in events.values():  # nothing was measured: no score, no estimate
            if values.dtype.kind == "f":
                values[without_hits] = np.nan
        return {name: np.concatenate([part[name] for part in hit_parts]) for name in hit_parts[0]}, events

    def run(self, inputs: StageInput, timings: dict[str, float] | None = None) -> dict[str, np.ndarray]:
        """Run the stages in order on ``inputs``; their columns accumulate in
        ``inputs.hit_columns`` and ``inputs.event_columns`` (where later stages read them);
        returns the per-event columns."""
        event_columns = {}
        with torch.inference_mode():
            for name, stage in self.stages.items():
                if stage.on_request and not inputs.posterior_samples:
                    continue
                with timed(timings, name):
                    hits, events = stage.outputs(inputs)
                _check_written(name, stage, hits, events)
                inputs.hit_columns |= hits
                inputs.event_columns |= events
                event_columns |= events
        return event_columns


def _check_written(name: str, stage: torch.nn.Module, hits: dict[str, np.ndarray],
                   events: dict[str, np.ndarray]) -> None:
    """Refuse (``ArtifactError``) columns other than the stage's declared ones
    (``hit_writes`` per hit, the rest of ``writes`` per event), or not float32: the
    output schema (``Pipeline.output_schema``) is fixed by the declarations."""
    declared_hits = set(stage.hit_writes)
    if set(hits) != declared_hits or set(events) != set(stage.writes) - declared_hits:
        raise ArtifactError(f"stage {name!r} wrote per hit {sorted(hits)} and per event {sorted(events)}, not its "
                            f"declared {sorted(declared_hits)} and {sorted(set(stage.writes) - declared_hits)}")
    mistyped = [column for column, values in (hits | events).items() if values.dtype != np.float32]
    if mistyped:
        raise ArtifactError(f"stage {name!r} wrote {mistyped[0]!r} as {(hits | events)[mistyped[0]].dtype}, "
                            "not float32")


def _chunks(offsets: np.ndarray, max_events: int, max_hits: int) -> Iterator[tuple[int, int]]:
    """Consecutive event ranges of at most ``max_events`` events and ``max_hits`` hits
    (at least one event each); one empty range for a batch without events."""
    n_events, start = offsets.size - 1, 0
    while True:
        stop = min(start + max_events, n_events)
        stop = min(stop, max(start + 1, int(np.searchsorted(offsets, offsets[start] + max_hits, side="right")) - 1))
        yield start, stop
        start = stop
        if start >= n_events:
            return


@contextmanager
def timed(timings: dict[str, float] | None, step: str) -> Iterator[None]:
    """Add the seconds the block takes to ``timings[step]`` (nothing when timings is None)."""
    if timings is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - start
