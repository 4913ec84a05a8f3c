"""Trained stages as ONNX graphs (and TorchScript modules), checked against torch.

An exported stage is its network alone: ``x`` (float32, n_nodes x n_features),
``edge_index`` (int64, 2 x n_edges; row 0 source, row 1 target) and ``batch`` (int64,
n_nodes: the event of each node) in, the tensors of the stage's torch ``forward`` out:

    hit_selection           logits      (n_nodes, n_classes)  class logits per hit
    background_suppression  logit       (n_events,)           signal logit per event
    energy_direction        prediction  (n_events, 5 or 8)    direction vector (norm kappa),
                                                              mean log10 E/GeV, raw sigma
                                                              [, core offset (km), raw sigma]

Nodes, edges and events are dynamic axes; events are counted as ``max(batch) + 1``, so an
event without hits inside a batch gets the readout of an empty event (as in torch), but
hitless events after the last event with hits have no row (``run_onnx`` pads them with
NaN; no stage writes anything meaningful for such events). Everything else stays outside
ONNX: graph building, the energy stage's hit selection, and the post-processing each
stage does in numpy in ``outputs`` (``EXPORTS`` says what; the manifest repeats it).

The stages' inference path aggregates messages in a fused numba kernel, and their
training path uses ``torch_scatter.segment_csr``; neither exports. ``ExportableStage``
runs the same network (the stage's own layers and weights) with row scatters, exported
as ``ScatterND`` with a max or add reduction (hence opset 18); it does not need the edges
grouped by target. ``torch.jit.script`` compiles it too (``script_stage``); the stages
themselves do not script, and traced they keep the numba results as constants.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from .detectors import Detector
from .graph import GraphBatch, build_graph
from .io import EventBatch
from .pipeline import Pipeline
from .stages import STAGES, Stage, StageInput
from .threads import single_thread

OPSET = 18
"""ONNX opset of the exported graphs (ScatterND with reduction="max" needs 18)."""
INPUTS = ("x", "edge_index", "batch")


@dataclass(frozen=True)
class StageExport:
    """What the ONNX graph of one stage returns, and what stays outside it."""

    output: str
    axis: str  # "nodes" or "events": what the output's first axis runs over
    meaning: str
    outside: tuple[str, ...]


GRAPH = "graph building: the detector's node features and edges of all hits (graphreco.graph.build_graph)"
EXPORTS = {
    "hit_selection": StageExport(
        "logits", "nodes", "class logits per hit (0 noise, 1 track light, 2 cascade light; or 0 noise, 1 signal)",
        (GRAPH, "hit_score = 1 - softmax(logits)[:, 0] and, with three classes, hit_track_score = "
                "p1 / max(p1 + p2, 1e-12) (HitSelection.scores)")),
    "background_suppression": StageExport(
        "logit", "events", "signal logit per event",
        (GRAPH, "event_score = sigmoid(logit) (BackgroundSuppression.event_score)")),
    "composition": StageExport(
        "logits", "events", "class logits per event, the classes in the order of the stage config's 'classes'",
        (GRAPH, "x gets one more column: the hit_score of the hit selection before it (Composition.input_graph)",
         "reco_p_<class> = softmax(logits)")),
    "energy_direction": StageExport(
        "prediction", "events", "columns 0-2 direction vector (where the particle comes from; norm = vMF kappa), "
                                "3 mean log10 E/GeV, 4 raw sigma; with core: 5-6 core offset (km) from the "
                                "selected hits' centroid, 7 its raw sigma",
        ("hit selection: the hits with hit_score >= threshold, at least min_hits per event (kernels.select_hits), "
         "and the graph built on them alone (EnergyDirection.input_graph)",
         "sigma = softplus(prediction[:, 4]) + 1e-3; zenith and azimuth of the direction vector; "
         "68 % cone of the vMF from kappa (EnergyDirection.split, estimates)",
         "calibration: the cone times angle_scale, sigma times energy_scale (cascade-like) or "
         "energy_scale_track (track-like: mean hit_track_score of the selected hits >= track_like); "
         "the scales are in the stage config, one per calibration bin: the bin of selected hits "
         "(digitize at 10, 20), plus 3 where the stage config has fiducial and the event passes "
         "Detector.fiducial of its reconstructed zenith and core (EnergyDirection.estimates)",
         "with refine: the direction of track-like events refitted by the detector's classical track fit "
         "(Detector.refine_direction) on the selected hits, started at the GNN direction, its cone times "
         "refit_scale of its calibration bin (EnergyDirection.refine)",
         "with combine: where the refit gave an energy with an uncertainty (Detector.refine_direction's "
         "log10_energy, log10_energy_sigma), the GNN's log10 E is at least combine_from and the two lie within "
         "combine_within of each other, log10 E = the "
         "fit's + combination_features(fit energy and sigma, fit zenith, GNN energy and sigma before "
         "calibration, the composition stage's reco_p_*, selected hits) @ combination, its sigma times "
         "energy_scale_combined of its bin (EnergyDirection.estimates)",
         "with combine_core: where the refit gave a core (Detector.refine_direction's reco_core_x, "
         "reco_core_y), the core = (1 - core_refit_weight) * the GNN's + core_refit_weight * the refit's "
         "(EnergyDirection.blend_cores)",
         "with event_features: event_x = the detector's classical fit of the selected hits "
         "(Detector.event_features), NaN set to 0, and a last column 1 where the fit failed "
         "(EnergyDirection.event_inputs)",
         "with core: core = centroid of the selected hits + 1000 m * prediction[:, 5:7]; its 68 % circle "
         "1000 m * (softplus(prediction[:, 7]) + 1e-3) * sqrt(-2 ln 0.32) times core_scale of its bin "
         "(EnergyDirection.split_core, estimates)",
         "NaN for events without (selected) hits")),
}
"""Stage name -> its ONNX output and the work that stays outside ONNX."""


def stage_name(stage: Stage) -> str:
    """The artifact name of a stage module (``hit_selection``, ...)."""
    for name, kind in STAGES.items():
        if type(stage) is kind:
            return name
    raise TypeError(f"{type(stage).__name__} is not one of the stages {', '.join(STAGES)}")


def _scatter_rows_torch(out: torch.Tensor, index: torch.Tensor, src: torch.Tensor, reduce: str) -> torch.Tensor:
    rows = index if src.dim() == 1 else index[:, None].expand_as(src)
    return out.scatter_reduce(0, rows, src, reduce, include_self=True)


class _ScatterRows(torch.autograd.Function):
    """Rows of ``src`` reduced into the rows ``index`` of ``out`` (``reduce`` "amax" or
    "sum", ``out`` included), exported as one ScatterND over whole rows. (torch exports
    scatter_reduce as ScatterElements, which onnxruntime runs element by element: 86 % of
    a stage's time, 10x slower than ScatterND, and wrapped in rank-0 ``If`` branches whose
    declared shapes it warns about on every run.)"""

    @staticmethod
    def forward(ctx, out: torch.Tensor, index: torch.Tensor, src: torch.Tensor, reduce: str) -> torch.Tensor:
        return _scatter_rows_torch(out, index, src, reduce)

    @staticmethod
    def symbolic(g, out, index, src, reduce: str):
        axes = g.op("Constant", value_t=torch.tensor([1], dtype=torch.int64))
        return g.op("ScatterND", out, g.op("Unsqueeze", index, axes), src,
                    reduction_s={"amax": "max", "sum": "add"}[reduce])


def _scatter_rows(out: torch.Tensor, index: torch.Tensor, src: torch.Tensor, reduce: str) -> torch.Tensor:
    if not torch.jit.is_scripting():
        if torch.onnx.is_in_onnx_export():
            return _ScatterRows.apply(out, index, src, reduce)
    return _scatter_rows_torch(out, index, src, reduce)


def segment_max_mean(values: torch.Tensor, index: torch.Tensor, n_segments: int
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Max and mean of the rows of ``values`` (n, C) over the segments ``index`` (n) names,
    both 0 for an empty segment (as ``segment_csr`` gives), and the rows per segment.
    (Traced, ``n_segments`` may be a 0-dim tensor: the count stays dynamic.)"""
    channels = values.shape[1]
    counts = _scatter_rows(torch.zeros(n_segments, dtype=values.dtype), index,
                           torch.ones_like(index, dtype=values.dtype), "sum")
    top = _scatter_rows(torch.full((n_segments, channels), float("-inf"), dtype=values.dtype), index, values, "amax")
    total = _scatter_rows(torch.zeros(n_segments, channels, dtype=values.dtype), index, values, "sum")
    filled = counts[:, None] > 0
    return torch.where(filled, top, torch.zeros_like(top)), total / counts.clamp_min(1.0)[:, None], counts


