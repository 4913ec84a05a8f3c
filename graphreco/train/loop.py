"""Training loop shared by the stages: minibatches of prebuilt graphs, AdamW, validation
each epoch, early stopping on the validation loss, checkpoints that resume."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .. import detectors, progress
from ..artifacts import save_atomically
from ..graph import build_graph
from ..io import EventFormatError, read_events
from ..pipeline import Pipeline
from ..stages import Stage, StageGraph, StageInput
from .domain import DomainCritic, reversal_weight


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; unknown keys are rejected when read from a mapping."""

    epochs: int = 20
    batch_events: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 4
    seed: int = 0
    domain_weight: float = 0.0
    """Strength of the domain-adversarial term (graphreco.train.domain); > 0 needs unlabelled
    events of the shifted condition."""

    @classmethod
    def from_mapping(cls, values: dict) -> TrainConfig:
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown training settings {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**values)


class MissingTruth(EventFormatError):
    """A labelled event file lacks a truth column the stage learns from."""


def load_graphs(sources, batch_events: int, stage: Stage, upstream: Pipeline | None = None,
                labelled: bool = True, geometry: str | Path | None = None) -> list[StageGraph]:
    """Read event files into the graphs ``stage`` learns from, ``batch_events`` events
    each (against the geometry file ``geometry`` where given, else each file's own);
    ``upstream`` runs first and provides the columns the stage reads. Unlabelled graphs
    (the stage's input, no truth) serve domain-adversarial training."""
    graphs = []
    for batch in read_events(sources, batch_size=batch_events, geometry=geometry):
        detector = detectors.get(batch.detector)
        inputs = StageInput(batch, detector, build_graph(batch, detector))
        if upstream is not None:
            upstream.run(inputs)
        missing = set(stage.reads) - set(inputs.hit_columns) - set(inputs.event_columns)
        if missing:
            raise ValueError(f"stage {type(stage).__name__} reads {sorted(missing)}: give a pipeline that writes them")
        if not labelled:
            graphs.append(stage.input_graph(inputs))
            continue
        try:
            graphs.append(stage.training_graph(inputs))
        except KeyError as error:
            raise MissingTruth(batch.source, "training needs this truth column", column=error.args[0]) from None
    return graphs


def evaluate_loss(model: Stage, graphs: Sequence[StageGraph]) -> float:
    """Mean loss over graphs, weighted by their events (inference path)."""
    model.eval()
    total = events = 0
    for stage_graph in graphs:
        with torch.no_grad():
            value = float(model.training_loss(stage_graph))
        total += value * stage_graph.graph.num_graphs
        events += stage_graph.graph.num_graphs
    return total / max(events, 1)


def train(model: Stage, train_graphs: Sequence[StageGraph], val_graphs: Sequence[StageGraph],
          config: TrainConfig, checkpoint_dir: Path, log: Callable[[str], None] = print,
          target_graphs: Sequence[StageGraph] = ()) -> dict:
    """Train ``model`` in place; the best weights (lowest validation loss) end in the model.

    ``checkpoint_dir`` receives ``last.pt`` (model, optimiser, schedule, shuffle state,
    history, settings) after each epoch and ``best.pt`` (weights); a run finding
    ``last.pt`` resumes from it, and refuses one made with other settings. With
    ``config.domain_weight > 0`` each step adds the domain-adversarial loss of a
    DomainCritic on the step's graph and the next of ``target_graphs`` (unlabelled).
    """
    if config.domain_weight > 0 and not target_graphs:
        raise ValueError("domain-adversarial training (domain_weight > 0) needs unlabelled target events")
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    model.prepare_on(list(train_graphs))
    rng = np.random.default_rng(config.seed)
    critic = DomainCritic(model.config["hidden"]) if config.domain_weight > 0 else None
    parameters = [*model.parameters(), *(critic.parameters() if critic else ())]
    optimiser = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=config.epochs)
    state = {"epoch": 0, "history": [], "best_loss": float("inf"), "stale": 0}
    last = checkpoint_dir / "last.pt"
    if last.exists():
        saved = torch.load(last, weights_only=True)
        made_with = json.loads(saved.get("config", "null"))
        if isinstance(made_with, dict):  # settings added since the checkpoint was made had their defaults
            made_with = {**asdict(TrainConfig()), **made_with}
        if made_with != asdict(config) or "shuffle" not in saved:
            raise ValueError(f"{last} was made with other training settings ({made_with}); resume with "
                             f"those, or remove the checkpoint to start afresh")
        model.load_state_dict(saved["model"])
        if critic:
            critic.load_state_dict(saved["critic"])
        optimiser.load_state_dict(saved["optimiser"])
        schedule.load_state_dict(saved["schedule"])
        state = json.loads(saved["state"])
        rng.bit_generator.state = json.loads(saved["shuffle"])
        log(f"resumed at epoch {state['epoch']}")
    progress.expect(config.epochs - state["epoch"])
    while state["epoch"] < config.epochs and state["stale"] < config.patience:
        model.train()
        start, running, seen = time.perf_counter(), 0.0, 0
        for step, index in enumerate(rng.permutation(len(train_graphs))):
            stage_graph = train_graphs[index]
            optimiser.zero_grad()
            value = model.training_loss(stage_graph)
            if critic:
                fraction = (state["epoch"] + step / len(train_graphs)) / config.epochs
                target = target_graphs[(state["epoch"] * len(train_graphs) + step) % len(target_graphs)]
                (value + critic.loss(model, stage_graph.graph, target.graph,
                                     reversal_weight(fraction, config.domain_weight))).backward()
            else:
                value.backward()
            optimiser.step()
            running += float(value.detach()) * stage_graph.graph.num_graphs
            seen += stage_graph.graph.num_graphs
        schedule.step()
        val_loss = evaluate_loss(model, val_graphs)
        state["epoch"] += 1
        entry = {"epoch": state["epoch"], "train_loss": running / seen, "val_loss": val_loss,
                 "seconds": round(time.perf_counter() - start, 1)}
        state["history"].append(entry)
        if val_loss < state["best_loss"]:
            state["best_loss"], state["stale"] = val_loss, 0
            save_atomically(model.state_dict(), checkpoint_dir / "best.pt")
        else:
            state["stale"] += 1
        save_atomically({"model": model.state_dict(), **({"critic": critic.state_dict()} if critic else {}),
                    "optimiser": optimiser.state_dict(), "schedule": schedule.state_dict(), "state": json.dumps(state),
                    "shuffle": json.dumps(rng.bit_generator.state),
                    "config": json.dumps(asdict(config))}, last)
        log(json.dumps(entry))
        progress.advance()
    progress.expect(state["epoch"] - config.epochs)  # the epochs early stopping saved
    model.load_state_dict(torch.load(checkpoint_dir / "best.pt", weights_only=True))
    return {"config": asdict(config), **state}
