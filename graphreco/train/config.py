"""Train a pipeline's stages from event files: one stage (``train_stage``) or a whole
chain described by a JSON config (``train_from_config``, the ``graphreco train`` command).

A config (every path relative to the config file, or the event files relative to the
folder given as ``data``; each shipped pipeline keeps the config it was trained with, its
recipe, as ``recipe.json`` beside its ``pipeline.json``)::

    {
      "detector": "baikal-gvd",
      "pipeline": "my-pipeline",                 # folder: <stage>/ artifacts + pipeline.json
      "stages": ["hit_selection", "energy_direction"],        # the chain, in running order
      "train": {                                 # the stages to (re)train; the others must
        "energy_direction": {                    # already be in the pipeline folder
          "train": ["sim/train-*.parquet"],      # event files with the stage's truth columns
          "validation": ["sim/validation.parquet"],
          "model": {"hidden": 48},               # constructor settings of the stage
          "training": {"epochs": 12},            # graphreco.train.loop.TrainConfig
          "unlabelled": ["shifted/*.parquet"]    # optional: events of a shifted condition,
        }                                        # no truth, for "domain_weight" > 0
      }
    }

Each stage trains on graphs made with the stages before it that write what it reads
(hit selection before energy and direction); it is calibrated on the validation files
and saved with its validation loss and calibration as metrics. Checkpoints go to
``<pipeline>/checkpoints/<stage>`` (``<data>/checkpoints/<stage>`` when ``data`` is given),
so a rerun of the same config resumes. Recalibration keeps a trained stage's weights and
fits its calibration again on its validation files. A stage without a network (``refit``,
``combination``: ``Stage.trained`` false) needs only validation files: its calibration is
all that is fitted.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from .. import detectors
from .._version import __version__
from ..artifacts import save_stage, stage_description
from ..detectors import Detector
from ..errors import UsageError
from ..io import expand_sources
from ..pipeline import Pipeline
from ..stages import STAGES, Stage
from .loop import TrainConfig, evaluate_loss, load_graphs, train

CONFIG_KEYS = {"detector", "pipeline", "stages", "train"}
STAGE_KEYS = {"train", "validation", "unlabelled", "model", "training"}


class TrainConfigError(ValueError):
    """A training config is malformed; the message names the file and the key."""


def upstream_of(stage: Stage, pipeline: Pipeline) -> Pipeline:
    """The stages of ``pipeline`` that ``stage`` needs: those writing what it reads, and
    in turn those writing what they read."""
    needed, kept = set(stage.reads), set()
    for name, model in reversed(pipeline.stages.items()):
        if needed & set(model.writes):
            kept.add(name)
            needed |= set(model.reads)
    return Pipeline(pipeline.detector, {name: model for name, model in pipeline.stages.items() if name in kept})


def source_and_output(pipeline: Pipeline | str | Path | None, detector: str | None, out: str | Path,
                      command: str) -> tuple[Pipeline, Path]:
    """The pipeline a command starts from (``pipeline`` itself, the folder it names, or
    the one shipped with ``detector``: exactly one of the two) and its new output folder;
    ``UsageError`` where both or neither is given or ``out`` exists (a command writes a
    new pipeline folder and overwrites nothing)."""
    if (pipeline is None) == (detector is None):
        raise UsageError(f"give the pipeline to {command} or the detector whose shipped pipeline it is, not both")
    if not isinstance(pipeline, Pipeline):
        pipeline = Pipeline.shipped(detector) if pipeline is None else Pipeline.load(pipeline)
    out = Path(out)
    if out.exists():
        raise UsageError(f"{out}: exists; {command} writes a new pipeline folder and overwrites nothing")
    return pipeline, out


def stages_before(pipeline: Pipeline, name: str) -> Pipeline:
    """The stages of ``pipeline`` that run before its stage ``name``."""
    names = list(pipeline.stages)
    return Pipeline(pipeline.detector, {earlier: pipeline.stages[earlier] for earlier in names[:names.index(name)]})


def new_stage(name: str, detector: Detector, settings: dict, seed: int = 0) -> Stage:
    """An untrained stage ``name`` for ``detector``; its initial weights come from ``seed``."""
    torch.manual_seed(seed)
    return STAGES[name].for_detector(detector, **settings)


def train_stage(model: Stage, detector: Detector, train_sources: Sequence, validation_sources: Sequence,
                upstream: Pipeline, config: TrainConfig, checkpoints: Path, log: Callable[[str], None] = print,
                unlabelled_sources: Sequence = (), geometry: Path | None = None) -> dict:
    """Train and calibrate ``model`` in place (it ends in eval mode); returns the record of
    its training (history, calibration, validation loss, versions) for its artifact.
    ``unlabelled_sources`` (events without truth) feed domain-adversarial training;
    ``geometry``: the geometry file every source is read against (None: each file's own)."""
    train_graphs = load_graphs(train_sources, config.batch_events, model, upstream, geometry=geometry)
    validation_graphs = load_graphs(validation_sources, 512, model, upstream, geometry=geometry)
    log(f"{type(model).__name__}: {sum(g.graph.num_graphs for g in train_graphs)} training and "
        f"{sum(g.graph.num_graphs for g in validation_graphs)} validation events")
    target_graphs = (load_graphs(unlabelled_sources, config.batch_events, model, upstream, labelled=False,
                                 geometry=geometry)
                     if unlabelled_sources else [])
    history = train(model, train_graphs, validation_graphs, config, checkpoints, log, target_graphs)
    model.eval()
    calibration = model.calibrate_on(validation_graphs)
    return {**stage_record(detector, upstream), "training": history, "calibration": calibration,
            "validation_loss": evaluate_loss(model, validation_graphs)}


def stage_record(detector: Detector, upstream: Pipeline) -> dict:
    """What every stage's artifact records of how it was made: the detector, its node
    features, the upstream stages and the library versions."""
    return {"detector": detector.name, "node_features": detector.feature_names, "upstream": list(upstream.stages),
            "versions": library_versions()}


def library_versions() -> dict[str, str]:
    """The versions of graphreco, torch and Python, for the record of what made an artifact."""
    return {"graphreco": __version__, "torch": torch.__version__, "python": platform.python_version()}


def read_config(path: Path) -> dict:
    """The training config at ``path``, its keys and stage names checked; ``TrainConfigError``
    names the file and what is wrong."""
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise TrainConfigError(f"{path}: unreadable training config ({error})") from None
    if (not isinstance(config, dict) or set(config) - CONFIG_KEYS
            or not {"detector", "pipeline", "stages"} <= set(config)):
        raise TrainConfigError(f"{path}: needs the keys detector, pipeline, stages (and train); "
                               f"got {sorted(config) if isinstance(config, dict) else type(config).__name__}")
    unknown = [name for name in [*config["stages"], *config.get("train", {})] if name not in STAGES]
    if unknown:
        raise TrainConfigError(f"{path}: unknown stage {unknown[0]!r}; known: {', '.join(STAGES)}")
    for name, settings in config.get("train", {}).items():
        if name not in config["stages"]:
            raise TrainConfigError(f"{path}: train.{name} is not one of the pipeline's stages")
        wrong = set(settings) - STAGE_KEYS
        needed = {"train", "validation"} if STAGES[name].trained else {"validation"}
        if wrong or not needed <= set(settings):
            raise TrainConfigError(f"{path}: train.{name} needs {' and '.join(sorted(needed))} files (and may have "
                                   f"model, training); got {sorted(settings)}")
    return config


def recalibrate_stage(model: Stage, validation_sources: Sequence, upstream: Pipeline,
                      log: Callable[[str], None] = print, geometry: Path | None = None) -> dict:
    """Fix ``model``'s uncertainty calibration again on validation events (read against
    ``geometry`` where given; weights unchanged), with ``upstream`` providing what it
    reads; returns what was measured."""
    graphs = load_graphs(validation_sources, 512, model, upstream, geometry=geometry)
    model.eval()
    calibration = model.calibrate_on(graphs)
    log(f"{type(model).__name__}: recalibrated on {sum(g.graph.num_graphs for g in graphs)} events")
    return calibration


def train_from_config(path: str | Path, log: Callable[[str], None] = print, *, data: str | Path | None = None,
                      out: str | Path | None = None, stages: Sequence[str] | None = None, epochs: int | None = None,
                      recalibrate: bool = False, description: dict | None = None,
                      geometry: str | Path | None = None) -> dict:
    """Train the stages a config asks for, in chain order; write the pipeline folder.

    Args:
        path: the config (JSON, layout in the module docstring).
        log: receives one line per step.
        data: folder the event-file patterns are relative to, and whose ``checkpoints/``
            holds the checkpoints (default: the config's folder; checkpoints in the pipeline's).
        out: the pipeline folder (default: the config's ``pipeline``, relative to the config).
        stages: the stages to train, some of the config's ``train`` (default: all of them);
            the chain's other stages are read from ``out``.
        epochs: replaces every trained stage's ``training.epochs``.
        recalibrate: instead of training, build each chosen stage from its ``model``
            settings, load its weights from ``out`` and fit its calibration again on its
            validation files (weights unchanged).
        description: entries added to each saved stage's config.json (e.g. how the event
            files were made).
        geometry: the geometry file every event file is read against (None: each file's
            own, else the detector's default layout).
    Returns:
        The pipeline folder, its stages, and per trained stage its validation loss and calibration.
    """
    path = Path(path)
    config = read_config(path)
    here = path.parent
    folder = here / config["pipeline"] if out is None else Path(out)
    checkpoints = folder / "checkpoints" if data is None else Path(data) / "checkpoints"
    data = here if data is None else Path(data)
    recipes = config.get("train", {})
    chosen = list(recipes) if stages is None else list(stages)
    unknown = [name for name in chosen if name not in recipes]
    if unknown:
        raise TrainConfigError(f"{path}: cannot train {unknown[0]!r}: the config's train has {', '.join(recipes)}")
    detector = detectors.get(config["detector"])
    chain = Pipeline(detector, {})
    report = {}
    for name in config["stages"]:
        if name not in chosen:
            chain.stages[name] = Pipeline.load_stages(folder, detector, [name]).stages[name]
            continue
        settings = recipes[name]
        try:
            training = TrainConfig.from_mapping({**settings.get("training", {}),
                                                 **({} if epochs is None else {"epochs": epochs})})
            model = new_stage(name, detector, settings.get("model", {}), training.seed)
        except (TypeError, ValueError) as error:
            raise TrainConfigError(f"{path}: train.{name}: {error}") from None
        if training.domain_weight > 0 and not settings.get("unlabelled"):
            raise TrainConfigError(f"{path}: train.{name}: domain_weight > 0 needs unlabelled files")
        missing = set(model.reads) - {column for stage in chain.stages.values() for column in stage.writes}
        if missing:
            raise TrainConfigError(f"{path}: train.{name} reads {sorted(missing)}, which no stage before it writes")
        upstream = upstream_of(model, chain)
        parts = ("validation",) if recalibrate or not model.trained else ("train", "validation", "unlabelled")
        sources = {part: expand_sources([str(data / pattern) for pattern in settings[part]])
                   for part in parts if settings.get(part)}
        if not model.trained:  # nothing to fit by gradient: its calibration is all there is
            record = {**stage_record(detector, upstream),
                      "calibration": recalibrate_stage(model, sources["validation"], upstream, log, geometry),
                      "sources": {"validation": list(map(str, sources["validation"]))}, **(description or {})}
        elif recalibrate:
            model.load_state_dict(Pipeline.load_stages(folder, detector, [name]).stages[name].state_dict())
            calibration = recalibrate_stage(model, sources["validation"], upstream, log, geometry)
            record = stage_description(folder / name) | {"calibration": calibration}
        else:
            record = {**train_stage(model, detector, sources["train"], sources["validation"], upstream, training,
                                    checkpoints / name, log, sources.get("unlabelled", ()), geometry),
                      "sources": {part: list(map(str, files)) for part, files in sources.items()},
                      **(description or {})}
        metrics = {"validation_loss": record.get("validation_loss"), "calibration": record["calibration"]}
        save_stage(folder / name, name, model, record, metrics)
        chain.stages[name] = model
        report[name] = metrics
    chain.check_reads(folder)
    (folder / "pipeline.json").write_text(json.dumps({"detector": detector.name, "stages": list(chain.stages)},
                                                     indent=2) + "\n")
    done = "recalibrated" if recalibrate else "trained"
    return {"pipeline": str(folder), "stages": list(chain.stages), done: report}
