"""ONNX export of the shipped stages: onnxruntime against torch on batches other than the
one traced on, events without hits, graphs without edges, TorchScript, the CLI."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from graphreco.artifacts import ArtifactError  # noqa: E402
from graphreco.cli import main  # noqa: E402
from graphreco.detectors.baikal_gvd.simulation import simulate_events  # noqa: E402
from graphreco.export import (
    INPUTS,
    example_graph,
    export_pipeline,
    export_stage,
    onnx_session,
    parity,
    run_onnx,
    stage_graphs,
    torch_outputs,
    torchscript_stage,
)
from graphreco.export import (  # noqa: E402
    exported as exported_as_graph,
)
from graphreco.graph import build_graph  # noqa: E402
from graphreco.io import event_table, read_events, write_events  # noqa: E402
from graphreco.pipeline import Pipeline  # noqa: E402
from graphreco.stages import StageInput  # noqa: E402
from graphreco.threads import single_thread  # noqa: E402

from .synthetic import lhc_crossings  # noqa: E402

TRACED, CHECKED = 5, 25
"""The stages are traced on the first TRACED events of a batch and checked on the CHECKED after."""


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """numba and torch on one thread: on a busy machine the idle OpenMP workers of numba's
    kernels spin and slow the torch ops after them down a hundredfold."""
    with single_thread():
        yield


@pytest.fixture(scope="module")
def baikal_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "baikal.parquet"
    write_events(path, event_table(**simulate_events(200, seed=5).columns()), "baikal-gvd")
    return path


@pytest.fixture(scope="module")
def lhc_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "lhc.parquet"
    write_events(path, event_table(**lhc_crossings(TRACED + 8)), "lhc-pf")
    return path


@pytest.fixture(scope="module", params=["baikal-gvd", "lhc-pf"])
def exported(request, tmp_path_factory):
    """(pipeline, events, folder of its export traced on the first TRACED events)."""
    try:
        pipeline = Pipeline.shipped(request.param)  # loaded afresh: the LHC artifact may be retrained
    except ArtifactError as error:
        pytest.skip(str(error))
    events_file = request.getfixturevalue("baikal_file" if request.param == "baikal-gvd" else "lhc_file")
    batch = next(read_events(events_file))
    folder = tmp_path_factory.mktemp(request.param)
    export_pipeline(pipeline, folder, example=batch.slice(0, TRACED))
    return pipeline, batch, folder


def checked_events(batch):
    return batch.slice(TRACED, min(TRACED + CHECKED, batch.n_events))


def networks(pipeline: Pipeline) -> dict:
    """The stages with a graph network, which the export writes as ONNX with the graph inputs."""
    return {name: stage for name, stage in pipeline.stages.items() if exported_as_graph(stage)}


def test_the_posterior_conditioner_is_exported_and_matches_torch(exported):
    pipeline, batch, folder = exported
    if "posterior" not in pipeline.stages:
        pytest.skip("no posterior stage in this pipeline")
    stage = pipeline.stages["posterior"]
    entry = next(s for s in json.loads((folder / "manifest.json").read_text())["stages"] if s["stage"] == "posterior")
    assert entry["files"] == {"onnx": "posterior.onnx"} and entry["parity_max_abs_diff"] <= 1e-4
    inputs = StageInput(batch, pipeline.detector, build_graph(batch, pipeline.detector))
    pipeline.run(inputs)  # no samples asked for: every stage but the posterior
    event_x = stage.input_graph(inputs).graph.event_x
    (output,) = onnx_session(folder / "posterior.onnx").run(None, {"event_x": event_x.numpy()})
    with torch.no_grad():
        assert np.abs(output - stage(None, None, None, event_x).numpy()).max() <= 1e-4


def test_onnxruntime_matches_torch_on_another_batch(exported):
    pipeline, batch, folder = exported
    traced, checked = stage_graphs(pipeline, batch.slice(0, TRACED)), stage_graphs(pipeline, checked_events(batch))
    for name, stage in networks(pipeline).items():
        assert checked[name].x.shape[0] != traced[name].x.shape[0]  # other nodes, edges, events
        assert checked[name].num_graphs != traced[name].num_graphs
        found = parity(stage, onnx_session(folder / f"{name}.onnx"), checked[name])
        assert found["max_scaled_diff"] <= 1e-5, (name, found)  # the pure-torch path the graph reproduces
        assert found["max_scaled_diff_fused"] <= 1e-4, (name, found)  # the fused kernel sums in another order


def test_the_manifest_and_the_files_name_inputs_outputs_and_what_stays_outside(exported):
    pipeline, _, folder = exported
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["detector"] == pipeline.detector.name and manifest["opset"] >= 17
    assert [entry["stage"] for entry in manifest["stages"]] == list(pipeline.stages)
    for entry, stage in zip(manifest["stages"], pipeline.stages.values()):
        if not stage.trained:  # post-processing without a network: described, not exported
            assert entry["files"] == {} and "no network" in entry["outside_onnx"][0]
            assert entry["reads"] == list(stage.reads) and entry["writes"] == list(stage.writes)
            continue
        if not stage.encodes_graph:  # the posterior's conditioner: per-event inputs alone
            assert list(entry["inputs"]) == ["event_x"] and entry["outside_onnx"]
            continue
        session = onnx_session(folder / entry["files"]["onnx"])
        inputs = {value.name: value for value in session.get_inputs()}
        assert list(inputs) == list(INPUTS)
        assert inputs["x"].shape == ["nodes", stage.config["n_features"]] and inputs["x"].type == "tensor(float)"
        assert inputs["edge_index"].shape == [2, "edges"] and inputs["batch"].shape == ["nodes"]
        (output,) = session.get_outputs()
        assert [output.name] == list(entry["outputs"]) and output.shape == entry["outputs"][output.name]["shape"]
        assert entry["outside_onnx"] and entry["inputs"]["x"]["features"] == pipeline.detector.feature_names
    if "energy_direction" in pipeline.stages:
        entry = next(entry for entry in manifest["stages"] if entry["stage"] == "energy_direction")
        outside = " ".join(entry["outside_onnx"])
        assert "angle_scale" in outside and "hit_score >= threshold" in outside


def test_events_without_hits_and_graphs_without_edges(exported):
    pipeline, batch, folder = exported
    checked = checked_events(batch)
    keep = np.ones(checked.n_hits, dtype=bool)
    for event in (1, checked.n_events - 1):  # one inside the batch, one at its end
        keep[checked.offsets[event]:checked.offsets[event + 1]] = False
    emptied = checked.with_hits(keep)
    graphs = stage_graphs(pipeline, emptied)
    for name, stage in networks(pipeline).items():
        session, graph = onnx_session(folder / f"{name}.onnx"), graphs[name]
        assert parity(stage, session, graph)["max_scaled_diff"] <= 1e-5
        output = run_onnx(session, graph)
        assert output.shape == torch_outputs(stage, graph).shape
        if stage.export_spec.axis == "events":  # the inner empty event has its row, the last one NaN
            assert np.all(np.isnan(output[-1])) and np.all(np.isfinite(output[:-1]))
        graph = replace(graph, edge_index=graph.edge_index[:, :0])
        assert parity(stage, session, graph)["max_scaled_diff"] <= 1e-5
        nothing = build_graph(emptied.slice(1, 2), pipeline.detector)  # one event, no hits
        assert run_onnx(session, nothing).shape == torch_outputs(stage, nothing).shape


def test_tracing_needs_an_example_with_edges(exported):
    pipeline, _, folder = exported
    stage = next(iter(pipeline.stages.values()))
    example = example_graph(stage.config["n_features"])
    example = replace(example, edge_index=example.edge_index[:, :0])
    with pytest.raises(ValueError, match="no edges"):
        export_stage(stage, folder / "refused.onnx", example)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_modules_match_the_onnx_graphs(exported, tmp_path):
    pipeline, batch, folder = exported
    graphs = stage_graphs(pipeline, checked_events(batch))
    traced = stage_graphs(pipeline, batch.slice(0, TRACED))
    for name, stage in networks(pipeline).items():
        torchscript_stage(stage, traced[name]).save(str(tmp_path / f"{name}.pt"))
        module, graph = torch.jit.load(str(tmp_path / f"{name}.pt")), graphs[name]
        with torch.no_grad():
            scripted = module(graph.x, graph.edge_index, graph.batch).numpy()
        onnx = run_onnx(onnx_session(folder / f"{name}.onnx"), graph)[:scripted.shape[0]]
        assert (np.abs(scripted - onnx) / np.maximum(1.0, np.abs(onnx))).max() <= 1e-5


def test_the_export_command_prints_files_parity_and_timings(baikal_file, tmp_path, capsys):
    assert main(["export", "--detector", "baikal-gvd", "-o", str(tmp_path / "onnx"), "--events", str(baikal_file),
                 "--batch-events", "20", "--repeats", "1", "--torchscript", "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    stages = ["hit_selection", "background_suppression", "energy_direction"]
    assert all((tmp_path / "onnx" / f"{name}.{kind}").exists()
               for name in stages for kind in ("onnx", "torchscript.pt"))
    assert list(report["parity"]) == stages and all(p["max_scaled_diff"] <= 1e-5 for p in report["parity"].values())
    assert all(t["events"] == 20 and t["events_per_s"]["onnxruntime"] > 0 for t in report["timings"].values())


def test_the_air_shower_chain_exports_with_the_probabilities_its_energy_step_reads(tmp_path, capsys):
    """TA SD's stages after the composition read its event columns: the parity check
    builds each graph after running the stages before it; the refit and the combination
    have no network and are described, not exported."""
    from graphreco.detectors.ta_sd.simulation import simulate_events as simulate_showers

    path = tmp_path / "showers.parquet"
    write_events(path, event_table(**simulate_showers(60, seed=5).columns()), "ta-sd")
    assert main(["export", "--detector", "ta-sd", "-o", str(tmp_path / "onnx"), "--events", str(path),
                 "--batch-events", "30", "--repeats", "1", "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["parity"]) == ["hit_selection", "composition", "energy_direction"]
    assert all(p["max_scaled_diff_fused"] <= 1e-5 for p in report["parity"].values())


def test_energy_stage_with_core_and_event_features_exports_with_an_event_input(tmp_path):
    from graphreco.stages import EnergyDirection

    torch.manual_seed(3)
    stage = EnergyDirection(5, (0, 1, 2, 3), hidden=8, layers=1, core=True, event_features=2).eval()
    graph = example_graph(5, n_event_inputs=3)
    path = export_stage(stage, tmp_path / "energy_direction.onnx", graph)
    session = onnx_session(path)
    assert [value.name for value in session.get_inputs()] == [*INPUTS, "event_x"]
    figures = parity(stage, session, graph)
    assert figures["max_abs_diff"] <= 1e-5 and figures["max_abs_value"] > 0
    assert run_onnx(session, graph).shape == (2, 8)
    scripted = torchscript_stage(stage, graph)
    np.testing.assert_allclose(scripted(graph.x, graph.edge_index, graph.batch, graph.event_x).detach().numpy(),
                               run_onnx(session, graph), atol=1e-5)
