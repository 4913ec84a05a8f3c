"""Trained-stage artifacts: a folder with ``weights.pt`` (a state dict, loadable with
``torch.load(weights_only=True)``), ``config.json`` (stage name, constructor arguments,
detector, node features, training description, library versions, the weights' SHA-256)
and ``metrics.json`` (what the stage measured on held-out events).

Trust: ``weights.pt`` is read with torch's weights-only loader (tensors, no code), must
hold finite numbers and match the checksum in ``config.json``; that checksum catches
accidents only, since it sits beside the weights. Against deliberate changes, pin the
pipeline's ``pipeline_sha256`` (kept apart from the folder) when loading it."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import torch

from .stages import STAGES


class ArtifactError(ValueError):
    """An artifact folder is incomplete, inconsistent or has been altered."""


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_stage(folder: Path, name: str, model: torch.nn.Module, description: dict, metrics: dict) -> None:
    """Write ``model`` (a stage of type ``STAGES[name]``) as an artifact folder, each file
    whole or not at all, ``metrics.json`` last."""
    folder.mkdir(parents=True, exist_ok=True)
    save_atomically(model.state_dict(), folder / "weights.pt")
    config = {"stage": name, "model": model.config, **description, "weights_sha256": file_sha256(folder / "weights.pt")}
    _write_atomically(folder / "config.json", json.dumps(config, indent=2))
    _write_atomically(folder / "metrics.json", json.dumps(metrics, indent=2))


def save_atomically(state: dict, path: Path) -> None:
    """``torch.save`` ``state`` to ``path`` through a temporary file beside it, renamed
    over it: a process killed while saving leaves the previous file whole (a training
    checkpoint that a resumed run reads), never a truncated one."""
    partial = path.with_name(f".{path.name}.partial")
    torch.save(state, partial)
    os.replace(partial, path)


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


def stage_description(folder: Path) -> dict:
    """The description an artifact's config.json holds (training, calibration, samples),
    without what ``save_stage`` derives from the model (stage, model, weights_sha256)."""
    described = json.loads((folder / "config.json").read_text())
    return {key: value for key, value in described.items() if key not in ("stage", "model", "weights_sha256")}


def load_stage(folder: Path) -> tuple[str, torch.nn.Module, dict]:
    """The stage stored in ``folder``, its name and its config; refuses altered weights."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as error:
        raise ArtifactError(f"{folder}: unreadable config.json ({error})") from None
    name = config.get("stage")
    if name not in STAGES:
        raise ArtifactError(f"{folder}: unknown stage {name!r}; known: {', '.join(STAGES)}")
    weights = folder / "weights.pt"
    if not weights.exists() or file_sha256(weights) != config.get("weights_sha256"):
        raise ArtifactError(f"{folder}: weights.pt is missing or does not match the checksum in config.json")
    try:
        model = STAGES[name](**config["model"])
    except (KeyError, TypeError, ValueError) as error:
        raise ArtifactError(f"{folder}: config.json's model arguments do not build stage {name!r} ({error})") from None
    try:
        state = torch.load(weights, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as error:
        raise ArtifactError(f"{weights}: not a state dict of plain tensors: torch's weights-only loader refused "
                            f"it ({type(error).__name__}); an artifact is never loaded any other way") from None
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as error:
        raise ArtifactError(f"{weights}: does not fit stage {name!r} ({error})") from None
    for key, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ArtifactError(f"{weights}: tensor {key!r} holds NaN or inf")
    return name, model.eval(), config


def pipeline_sha256(folder: Path, stages: Sequence[str]) -> str:
    """SHA-256 of everything loading the pipeline folder reads: ``pipeline.json``, then
    each stage's ``config.json`` and ``weights.pt``, in the order of ``stages`` (each
    file by its path in the folder and its own SHA-256). Unlike the weights' checksum in
    ``config.json``, which anyone who can edit the folder can recompute, it is a value to
    keep apart from the folder and pin (``graphreco reconstruct --pipeline-sha256``)."""
    digest = hashlib.sha256()
    files = [Path(name) / file for name in stages for file in ("config.json", "weights.pt")]
    for path in (Path("pipeline.json"), *files):
        try:
            digest.update(f"{path.as_posix()} {file_sha256(folder / path)}\n".encode())
        except OSError as error:
            raise ArtifactError(f"{folder / path}: unreadable ({error})") from None
    return digest.hexdigest()
