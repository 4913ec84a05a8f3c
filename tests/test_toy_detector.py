"""Adding a detector is adding a folder: the toy line (``tests/toy_line``), registered at
run time, goes through simulate, graphs, train, reconstruct, evaluate and export with no
change to the engine.
"""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from graphreco import detectors
from graphreco.cli import main
from graphreco.evaluate.metrics import precision_recall, roc_auc
from graphreco.io import event_table, read_events, write_events

from .toy_line import DETECTOR
from .toy_line.baseline import WINDOW_NS
from .toy_line.detector import NEIGHBOURS
from .toy_line.geometry import POSITIONS
from .toy_line.simulation import NOISE_RATE_KHZ, SPEED_RANGE, TIME_JITTER_NS, noise_hits_per_sensor

SAMPLES = {"train": (400, 1), "validation": (100, 2), "test": (200, 3)}
"""File name -> (events, seed)."""
TRAINING = {"model": {"n_classes": 2, "hidden": 16, "layers": 2},
            "training": {"epochs": 10, "batch_events": 50, "learning_rate": 1e-2}}


@pytest.fixture(scope="module")
def toy_line():
    """The toy line, known to the engine while this module's tests run."""
    detectors.register(DETECTOR)
    try:
        yield DETECTOR
    finally:
        detectors.unregister(DETECTOR.name)


@pytest.fixture(scope="module")
def sample(toy_line, tmp_path_factory):
    """A folder with train, validation and test event files made by the detector's simulator."""
    folder = tmp_path_factory.mktemp("toy-line")
    for name, (events, seed) in SAMPLES.items():
        simulated = toy_line.simulator.simulate(events, seed=seed)
        write_events(folder / f"{name}.parquet", event_table(**simulated.columns()), simulated.detector)
    return folder


@pytest.fixture(scope="module")
def pipeline(sample):
    """A hit-selection pipeline trained by ``graphreco train`` on the sample."""
    config = {"detector": "toy-line", "pipeline": "pipeline", "stages": ["hit_selection"],
              "train": {"hit_selection": {"train": ["train.parquet"], "validation": ["validation.parquet"],
                                          **TRAINING}}}
    (sample / "train.json").write_text(json.dumps(config))
    assert main(["train", str(sample / "train.json"), "--threads", "1"]) == 0
    return sample / "pipeline"


@pytest.fixture(scope="module")
def reconstructed(sample, pipeline):
    """The test file reconstructed by ``graphreco reconstruct`` in this process."""
    output = sample / "reco.parquet"
    assert main(["reconstruct", str(sample / "test.parquet"), "-o", str(output), "--pipeline", str(pipeline),
                 "--workers", "1", "--no-progress"]) == 0
    return output


def test_simulated_events_follow_the_particle(sample):
    (batch,) = read_events(sample / "test.parquet", batch_size=1000)
    assert batch.detector == "toy-line"
    assert batch.event_id.size == SAMPLES["test"][0]
    assert set(batch.hits) >= {"sensor", "x", "t", "true_label"}
    signal = batch.hits["true_label"] == 1
    assert 0.15 < signal.mean() < 0.5
    noise_per_event = np.count_nonzero(~signal) / batch.event_id.size
    expected_noise = POSITIONS.size * noise_hits_per_sensor(NOISE_RATE_KHZ)  # Poisson: its variance is its mean
    assert abs(noise_per_event - expected_noise) < 4 * np.sqrt(expected_noise / batch.event_id.size)
    event = np.repeat(np.arange(batch.event_id.size), np.diff(batch.offsets))[signal]
    truth = batch.events
    flight = (batch.hits["x"][signal] - truth["true_position"][event]) / truth["true_speed"][event]
    expected = truth["true_time"][event] + flight
    assert np.abs(batch.hits["t"][signal] - expected).max() < 6 * TIME_JITTER_NS
    assert np.all((truth["true_speed"] >= SPEED_RANGE[0]) & (truth["true_speed"] <= SPEED_RANGE[1]))


