"""Fine-tune a trained pipeline on an experiment's labelled simulation (``graphreco
finetune``): every network stage whose truth the labelled files hold trains on, from the
pipeline's weights, within a budget of wall time; every stage with a calibration is then
calibrated again on held-out events.

The budget becomes a plan before any weight moves: each stage's epoch is timed on a few
minibatches and the stage gets ``PLANNED_SHARE`` of its equal share of ``minutes`` in
whole epochs (at least 1, at most ``MAX_EPOCHS``; the rest is for reading events,
validation and calibration). The plan is written to ``plan.json`` in the work folder
(``.<out>.partial`` beside ``out``) with the inputs' SHA-256, and checkpoints go beside
it after every epoch, so a run killed at any point and started again with the same
arguments resumes and ends with the same pipeline as one never killed. ``epochs`` fixes
the plan instead (reproducing a fine-tune from its recorded plan). With ``unlabelled``
events (no truth) the network stages train domain-adversarially against them
(``graphreco.train.domain``), and a stage that can adapts what it assumes of the data to
them (``Stage.adapt_on``: the hit selection's noise fraction, a prior shift that
adversarial training cannot correct).
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import torch

from ..artifacts import file_sha256, save_stage, stage_description
from ..errors import UsageError
from ..io import expand_sources
from ..pipeline import Pipeline
from ..stages import Stage, StageGraph
from .config import library_versions, source_and_output, stage_record, stages_before, upstream_of
from .loop import MissingTruth, TrainConfig, evaluate_loss, load_graphs, train

MAX_EPOCHS = 30
PLANNED_SHARE = 0.7
"""Of each stage's share of the budget, what its planned epochs may take."""
PROBE_STEPS = 4
"""Minibatches timed (forward and backward, on a copy of the stage) to plan its epochs."""
HELD_OUT_EVERY = 10
"""Without validation files, every 10th minibatch of the labelled files is held out."""
FINETUNING = {"batch_events": 128, "learning_rate": 1e-3, "patience": 3, "seed": 0}
"""Training settings of a fine-tune: a third of the from-scratch learning rate (3e-3),
starting from trained weights."""
DOMAIN_WEIGHT = 0.3
"""Strength of the domain-adversarial term with ``unlabelled`` events."""


def finetune(labelled: Iterable[str | Path], out: str | Path, *, pipeline: Pipeline | str | Path | None = None,
             detector: str | None = None, validation: Iterable[str | Path] = (),
             unlabelled: Iterable[str | Path] = (), minutes: float = 20.0, epochs: int | None = None,
             from_scratch: bool = False, domain_weight: float = DOMAIN_WEIGHT, geometry: str | Path | None = None,
             log: Callable[[str], None] = print) -> dict:
    """Fine-tune a pipeline on labelled events and write it to ``out``.

    Args:
        labelled: event files, folders or patterns with truth.
        out: the new pipeline folder; it must not exist yet.
        pipeline: the pipeline to start from, or its folder; else the one shipped with
            ``detector``.
        detector: a registry name, when ``pipeline`` is not given.
        validation: labelled events to validate and calibrate on (default: every
            ``HELD_OUT_EVERY``-th minibatch of ``labelled``, not trained on).
        unlabelled: events of the condition to adapt to, without truth.
        minutes: wall-time budget of the training (planned as in the module docstring).
        epochs: epochs of every stage instead of a plan from ``minutes``.
        domain_weight: strength of the domain-adversarial term with ``unlabelled`` events
            (0: none; the prior adaptation of ``Stage.adapt_on`` is made either way).
        from_scratch: train the network stages from new weights (seed 0) at the
            from-scratch learning rate instead: the comparison for a fine-tune.
        geometry: the geometry file every event file is read against.
        log: receives one line per step.
    Returns:
        The record written as ``out/finetune.json``.
    """
    if minutes <= 0 or (epochs is not None and epochs < 1):
        raise UsageError("--minutes must be positive and --epochs at least 1")
    source, out = source_and_output(pipeline, detector, out, "finetune")
    files = {"labelled": expand_sources(labelled), "validation": expand_sources(validation) if validation else [],
             "unlabelled": expand_sources(unlabelled) if unlabelled else []}
    settings = {"pipeline_fingerprint": source.fingerprint(), "minutes": minutes, "epochs": epochs,
                "from_scratch": from_scratch, "domain_weight": domain_weight,
                "geometry": None if geometry is None else str(geometry),
                "inputs": {part: [{"file": str(path), "sha256": file_sha256(path)} for path in paths]
                           for part, paths in files.items()}}
    work = out.with_name(f".{out.name}.partial")
    plan = _plan(source, files, settings, work, geometry, log)
    adversarial = domain_weight if files["unlabelled"] else 0.0
    chain, report = Pipeline(source.detector, {}), {}
    for name, shipped in source.stages.items():
        model = copy.deepcopy(shipped)
        upstream = upstream_of(model, chain)
        done = work / name / "metrics.json"  # written last: the stage is complete
        if done.exists():
            model = Pipeline.load_stages(work, source.detector, [name]).stages[name]
            report[name] = json.loads(done.read_text())
            log(f"{name}: already fine-tuned in {work}")
        elif name in plan["epochs"]:
            if from_scratch:
                torch.manual_seed(FINETUNING["seed"])
                model = type(shipped)(**shipped.config)
            graphs = _graphs(files["labelled"], model, upstream, geometry)
            train_graphs, validation_graphs = (graphs, _graphs(files["validation"], model, upstream, geometry)) \
                if files["validation"] else _held_out(graphs)
            config = TrainConfig(epochs=plan["epochs"][name], domain_weight=adversarial if model.encodes_graph else 0.0,
                                 **FINETUNING | ({"learning_rate": TrainConfig.learning_rate} if from_scratch else {}))
            target = _graphs(files["unlabelled"], model, upstream, geometry, labelled=False) \
                if files["unlabelled"] and model.encodes_graph else []
            loss_before = evaluate_loss(model, validation_graphs)
            log(f"{name}: fine-tuning {plan['epochs'][name]} epochs on "
                f"{sum(g.graph.num_graphs for g in train_graphs)} events")
            history = train(model, train_graphs, validation_graphs, config, work / "checkpoints" / name, log, target)
            model.eval()
            metrics = {"validation_loss_before": loss_before,
                       "validation_loss": evaluate_loss(model, validation_graphs),
                       "calibration": model.calibrate_on(validation_graphs)}
            if target and model.adapts:
                metrics["adaptation"] = model.adapt_on(validation_graphs, target)
            _save(work, name, model, source, metrics | {"finetuning": history})
            report[name] = metrics
        elif model.calibrated:
            graphs = _graphs(files["validation"] or files["labelled"], model, upstream, geometry)
            metrics = {"calibration": model.calibrate_on(graphs if files["validation"] else _held_out(graphs)[1])}
            _save(work, name, model, source, metrics)
            report[name] = metrics
        else:
            _save(work, name, model, source, {})
        chain.stages[name] = model
    record = {"source_pipeline": str(source.folder) if source.folder else None,
              "source_pipeline_sha256": source.sha256(),
              **settings, "plan": plan["epochs"], "stages_without_truth": plan["without_truth"],
              "command": sys.argv, "versions": library_versions(), "stages": report}
    (work / "pipeline.json").write_text(json.dumps({"detector": source.detector.name,
                                                   "stages": list(chain.stages)}, indent=2) + "\n")
    (work / "finetune.json").write_text(json.dumps(record, indent=2) + "\n")
    shutil.rmtree(work / "checkpoints", ignore_errors=True)
    (work / "plan.json").unlink()
    work.rename(out)
    return {"pipeline": str(out), **record}


