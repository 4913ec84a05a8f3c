"""Trained stages as ONNX graphs (and TorchScript modules), checked against torch.

An exported stage is its network alone: ``x`` (float32, n_nodes x n_features),
``edge_index`` (int64, 2 x n_edges; row 0 source, row 1 target), ``batch`` (int64,
n_nodes: the event of each node) and, for a stage with per-event inputs, ``event_x``
(float32, n_events x ``stage.n_event_inputs``) in; the raw output of the stage's network
out, as the stage declares it (``Stage.export_spec``: name, axis, width, meaning, and
what stays outside ONNX; the manifest repeats it, and the file's metadata holds the axis).

Nodes, edges and events are dynamic axes; events are counted as ``max(batch) + 1``, so an
event without hits inside a batch gets the readout of an empty event (as in torch), but
hitless events after the last event with hits have no row (``run_onnx`` pads them with
NaN; no stage writes anything meaningful for such events). Graph building and the
post-processing each stage does in numpy in ``outputs`` stay outside ONNX.

``ExportableStage`` runs the stage's own ``network`` with the message aggregation and
event reductions in row scatters (``graphreco.models.RowScatter``, ``ScatterEvents``),
exported as ``ScatterND`` with a max or add reduction (hence opset 18); it does not need
the edges grouped by target. ``torchscript_stage`` traces the same module to TorchScript.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import progress
from .detectors import Detector
from .extras import require
from .graph import GraphBatch, build_graph
from .io import EventBatch
from .models import CsrEvents, FusedKernel, RowScatter, ScatterEvents, SegmentCsr
from .pipeline import Pipeline
from .stages import Stage, StageInput
from .threads import single_thread

OPSET = 18
"""ONNX opset of the exported graphs (ScatterND with reduction="max" needs 18)."""
INPUTS = ("x", "edge_index", "batch")
DYNAMIC_AXES = {"x": {0: "nodes"}, "edge_index": {1: "edges"}, "batch": {0: "nodes"}, "event_x": {0: "events"}}
"""The dynamic axes of each input an exported stage may take."""
AXIS_KEY = "graphreco.output_axis"
"""Metadata key of an exported file: what its output's first axis runs over ("nodes" or "events")."""


class ExportableStage(nn.Module):
    """A stage's network on ``(x, edge_index, batch[, event_x])`` in exportable tensor
    ops: the stage's own ``network`` (its layers and weights) with the messages reduced by
    row scatters (``RowScatter``) and the events given by ``batch`` (``ScatterEvents``).

    Shapes:
        x (N, F) float32, edge_index (2, E) int64, batch (N,) int64, event_x
        (events, stage.n_event_inputs) -> the stage's ``export_spec`` output.
    """

    def __init__(self, stage: Stage):
        super().__init__()
        self.stage = stage

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor,
                event_x: torch.Tensor | None = None) -> torch.Tensor:
        return self.stage.network(x, edge_index, ScatterEvents(batch), event_x, RowScatter())


def stage_inputs(stage: Stage, graph: GraphBatch) -> dict[str, torch.Tensor]:
    """The tensors an exported stage takes, by input name: ``INPUTS``, and ``event_x``
    (events, ``stage.n_event_inputs``) for a stage that takes per-event inputs."""
    inputs = {"x": graph.x, "edge_index": graph.edge_index, "batch": graph.batch}
    if stage.n_event_inputs:
        inputs["event_x"] = graph.event_x
    return inputs


def torch_outputs(stage: Stage, graph: GraphBatch, fused: bool = True) -> np.ndarray:
    """The stage's network on a graph in torch: the inference path the pipeline runs
    (messages aggregated by the fused numba kernel) or, ``fused=False``, the path
    training runs (``segment_csr``, which the ONNX graph reproduces)."""
    event_x = graph.event_x if stage.n_event_inputs else None
    with torch.inference_mode():
        return stage.network(graph.x, graph.edge_index, CsrEvents(graph.ptr), event_x,
                             FusedKernel() if fused else SegmentCsr()).numpy()


def export_stage(stage: Stage, path: str | Path, example_graph: GraphBatch) -> Path:
    """Write the ONNX graph of ``stage`` to ``path`` (inputs ``INPUTS``, output
    ``stage.export_spec.output``), traced on ``example_graph`` (at least one edge); returns the path."""
    path = Path(path)
    spec = stage.export_spec
    require("onnx", "export", "exporting stages to ONNX")
    if example_graph.edge_index.shape[1] == 0:
        raise ValueError("the example graph has no edges; tracing needs at least one to keep the edge axis dynamic")
    path.parent.mkdir(parents=True, exist_ok=True)
    model = ExportableStage(stage).eval()
    inputs = stage_inputs(stage, example_graph)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="The feature will be removed", category=DeprecationWarning)
        torch.onnx.export(model, tuple(inputs.values()), path,
                          dynamo=False, opset_version=OPSET, input_names=list(inputs), output_names=[spec.output],
                          dynamic_axes={**{name: DYNAMIC_AXES[name] for name in inputs}, spec.output: {0: spec.axis}})
    _declare_inputs(path, list(inputs), spec.axis)
    return path