class _Block(nn.Module):
    """An EdgeBlock's layers (shared, not copied) with the aggregation in scatters."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.target, self.source, self.edge, self.update = block.target, block.source, block.edge, block.update

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor, edge_features: torch.Tensor) -> torch.Tensor:
        message = torch.relu(self.target(h)[edge_index[1]] + self.source(h)[edge_index[0]] + self.edge(edge_features))
        pooled_max, pooled_mean, _ = segment_max_mean(message, edge_index[1], h.shape[0])
        return h + self.update(torch.cat([h, pooled_max, pooled_mean], dim=1))


class ExportableStage(nn.Module):
    """A stage's forward on ``(x, edge_index, batch)`` in exportable tensor ops.

    The encoder is the GraphEncoder's (graphreco.models.message_passing) with the
    aggregations done by ``segment_max_mean``; the layers are the stage's own modules.
    """

    def __init__(self, stage: Stage):
        super().__init__()
        self.name = stage_name(stage)
        self.relative_features = list(stage.encoder.relative_features)
        self.embed, self.head = stage.encoder.embed, stage.head
        self.blocks = nn.ModuleList(_Block(block) for block in stage.encoder.blocks)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor,
                event_x: Optional[torch.Tensor] = None) -> torch.Tensor:
        delta = x[edge_index[0]][:, self.relative_features] - x[edge_index[1]][:, self.relative_features]
        edge_features = torch.cat([delta, delta.norm(p=2, dim=1, keepdim=True)], dim=1)
        h = self.embed(x)
        for block in self.blocks:
            h = block(h, edge_index, edge_features)
        if self.name == "hit_selection":
            return self.head(h)
        last = torch.cat([batch, batch.new_full((1,), -1)]).max()  # -1 without nodes
        if torch.jit.is_scripting():
            n_events = int(last) + 1
        else:
            n_events = last + 1  # traced: stays a tensor, so the events axis stays dynamic
        pooled_max, pooled_mean, n_hits = segment_max_mean(h, batch, n_events)
        readout = torch.cat([pooled_max, pooled_mean], dim=1)
        if self.name == "composition":  # with the log of the number of hits scored as signal
            _, signal_share, _ = segment_max_mean((x[:, -1:] >= 0.5).to(x.dtype), batch, n_events)
            return self.head(torch.cat([readout, torch.log1p(signal_share * n_hits[:, None])], dim=1))
        if self.name == "energy_direction":
            readout = torch.cat([readout, torch.log1p(n_hits)[:, None]], dim=1)
            if event_x is not None:
                readout = torch.cat([readout, event_x], dim=1)
            return self.head(readout)
        return self.head(readout).squeeze(1)


def stage_inputs(stage: Stage, graph: GraphBatch) -> dict[str, torch.Tensor]:
    """The tensors an exported stage takes, by input name: ``INPUTS``, and ``event_x``
    (n_events x (event features + 1)) for an energy stage that reads event features."""
    inputs = {"x": graph.x, "edge_index": graph.edge_index, "batch": graph.batch}
    if stage.config.get("event_features"):
        inputs["event_x"] = graph.event_x
    return inputs


def torch_outputs(stage: Stage, graph: GraphBatch, fused: bool = True) -> np.ndarray:
    """The stage's own forward on a graph: the inference path the pipeline runs (messages
    aggregated by the fused numba kernel) or, ``fused=False``, its pure-torch path (the
    one training runs, ``segment_csr``; the path the ONNX graph reproduces)."""
    name = stage_name(stage)
    args = {"hit_selection": (graph.x, graph.edge_index),
            "energy_direction": (graph.x, graph.edge_index, graph.ptr, graph.get("event_x"))
            }.get(name, (graph.x, graph.edge_index, graph.ptr))
    if fused:
        with torch.inference_mode():
            return stage(*args).numpy()
    with torch.enable_grad():  # clones: no inference tensors
        return stage(*(None if tensor is None else tensor.clone() for tensor in args)).detach().numpy()


def export_stage(stage: Stage, path: str | Path, example_graph: GraphBatch) -> Path:
    """Write the ONNX graph of ``stage`` to ``path`` (inputs ``INPUTS``, output
    ``EXPORTS[name].output``), traced on ``example_graph`` (at least one edge); returns the path."""
    path = Path(path)
    spec = EXPORTS[stage_name(stage)]
    _require("onnx")
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
                          dynamic_axes={"x": {0: "nodes"}, "edge_index": {1: "edges"}, "batch": {0: "nodes"},
                                        "event_x": {0: "events"}, spec.output: {0: spec.axis}})
    _declare_inputs(path, list(inputs))
    return path


def _require(module: str):
    """Import ``module`` (onnx, onnxruntime), or say which extra provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{module} is missing; install the export extra: pip install 'graphreco[export]'") from None