def _plan(source: Pipeline, files: dict, settings: dict, work: Path, geometry: str | Path | None,
          log: Callable[[str], None]) -> dict:
    """The epochs of each network stage that has truth in the labelled files (read from
    ``work/plan.json`` when a run with the same settings made it; ``UsageError`` when one
    with other settings did), and the stages without truth."""
    path = work / "plan.json"
    if path.exists():
        plan = json.loads(path.read_text())
        if plan["settings"] != settings:
            raise UsageError(f"{work} holds a fine-tune with other inputs or settings; remove it to start afresh")
        log(f"resuming the fine-tune in {work}")
        return plan
    trained = [name for name, model in source.stages.items() if model.trained]
    share = settings["minutes"] * 60.0 / max(len(trained), 1)
    plan = {"settings": settings, "epochs": {}, "without_truth": []}
    for name in trained:
        model = source.stages[name]
        try:
            graphs = _graphs(files["labelled"], model, upstream_of(model, stages_before(source, name)), geometry)
        except MissingTruth as error:
            plan["without_truth"].append(name)
            log(f"{name}: kept as it is, the labelled files lack its truth ({error})")
            continue
        if settings["epochs"] is not None:
            plan["epochs"][name] = settings["epochs"]
            continue
        seconds = _epoch_seconds(model, graphs)
        plan["epochs"][name] = int(min(max(PLANNED_SHARE * share // seconds, 1), MAX_EPOCHS))
        log(f"{name}: {seconds:.1f} s an epoch, {plan['epochs'][name]} epochs planned")
    work.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan, indent=2) + "\n")
    return plan


def _epoch_seconds(model: Stage, graphs: Sequence[StageGraph]) -> float:
    """Seconds one training epoch over ``graphs`` takes, from ``PROBE_STEPS`` timed
    minibatches (forward and backward) of a copy of ``model``."""
    probe = copy.deepcopy(model).train()
    steps = graphs[:PROBE_STEPS]
    start = time.perf_counter()
    for stage_graph in steps:
        probe.training_loss(stage_graph).backward()
    return (time.perf_counter() - start) / max(len(steps), 1) * len(graphs)


def _graphs(files: Sequence[Path], model: Stage, upstream: Pipeline, geometry: str | Path | None,
            labelled: bool = True) -> list[StageGraph]:
    """The minibatches of ``files`` as ``model`` trains on them (``FINETUNING``'s size)."""
    return load_graphs(files, FINETUNING["batch_events"], model, upstream, labelled=labelled, geometry=geometry)


def _held_out(graphs: list[StageGraph]) -> tuple[list[StageGraph], list[StageGraph]]:
    """``graphs`` without and with every ``HELD_OUT_EVERY``-th of them (the validation
    events when no validation files are given); ``UsageError`` when there are too few."""
    held_out = [graph for index, graph in enumerate(graphs) if index % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    if not held_out:
        raise UsageError(f"the labelled files hold fewer than {HELD_OUT_EVERY} minibatches of "
                         f"{FINETUNING['batch_events']} events to hold out from: give --validation files")
    return [graph for index, graph in enumerate(graphs) if index % HELD_OUT_EVERY != HELD_OUT_EVERY - 1], held_out


def _save(work: Path, name: str, model: Stage, source: Pipeline, metrics: dict) -> None:
    """Save ``model`` as stage ``name`` into ``work``, described as in ``source``'s folder."""
    described = (stage_description(source.folder / name) if source.folder is not None
                 else stage_record(source.detector, Pipeline(source.detector, {})))
    save_stage(work / name, name, model, described | {"finetuned": bool(metrics)}, metrics)
