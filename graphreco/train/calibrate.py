"""Calibrate a trained pipeline on labelled reference events without retraining it
(``graphreco calibrate``): an experiment's few hundred events with known energies and
directions (TA SD: hybrid events with fluorescence-detector energies; Baikal-GVD: its
own Monte Carlo) fix what moves with the physics.

No network weight changes. In chain order, every stage with uncertainty scales has its
direction cones and core circles fixed again per calibration bin on the reference events
(``Stage.rescale_on``; the combination's regression weights stay, and so do the stages'
log10-energy scales, which a later stage may read as inputs); then an ``energy_scale``
stage, appended where the pipeline reconstructs an energy and has none yet, fixes the
absolute energy scale (a shift of log10 E) and the width of its 1-sigma interval, per
event class (Baikal-GVD: cascade-like and track-like). The posterior stage, which runs on
request, stays last: its flow is placed about the calibrated estimate, and its
temperatures are fitted again on the reference events.
The new pipeline folder holds the stages, ``pipeline.json`` and ``calibration.json``:
the source pipeline, the reference files, the fitted values and the figures before and
after on the reference events (in-sample: score the result on other events).
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from ..artifacts import file_sha256, save_stage, stage_description
from ..errors import UsageError
from ..io import expand_sources, read_events, summarize_source
from ..pipeline import Pipeline
from ..stages import EnergyScale
from ..stages.calibration import MIN_REFERENCE_EVENTS, TooFewReferenceEvents
from ..statistics import ONE_SIGMA, coverage, opening_angle, unit_vectors
from .config import library_versions, source_and_output, stage_record, stages_before, upstream_of
from .loop import MissingTruth, load_graphs

ENERGY_SCALE = "energy_scale"


def calibrate(reference: Iterable[str | Path], out: str | Path, *, pipeline: Pipeline | str | Path | None = None,
              detector: str | None = None, unlabelled: Iterable[str | Path] = (), efficiency: float | None = None,
              rejection: float | None = None, geometry: str | Path | None = None,
              log: Callable[[str], None] = print) -> dict:
    """Calibrate a pipeline on labelled reference events and write it to ``out``.

    Args:
        reference: event files, folders or patterns with truth (``true_zenith``,
            ``true_azimuth``, ``true_energy``, and what the stages' scales are scored
            against, e.g. TA SD's ``true_core_x``/``true_core_y``).
        out: the new pipeline folder; it must not exist yet (nothing is overwritten).
        pipeline: the pipeline to calibrate, or its folder; else the one shipped with
            ``detector``.
        detector: a registry name, when ``pipeline`` is not given.
        unlabelled: events of the condition to reconstruct, without truth: the stages
            that can (``Stage.adapt_on``: the hit selection's noise fraction) adapt to
            them last, the reference events giving the condition they were made for.
        efficiency: with it, the stages with an event score (background suppression)
            fix the threshold keeping this fraction of the reference signal events
            (``Stage.working_point_on``; the reference events need ``true_kind``).
        rejection: instead of ``efficiency``, the threshold letting ``1 / rejection``
            of the reference background events through (at least 10 ``rejection`` of
            them: ``stages.background.MIN_BACKGROUND_PASSING``).
        geometry: the geometry file every reference file is read against (None: each
            file's own, else the detector's default layout).
        log: receives one line per step.
    Returns:
        The record written as ``out/calibration.json``.

    Raises:
        UsageError: neither or both of pipeline and detector, or ``out`` exists.
        TooFewReferenceEvents: fewer than ``MIN_REFERENCE_EVENTS`` labelled events.
        EventFormatError: a reference file breaks the event format or lacks truth.
    """
    if efficiency is not None and not 0.0 < efficiency < 1.0:
        raise UsageError(f"--efficiency must lie between 0 and 1, not {efficiency}")
    if rejection is not None and (efficiency is not None or not rejection > 1.0):
        raise UsageError(f"--rejection must exceed 1 and comes instead of --efficiency, not {rejection}")
    source, out = source_and_output(pipeline, detector, out, "calibrate")
    files = expand_sources(reference)
    counted = sum(summarize_source(file, source.detector.name).events for file in files)  # footers: nothing decoded
    if counted < MIN_REFERENCE_EVENTS:
        raise TooFewReferenceEvents(f"{len(files)} reference file(s) hold {counted} events; calibrating needs at "
                                    f"least {MIN_REFERENCE_EVENTS} labelled events")
    before = reference_figures(source, files, geometry)
    log(f"{counted} reference events; before: {before}")
    chain, stages = Pipeline(source.detector, {}), {}
    models = {name: copy.deepcopy(model) for name, model in source.stages.items() if not model.on_request}
    if "reco_log10_energy" in _written(models) and ENERGY_SCALE not in models:
        models[ENERGY_SCALE] = _energy_scale(source)
    models |= {name: copy.deepcopy(model) for name, model in source.stages.items() if model.on_request}
    for name, model in models.items():
        if model.calibrated:
            graphs = load_graphs(files, 512, model, upstream_of(model, chain), geometry=geometry)
            stages[name] = model.rescale_on(graphs)
            log(f"{name}: {json.dumps(stages[name])}")
            for weak in stages[name].get("classes_from_all_events", []):
                log(f"warning: {name}: fewer than {MIN_REFERENCE_EVENTS} {weak} reference events: "
                    "that class takes the values of all events together")
        if (efficiency is not None or rejection is not None) and model.has_working_point:
            graphs = load_graphs(files, 512, model, upstream_of(model, chain), geometry=geometry)
            stages[name] = stages.get(name, {}) | {"working_point": model.working_point_on(graphs, efficiency,
                                                                                             rejection)}
            log(f"{name}: working point {json.dumps(stages[name]['working_point'])}")
        chain.stages[name] = model
    after = reference_figures(chain, files, geometry)
    log(f"after (on the same events): {after}")
    if unlabelled:
        _adapt(chain, files, expand_sources(unlabelled), stages, geometry, log)
    record = {"source_pipeline": str(source.folder) if source.folder else None,
              "source_pipeline_sha256": source.sha256(),
              "reference": [{"file": str(file), "sha256": file_sha256(file)} for file in files],
              "reference_events": counted, "geometry": None if geometry is None else str(geometry),
              "command": sys.argv, "versions": library_versions(),
              "stages": stages, "before": before, "after_in_sample": after}
    _write_pipeline(chain, source, stages, record, out)
    return {"pipeline": str(out), **record}


def _adapt(chain: Pipeline, reference: Sequence[Path], unlabelled: Sequence[Path], records: dict,
           geometry: str | Path | None, log: Callable[[str], None]) -> None:
    """Adapt each stage of ``chain`` that can to the ``unlabelled`` events, the
    ``reference`` events giving the condition it was made for; a stage whose truth the
    reference events lack is left as it is, with a warning. Adds to ``records``."""
    for name, model in chain.stages.items():
        if not model.adapts:
            continue
        upstream = upstream_of(model, stages_before(chain, name))
        try:
            labelled = load_graphs(reference, 512, model, upstream, geometry=geometry)
        except MissingTruth as error:
            log(f"warning: {name} not adapted: the reference events lack its truth ({error})")
            continue
        target = load_graphs(unlabelled, 512, model, upstream, labelled=False, geometry=geometry)
        records[name] = records.get(name, {}) | {"adaptation": model.adapt_on(labelled, target)}
        log(f"{name}: adapted {json.dumps(records[name]['adaptation'])}")


def _energy_scale(pipeline: Pipeline) -> EnergyScale:
    """A new ``energy_scale`` stage for ``pipeline``: its events classed and its hits
    kept as by the last stage that writes the energy; quoting the energy inside the
    detector's fiducial cut where the detector has one and the pipeline a core."""
    last = next(model for model in reversed(pipeline.stages.values()) if "reco_log10_energy" in model.writes)
    fiducial = pipeline.detector.fiducial is not None and "reco_core_x" in _written(pipeline.stages)
    return EnergyScale(threshold=last.config["threshold"], min_hits=last.config["min_hits"],
                       track_like=last.config.get("track_like"), fiducial=fiducial)


def reference_figures(pipeline: Pipeline, files: Sequence[Path], geometry: str | Path | None) -> dict:
    """What calibration fixes, measured on labelled events: the fraction of events whose
    true direction lies inside the reported 68 % cone (``reco_angle_sigma``), and, for
    the energy, the median of reconstructed minus true log10 E and the fraction inside
    the 1-sigma interval; each over the events with those estimates (inside the
    detector's fiducial cut, where it has one), with their counts."""
    columns: dict[str, list[np.ndarray]] = {}
    for batch in read_events(files, detector=pipeline.detector.name, batch_size=512, geometry=geometry):
        events = pipeline.reconstruct(batch)[1]
        quoted = np.ones(batch.offsets.size - 1, dtype=bool)
        if pipeline.detector.fiducial is not None and "reco_core_x" in events:
            quoted = pipeline.detector.fiducial(events, configuration=batch.configuration)
        for name, values in [*events.items(), ("quoted", quoted), *((n, batch.events[n]) for n in _TRUTH
                                                                     if n in batch.events)]:
            columns.setdefault(name, []).append(np.asarray(values, dtype=np.float64))
    table = {name: np.concatenate(parts) for name, parts in columns.items()}
    quoted = table["quoted"].astype(bool)
    figures = {}
    if {"reco_angle_sigma", "true_zenith"} <= set(table):
        angle = opening_angle(unit_vectors(table["reco_zenith"], table["reco_azimuth"]),
                              unit_vectors(table["true_zenith"], table["true_azimuth"]))
        used = quoted & np.isfinite(angle) & np.isfinite(table["reco_angle_sigma"])
        figures["direction"] = {"events": int(used.sum()),
                                "coverage_68": coverage(angle[used], table["reco_angle_sigma"][used])
                                if used.any() else None}
    if {"reco_log10_energy", "true_energy"} <= set(table):
        error = table["reco_log10_energy"] - np.log10(table["true_energy"])
        sigma = table["reco_log10_energy_sigma"]
        used = quoted & np.isfinite(error) & np.isfinite(sigma)
        figures["energy"] = {"events": int(used.sum()),
                             "log10_bias": float(np.median(error[used])) if used.any() else None,
                             "coverage_1sigma": coverage(error[used], sigma[used]) if used.any() else None,
                             "coverage_target": ONE_SIGMA}
    return figures


_TRUTH = ("true_zenith", "true_azimuth", "true_energy")


def _written(models: dict) -> set[str]:
    return {column for model in models.values() for column in model.writes}


def _write_pipeline(chain: Pipeline, source: Pipeline, calibrated: dict, record: dict, out: Path) -> None:
    """Write ``chain`` as a pipeline folder at ``out`` through a temporary folder beside
    it, renamed at the end (an interrupted run leaves no half-written pipeline): the
    stages not calibrated copied from ``source``'s folder (or saved, for one built in
    memory), the calibrated ones saved with their new calibration."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name, model in chain.stages.items():
            if name not in calibrated and source.folder is not None:
                shutil.copytree(source.folder / name, staging / name)
                continue
            described = (stage_description(source.folder / name) if source.folder is not None and name in source.stages
                         else stage_record(chain.detector, upstream_of(model, chain)))
            save_stage(staging / name, name, model, described | {"calibration": calibrated.get(name, {}),
                                                                 "calibrated_on": record["reference"]},
                       {"calibration": calibrated.get(name, {})})
        (staging / "pipeline.json").write_text(json.dumps({"detector": chain.detector.name,
                                                           "stages": list(chain.stages)}, indent=2) + "\n")
        (staging / "calibration.json").write_text(json.dumps(record, indent=2) + "\n")
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