def _declare_inputs(path: Path, names: list[str], axis: str) -> None:
    """Give the file every input of ``names`` (the exporter drops the ones the graph does
    not read, such as hit selection's ``batch``; an unread input is valid ONNX) and the
    output's first axis (``AXIS_KEY`` in its metadata, for ``run_onnx``), and check it."""
    onnx = require("onnx", "export", "exporting stages to ONNX")

    model = onnx.load(str(path))
    present = {value.name for value in model.graph.input}
    if "batch" not in present:
        model.graph.input.append(onnx.helper.make_tensor_value_info("batch", onnx.TensorProto.INT64, ["nodes"]))
    onnx.helper.set_model_props(model, {AXIS_KEY: axis})
    onnx.save(model, str(path))
    if [value.name for value in model.graph.input] != names:
        raise RuntimeError(f"{path}: inputs {[value.name for value in model.graph.input]}, expected {names}")
    onnx.checker.check_model(str(path))


def torchscript_stage(stage: Stage, example: GraphBatch) -> torch.jit.ScriptModule:
    """``ExportableStage`` as TorchScript, traced by ``torch.jit.trace`` on ``example``
    (at least one edge), with the same inputs and output as the ONNX graph: node, edge and
    event counts stay dynamic, as in the ONNX graph."""
    module = ExportableStage(stage).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        return torch.jit.trace(module, tuple(stage_inputs(stage, example).values()), check_trace=False)