def test_the_time_window_cut_keeps_the_busiest_window(toy_line):
    simulated = toy_line.simulator.simulate(30, seed=5)
    score = toy_line.baseline(simulated.offsets, simulated.hits)["hit_score"]
    for start, stop in zip(simulated.offsets[:-1], simulated.offsets[1:]):
        t = simulated.hits["t"][start:stop].astype(np.float64)
        counts = [np.count_nonzero((t >= opening) & (t <= opening + WINDOW_NS)) for opening in np.sort(t)]
        opening = np.sort(t)[int(np.argmax(counts))]
        np.testing.assert_array_equal(score[start:stop], (t >= opening) & (t <= opening + WINDOW_NS))


def test_simulate_command_runs_the_detector_simulator(toy_line, tmp_path):
    output = tmp_path / "cli.parquet"
    assert main(["simulate", "toy-line", "--events", "20", "--seed", "4", "--noise-rate-khz", "100",
                 "-o", str(output)]) == 0
    direct = toy_line.simulator.simulate(20, seed=4, noise_rate_khz=100.0)
    assert pq.read_table(output).equals(event_table(**direct.columns()))


def test_detectors_command_lists_the_toy_while_registered(toy_line, capsys):
    assert main(["detectors", "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["toy-line"]["node_features"] == ["x", "t"]


def test_graphs_command_builds_the_detector_graph(sample, capsys):
    assert main(["graphs", str(sample / "test.parquet"), "--threads", "1", "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    (batch,) = read_events(sample / "test.parquet", batch_size=1000)
    sizes = np.diff(batch.offsets)
    assert (result["events"], result["hits"]) == (sizes.size, int(sizes.sum()))
    assert result["edges"] == int(np.sum(sizes * np.minimum(NEIGHBOURS, sizes - 1)))


def test_train_command_writes_a_pipeline_of_the_toy(pipeline):
    assert json.loads((pipeline / "pipeline.json").read_text()) == {"detector": "toy-line", "stages": ["hit_selection"]}
    assert (pipeline / "hit_selection").is_dir()


def test_reconstructed_hits_beat_chance_and_the_time_window_cut(sample, reconstructed):
    (batch,) = read_events(sample / "test.parquet", batch_size=1000)
    table = pq.read_table(reconstructed)
    assert table.num_rows == batch.event_id.size
    assert {"event_id", "hit_score"} <= set(table.column_names)
    np.testing.assert_array_equal(table["event_id"].to_numpy(), batch.event_id)
    score = table["hit_score"].combine_chunks().flatten().to_numpy()
    assert score.size == batch.offsets[-1]
    signal = batch.hits["true_label"] > 0
    cut = DETECTOR.baseline(batch.offsets, batch.hits)["hit_score"] >= 0.5
    cut_precision, cut_recall = precision_recall(signal, cut)
    assert cut_recall > 0.9  # the window holds nearly every signal hit, and the noise that shares it
    gnn_precision, gnn_recall = precision_recall(signal, score >= 0.5)
    assert roc_auc(signal, score) > 0.9  # chance is 0.5
    assert gnn_precision > cut_precision and gnn_recall > 0.8


def test_evaluate_command_scores_hits_beside_the_baseline(sample, reconstructed, capsys):
    assert main(["evaluate", str(sample / "test.parquet"), str(reconstructed), "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    (batch,) = read_events(sample / "test.parquet", batch_size=1000)
    score = pq.read_table(reconstructed)["hit_score"].combine_chunks().flatten().to_numpy()
    auc = roc_auc(batch.hits["true_label"] > 0, score)
    scored = _figures_with(result, {"precision", "recall"})
    assert len(scored) >= 2  # the GNN and the baseline
    assert any(abs(figures.get("auc", np.nan) - auc) < 1e-3 for figures in scored)


def test_export_command_matches_torch(sample, pipeline, tmp_path, capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    assert main(["export", "--pipeline", str(pipeline), "-o", str(tmp_path), "--events", str(sample / "test.parquet"),
                 "--repeats", "1", "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["detector"] == "toy-line"
    assert result["parity"]["hit_selection"]["max_abs_diff"] < 1e-3
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["stages"][0]["inputs"]["x"]["features"] == DETECTOR.feature_names


def _figures_with(result: object, keys: set[str]) -> list[dict]:
    """Every mapping nested in a JSON result that holds all of ``keys``."""
    if isinstance(result, dict):
        found = [result] if keys <= set(result) else []
        return found + [f for value in result.values() for f in _figures_with(value, keys)]
    if isinstance(result, list):
        return [f for value in result for f in _figures_with(value, keys)]
    return []