def _declare_inputs(path: Path, names: list[str]) -> None:
    """Give the file every input of ``names`` (the exporter drops the ones the graph does
    not read, such as hit selection's ``batch``; an unread input is valid ONNX) and check it."""
    onnx = _require("onnx")

    model = onnx.load(str(path))
    present = {value.name for value in model.graph.input}
    if "batch" not in present:
        model.graph.input.append(onnx.helper.make_tensor_value_info("batch", onnx.TensorProto.INT64, ["nodes"]))
        onnx.save(model, str(path))
    if [value.name for value in model.graph.input] != names:
        raise RuntimeError(f"{path}: inputs {[value.name for value in model.graph.input]}, expected {names}")
    onnx.checker.check_model(str(path))


def script_stage(stage: Stage) -> torch.jit.ScriptModule:
    """``ExportableStage`` compiled by ``torch.jit.script`` (same inputs and output as the
    ONNX graph). The stage itself does not script: its inference path calls numba."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return torch.jit.script(ExportableStage(stage).eval())


def example_graph(n_features: int, seed: int = 0, n_event_inputs: int = 0) -> GraphBatch:
    """A small random graph of two events (5 and 3 nodes, edges within each) to trace on,
    with ``n_event_inputs`` random event inputs per event when asked."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(8, n_features, generator=generator)
    source = torch.tensor([1, 2, 0, 3, 4, 2, 0, 6, 7, 5, 6])
    target = torch.tensor([0, 0, 1, 1, 2, 3, 4, 5, 5, 6, 7])
    graph = GraphBatch(x=x, edge_index=torch.stack([source, target]), batch=torch.tensor([0] * 5 + [1] * 3),
                       ptr=torch.tensor([0, 5, 8]), edge_ptr=torch.tensor([0, 7, 11]))
    if n_event_inputs:
        graph.event_x = torch.randn(2, n_event_inputs, generator=generator)
    return graph