def example_graph(n_features: int, seed: int = 0, n_event_inputs: int = 0) -> GraphBatch:
    """A small random graph of two events (5 and 3 nodes, edges within each) to trace on,
    with ``n_event_inputs`` random event inputs per event when asked."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(8, n_features, generator=generator)
    source = torch.tensor([1, 2, 0, 3, 4, 2, 0, 6, 7, 5, 6])
    target = torch.tensor([0, 0, 1, 1, 2, 3, 4, 5, 5, 6, 7])
    event_x = torch.randn(2, n_event_inputs, generator=generator) if n_event_inputs else None
    return GraphBatch(x=x, edge_index=torch.stack([source, target]), batch=torch.tensor([0] * 5 + [1] * 3),
                      ptr=torch.tensor([0, 5, 8]), edge_ptr=torch.tensor([0, 7, 11]), event_id=torch.arange(2),
                      event_x=event_x)


def exported(stage: Stage) -> bool:
    """Whether the stage's network is a graph network that ``export_pipeline`` exports
    with the graph inputs and ``verify_export`` checks (not the posterior's conditioner,
    which reads per-event inputs alone: ``export_conditioner``)."""
    return stage.trained and stage.encodes_graph


class _Conditioner(nn.Module):
    """A stage without a graph encoder as a network of its per-event inputs alone."""

    def __init__(self, stage: Stage):
        super().__init__()
        self.stage = stage

    def forward(self, event_x: torch.Tensor) -> torch.Tensor:
        return self.stage(None, None, None, event_x)


def export_conditioner(name: str, stage: Stage, path: Path, events: int = 64) -> dict:
    """Write the network of a stage that reads per-event inputs alone (the posterior's
    conditioner: ``event_x`` (events, ``n_event_inputs``) in, its ``export_spec`` output
    out) to ``path``, check it with onnxruntime on ``events`` random inputs, and return
    its manifest entry (with that check's largest absolute difference)."""
    require("onnx", "export", "exporting stages to ONNX")
    spec = stage.export_spec
    path.parent.mkdir(parents=True, exist_ok=True)
    module = _Conditioner(stage).eval()
    example = torch.randn(events, stage.n_event_inputs, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(module, (example,), path, dynamo=False, opset_version=OPSET, input_names=["event_x"],
                          output_names=[spec.output],
                          dynamic_axes={"event_x": {0: "events"}, spec.output: {0: "events"}})
        expected = module(example).numpy()
    (output,) = onnx_session(path).run(None, {"event_x": example.numpy()})
    return {"stage": name, "files": {"onnx": path.name}, "config": stage.config,
            "inputs": {"event_x": {"dtype": "float32", "shape": ["events", stage.n_event_inputs]}},
            "outputs": {spec.output: {"dtype": "float32", "shape": [spec.axis, int(expected.shape[1])],
                                      "meaning": spec.meaning}},
            "parity_max_abs_diff": float(np.abs(output - expected).max()), "outside_onnx": list(spec.outside)}


def stage_graphs(pipeline: Pipeline, batch: EventBatch) -> dict[str, GraphBatch]:
    """The graph each stage of ``pipeline`` with a network reads ``batch`` through (for
    energy_direction the graph of the hits that the hit selection before it kept); the
    stages run in order where a later one reads their columns."""
    inputs = StageInput(batch, pipeline.detector, build_graph(batch, pipeline.detector))
    names = list(pipeline.stages)
    graphs = {}
    with torch.no_grad():  # (not inference_mode: its tensors cannot be traced by torch.jit.trace)
        for i, (name, stage) in enumerate(pipeline.stages.items()):
            if exported(stage):  # the others have no graph network to trace or check
                graphs[name] = stage.input_graph(inputs).graph
            read_later = {column for later in names[i + 1:] for column in pipeline.stages[later].reads}
            if read_later & set(stage.writes):
                hits, events = stage.outputs(inputs)
                inputs.hit_columns |= hits
                inputs.event_columns |= events
    return graphs


def _pipeline(folder_or_pipeline: str | Path | Pipeline) -> Pipeline:
    if isinstance(folder_or_pipeline, Pipeline):
        return folder_or_pipeline
    return Pipeline.load(folder_or_pipeline)


def export_pipeline(folder_or_pipeline: str | Path | Pipeline, out_dir: str | Path, example: EventBatch | None = None,
                    torchscript: bool = False) -> dict:
    """Export every stage to ``out_dir/<stage>.onnx`` (with ``torchscript`` also
    ``<stage>.torchscript.pt``) and write ``out_dir/manifest.json``, which is returned:
    per stage its files, inputs, output and what stays outside ONNX. Stages are traced on
    ``example`` (their graphs of it) or else on a small random graph. Each trained stage
    exported counts one on the progress bar (``graphreco.progress``)."""
    pipeline = _pipeline(folder_or_pipeline)
    out_dir = Path(out_dir)
    graphs = stage_graphs(pipeline, example) if example is not None else {}
    stages = []
    progress.expect(sum(stage.trained for stage in pipeline.stages.values()))
    for name, stage in pipeline.stages.items():
        if not stage.trained:
            stages.append({"stage": name, "files": {}, "config": stage.config, "reads": list(stage.reads),
                           "writes": list(stage.writes),
                           "outside_onnx": [f"the whole stage: no network; {type(stage).__module__} "
                                            "(post-processing on the columns it reads)"]})
            continue
        if not stage.encodes_graph:
            stages.append(export_conditioner(name, stage, out_dir / f"{name}.onnx"))
            progress.advance()
            continue
        graph = graphs.get(name)
        if graph is None or graph.edge_index.shape[1] == 0:
            graph = example_graph(stage.encoder.n_features, n_event_inputs=stage.n_event_inputs)
        files = {"onnx": export_stage(stage, out_dir / f"{name}.onnx", graph).name}
        if torchscript:
            torchscript_stage(stage, graph).save(str(out_dir / f"{name}.torchscript.pt"))
            files["torchscript"] = f"{name}.torchscript.pt"
        stages.append(_describe(name, stage, pipeline.detector, files))
        progress.advance()
    manifest = {"detector": pipeline.detector.name, "opset": OPSET, "stages": stages}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _describe(name: str, stage: Stage, detector: Detector, files: dict[str, str]) -> dict:
    spec = stage.export_spec
    return {"stage": name, "files": files, "config": stage.config,
            "inputs": {"x": {"dtype": "float32", "shape": ["nodes", stage.config["n_features"]],
                             "features": detector.feature_names},
                       "edge_index": {"dtype": "int64", "shape": [2, "edges"], "rows": ["source", "target"]},
                       "batch": {"dtype": "int64", "shape": ["nodes"], "meaning": "event of each node, 0-based"},
                       **({"event_x": {"dtype": "float32", "shape": ["events", stage.n_event_inputs],
                                       "features": [*detector.event_feature_names, "fit_failed"]}}
                          if stage.n_event_inputs else {})},
            "outputs": {spec.output: {"dtype": "float32",
                                      "shape": [spec.axis] + ([spec.width] if spec.width else []),
                                      "meaning": spec.meaning}},
            "events": "max(batch) + 1 rows; hitless events after the last event with hits have none",
            "outside_onnx": list(spec.outside)}


def onnx_session(path: str | Path, threads: int = 1):
    """An onnxruntime CPU session of an exported stage using ``threads`` threads."""
    onnxruntime = require("onnxruntime", "export", "running exported stages")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(session, graph: GraphBatch) -> np.ndarray:
    """The ONNX graph's output on a graph; per-event outputs padded with NaN to every event
    of the graph (rows of hitless events after the last event with hits)."""
    (output,) = session.run(None, {value.name: getattr(graph, value.name).numpy() for value in session.get_inputs()})
    per_event = session.get_modelmeta().custom_metadata_map.get(AXIS_KEY) == "events"
    if per_event and output.shape[0] < graph.num_graphs:
        missing = np.full((graph.num_graphs - output.shape[0], *output.shape[1:]), np.nan, dtype=output.dtype)
        output = np.concatenate([output, missing])
    return output


def parity(stage: Stage, session, graph: GraphBatch) -> dict:
    """How far onnxruntime is from torch on ``graph``, over every node (hit selection) or
    every event up to the last one with hits: the largest absolute difference from the
    stage's pure-torch path (``max_abs_diff``) and from its fused inference path, each also
    divided by max(1, |torch value|) (``max_scaled_diff``, ``max_scaled_diff_fused``:
    logits and kappa reach a few hundred, where one float32 rounding is ~1e-5; the fused
    kernel sums in another order)."""
    exported = run_onnx(session, graph)
    rows = exported.shape[0] if stage.export_spec.axis == "nodes" else _events_with_rows(graph)
    exported = exported[:rows]
    pure, fused = (torch_outputs(stage, graph, fused)[:rows] for fused in (False, True))

    def largest(values):
        return float(values.max()) if values.size else 0.0
    return {"max_abs_diff": largest(np.abs(exported - pure)),
            "max_scaled_diff": largest(np.abs(exported - pure) / np.maximum(1.0, np.abs(pure))),
            "max_abs_diff_fused": largest(np.abs(exported - fused)),
            "max_scaled_diff_fused": largest(np.abs(exported - fused) / np.maximum(1.0, np.abs(fused))),
            "max_abs_value": largest(np.abs(pure)),
            "events": int(graph.num_graphs), "nodes": int(graph.x.shape[0]), "edges": int(graph.edge_index.shape[1])}


def _events_with_rows(graph: GraphBatch) -> int:
    """Rows of a per-event ONNX output: up to the last event with hits."""
    return int(graph.batch.max()) + 1 if graph.batch.numel() else 0


def _events_per_s(run, events: int, repeats: int) -> float:
    run()  # warm-up: numba compilation, onnxruntime's first allocation
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return round(events / max(float(np.median(seconds)), 1e-9), 1)


def compare_speed(stage: Stage, session, graph: GraphBatch, repeats: int = 5) -> dict:
    """Events/s of one stage's network on ``graph`` on one thread, graph building and
    post-processing excluded: ``torch_fused`` the inference path the pipeline runs (numba
    aggregation), ``torch_exported_graph`` ``ExportableStage`` in torch, ``onnxruntime``
    the session (give it one thread: ``onnx_session``). Median of ``repeats`` runs after a
    warm-up."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    exportable = ExportableStage(stage).eval()

    def exported_graph() -> None:
        with torch.inference_mode():
            exportable(**stage_inputs(stage, graph))

    events = int(graph.num_graphs)
    with single_thread():
        rates = {"torch_fused": _events_per_s(lambda: torch_outputs(stage, graph), events, repeats),
                 "torch_exported_graph": _events_per_s(exported_graph, events, repeats),
                 "onnxruntime": _events_per_s(lambda: run_onnx(session, graph), events, repeats)}
    return {"events": events, "hits": int(graph.x.shape[0]), "edges": int(graph.edge_index.shape[1]),
            "events_per_s": rates,
            "onnxruntime_over_torch_fused": round(rates["onnxruntime"] / rates["torch_fused"], 3)}


def verify_export(folder_or_pipeline: str | Path | Pipeline, out_dir: str | Path, batch: EventBatch,
                  repeats: int = 5) -> dict:
    """Parity (``parity``) and one-thread speed (``compare_speed``) of every stage exported
    in ``out_dir`` on the stage graphs of ``batch``, all on one thread; each stage checked
    counts one on the progress bar (``graphreco.progress``)."""
    pipeline = _pipeline(folder_or_pipeline)
    result: dict[str, dict] = {"parity": {}, "timings": {}}
    trained = {name: stage for name, stage in pipeline.stages.items() if exported(stage)}
    progress.expect(len(trained))
    with single_thread():  # all of it: numba's idle OpenMP workers spin after a parallel kernel
        graphs = stage_graphs(pipeline, batch)
        for name, stage in trained.items():
            session = onnx_session(Path(out_dir) / f"{name}.onnx")
            result["parity"][name] = parity(stage, session, graphs[name])
            result["timings"][name] = compare_speed(stage, session, graphs[name], repeats)
            progress.advance()
    return result