def stage_graphs(pipeline: Pipeline, batch: EventBatch) -> dict[str, GraphBatch]:
    """The graph each stage of ``pipeline`` reads ``batch`` through (for energy_direction
    the graph of the hits that the hit selection before it kept, and with ``combine`` the
    composition stage's probabilities)."""
    inputs = StageInput(batch, pipeline.detector, build_graph(batch, pipeline.detector))
    names = list(pipeline.stages)
    graphs = {}
    with torch.no_grad():  # (not inference_mode: its tensors cannot be traced by torch.jit.trace)
        for i, (name, stage) in enumerate(pipeline.stages.items()):
            graphs[name] = stage.input_graph(inputs)
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
    ``example`` (their graphs of it) or else on a small random graph."""
    pipeline = _pipeline(folder_or_pipeline)
    out_dir = Path(out_dir)
    graphs = stage_graphs(pipeline, example) if example is not None else {}
    stages = []
    for name, stage in pipeline.stages.items():
        graph = graphs.get(name)
        if graph is None or graph.edge_index.shape[1] == 0:
            features = stage.config.get("event_features")
            graph = example_graph(stage.encoder.n_features, n_event_inputs=features + 1 if features else 0)
        files = {"onnx": export_stage(stage, out_dir / f"{name}.onnx", graph).name}
        if torchscript:
            script_stage(stage).save(str(out_dir / f"{name}.torchscript.pt"))
            files["torchscript"] = f"{name}.torchscript.pt"
        stages.append(_describe(name, stage, pipeline.detector, files))
    manifest = {"detector": pipeline.detector.name, "opset": OPSET, "stages": stages}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _describe(name: str, stage: Stage, detector: Detector, files: dict[str, str]) -> dict:
    spec = EXPORTS[name]
    width = {"hit_selection": stage.config.get("n_classes"),
             "energy_direction": 8 if stage.config.get("core") else 5,
             "composition": len(stage.config.get("classes", ()))}.get(name)
    return {"stage": name, "files": files, "config": stage.config,
            "inputs": {"x": {"dtype": "float32", "shape": ["nodes", stage.config["n_features"]],
                             "features": detector.feature_names},
                       "edge_index": {"dtype": "int64", "shape": [2, "edges"], "rows": ["source", "target"]},
                       "batch": {"dtype": "int64", "shape": ["nodes"], "meaning": "event of each node, 0-based"},
                       **({"event_x": {"dtype": "float32", "shape": ["events", stage.config["event_features"] + 1],
                                       "features": [*detector.event_feature_names, "fit_failed"]}}
                          if stage.config.get("event_features") else {})},
            "outputs": {spec.output: {"dtype": "float32", "shape": [spec.axis] + ([width] if width else []),
                                      "meaning": spec.meaning}},
            "events": "max(batch) + 1 rows; hitless events after the last event with hits have none",
            "outside_onnx": list(spec.outside)}


def onnx_session(path: str | Path, threads: int = 1):
    """An onnxruntime CPU session of an exported stage using ``threads`` threads."""
    onnxruntime = _require("onnxruntime")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(session, graph: GraphBatch) -> np.ndarray:
    """The ONNX graph's output on a graph; per-event outputs padded with NaN to every event
    of the graph (rows of hitless events after the last event with hits)."""
    (output,) = session.run(None, {value.name: getattr(graph, value.name).numpy() for value in session.get_inputs()})
    if session.get_outputs()[0].name in ("logit", "prediction") and output.shape[0] < graph.num_graphs:
        missing = np.full((graph.num_graphs - output.shape[0], *output.shape[1:]), np.nan, dtype=output.dtype)
        output = np.concatenate([output, missing])
    return output


def parity(stage: Stage, session, graph: GraphBatch) -> dict:
    """How far onnxruntime is from torch on ``graph``, over every node (hit selection) or
    every event up to the last one with hits: the largest absolute difference from the
    stage's pure-torch forward (``max_abs_diff``) and from its fused inference path, also
    divided by max(1, |torch value|) (the fused kernel sums in another order; logits and
    kappa reach a few hundred, where one float32 rounding is ~1e-5)."""
    exported = run_onnx(session, graph)
    rows = exported.shape[0] if EXPORTS[stage_name(stage)].axis == "nodes" else _events_with_rows(graph)
    exported = exported[:rows]
    pure, fused = (torch_outputs(stage, graph, fused)[:rows] for fused in (False, True))
    largest = (lambda values: float(values.max()) if values.size else 0.0)
    return {"max_abs_diff": largest(np.abs(exported - pure)),
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
            "events_per_s": rates, "onnxruntime_over_torch_fused": round(rates["onnxruntime"] / rates["torch_fused"], 3)}


def verify_export(folder_or_pipeline: str | Path | Pipeline, out_dir: str | Path, batch: EventBatch,
                  repeats: int = 5) -> dict:
    """Parity (``parity``) and one-thread speed (``compare_speed``) of every stage exported
    in ``out_dir`` on the stage graphs of ``batch``, all on one thread."""
    pipeline = _pipeline(folder_or_pipeline)
    result: dict[str, dict] = {"parity": {}, "timings": {}}
    with single_thread():  # all of it: numba's idle OpenMP workers spin after a parallel kernel
        graphs = stage_graphs(pipeline, batch)
        for name, stage in pipeline.stages.items():
            session = onnx_session(Path(out_dir) / f"{name}.onnx")
            result["parity"][name] = parity(stage, session, graphs[name])
            result["timings"][name] = compare_speed(stage, session, graphs[name], repeats)
    return result
