import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from graphreco import detectors
from graphreco.artifacts import ArtifactError
from graphreco.cli import EXIT_BAD_INPUT, EXIT_USAGE, main
from graphreco.detectors.baikal_gvd.simulation import simulate_events
from graphreco.evaluate.resolution import angular_error
from graphreco.io import event_table, read_events, write_events
from graphreco.io.configuration import default_configuration
from graphreco.pipeline import Pipeline, _chunks

from .measured_run import MeasuredRun, measured_run


@pytest.fixture(scope="module")
def events_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("reco") / "events.parquet"
    write_events(path, event_table(**simulate_events(300, seed=21).columns()), "baikal-gvd")
    return path


def test_shipped_pipeline_scores_hits_and_events_better_than_chance(events_file):
    pipeline = Pipeline.shipped("baikal-gvd")
    assert list(pipeline.stages) == ["hit_selection", "background_suppression", "energy_direction", "refit",
                                     "posterior"]
    batch = next(read_events(events_file))
    timings = {}
    hit_columns, event_columns = pipeline.reconstruct(batch, timings)
    assert set(timings) == {"graph", *pipeline.running}  # the posterior runs only when asked for samples
    score, signal = hit_columns["hit_score"], batch.hits["true_label"] > 0
    assert score.shape == (batch.n_hits,) and np.all((score >= 0) & (score <= 1))
    assert score[signal].mean() > 0.8 and score[~signal].mean() < 0.2
    kind = batch.events["true_kind"].astype(str)
    assert (event_columns["event_score"][kind == "numu_cc"].mean()
            > event_columns["event_score"][kind == "eas"].mean() + 0.5)
    numu = kind == "numu_cc"
    error = angular_error({name: batch.events[name][numu] for name in ("true_zenith", "true_azimuth")},
                          {name: event_columns[name][numu] for name in ("reco_zenith", "reco_azimuth")})
    assert np.degrees(np.median(error)) < 10
    energy_error = event_columns["reco_log10_energy"] - np.log10(batch.events["true_energy"])
    assert np.median(np.abs(energy_error)) < 0.5


def test_a_stage_reading_what_no_earlier_stage_writes_is_refused(tmp_path):
    folder = tmp_path / "pipeline"
    shutil.copytree(Path(detectors.__file__).parent / "baikal_gvd" / "artifacts", folder)
    (folder / "pipeline.json").write_text(json.dumps({"detector": "baikal-gvd", "stages": ["energy_direction"]}))
    with pytest.raises(ArtifactError, match="reads .*'hit_score'.*, which no stage before it writes"):
        Pipeline.load(folder)


def test_reconstruct_command_writes_scores_and_kept_columns(events_file, tmp_path, capsys):
    out = tmp_path / "out.parquet"
    assert main(["reconstruct", str(events_file), "-o", str(out), "--detector", "baikal-gvd",
                 "--keep-columns", "true_kind", "--json", "-"]) == 0
    summary = json.loads(capsys.readouterr().out)
    table = pq.read_table(out)
    assert summary["events"] == 300
    assert table.column_names == ["event_id", "hit_score", "hit_track_score", "event_score", "reco_log10_energy",
                                  "reco_log10_energy_sigma", "reco_zenith", "reco_azimuth", "reco_angle_sigma",
                                  "true_kind"]
    score = table.column("event_score").to_numpy()
    assert np.all((score >= 0) & (score <= 1))
    source = pq.read_table(events_file)
    assert [len(v) for v in table.column("hit_score").to_pylist()] == [len(v) for v in source.column("t").to_pylist()]


def test_many_inputs_go_to_a_directory(events_file, tmp_path, capsys):
    second = tmp_path / "second.parquet"
    shutil.copy(events_file, second)
    assert main(["reconstruct", str(events_file), str(second), "-o", str(tmp_path / "out") + "/",
                 "--detector", "baikal-gvd"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["events.parquet", "second.parquet"]


def test_missing_kept_column_fails_cleanly_and_leaves_no_file(events_file, tmp_path, capsys):
    out = tmp_path / "out.parquet"
    assert main(["reconstruct", str(events_file), "-o", str(out), "--detector", "baikal-gvd",
                 "--keep-columns", "run_number"]) == EXIT_BAD_INPUT
    assert "run_number" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_tampered_weights_are_refused(tmp_path):
    folder = tmp_path / "pipeline"
    shutil.copytree(Path(detectors.__file__).parent / "baikal_gvd" / "artifacts", folder)
    weights = folder / "hit_selection" / "weights.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="does not match the checksum"):
        Pipeline.load(folder)


def test_detector_without_a_shipped_pipeline_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(detectors, "__file__", str(tmp_path / "__init__.py"))  # a package with no artifacts
    with pytest.raises(ArtifactError, match="no trained pipeline is shipped for 'ta-sd'"):
        Pipeline.shipped("ta-sd")


def test_an_input_without_events_gives_an_output_without_events(tmp_path, capsys):
    empty = tmp_path / "empty.parquet"
    write_events(empty, event_table(np.empty(0, dtype=np.int64), np.zeros(1, dtype=np.int64),
                                    {c: np.empty(0, dtype=np.float32) for c in ("x", "y", "z", "t", "charge")}),
                 "baikal-gvd")
    assert main(["reconstruct", str(empty), "-o", str(tmp_path / "out.parquet"), "--detector", "baikal-gvd"]) == 0
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 0


def test_chunks_bound_events_and_hits():
    offsets = np.array([0, 5, 10, 30, 31, 32])
    assert list(_chunks(offsets, 2, 12)) == [(0, 2), (2, 3), (3, 5)]  # the 20-hit event alone
    assert list(_chunks(offsets, 1, 1000)) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    assert list(_chunks(np.array([0]), 2, 12)) == [(0, 0)]


class _Payload:
    """What a malicious weights.pt would hold: a pickle that calls a function on load."""

    def __reduce__(self):
        return (print, ("code ran while loading weights",))


def _replace_weights(folder: Path, stage: str, write) -> None:
    """Write ``folder/stage/weights.pt`` with ``write(path)`` and recompute its checksum, as
    anyone who can edit the folder can."""
    weights, config_path = folder / stage / "weights.pt", folder / stage / "config.json"
    write(weights)
    config = json.loads(config_path.read_text())
    config["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    config_path.write_text(json.dumps(config))


@pytest.mark.parametrize("write", [lambda path: torch.save({"weights": _Payload()}, path),
                                   lambda path: path.write_bytes(b"PK\x03\x04 truncated")],
                         ids=["malicious", "malformed"])
def test_weights_that_are_not_plain_tensors_are_bad_input_without_torchs_advice(write, tmp_path, capsys):
    folder = tmp_path / "pipeline"
    shutil.copytree(Path(detectors.__file__).parent / "baikal_gvd" / "artifacts", folder)
    _replace_weights(folder, "hit_selection", write)
    assert main(["reconstruct", str(tmp_path / "x.parquet"), "-o", str(tmp_path / "y.parquet"),
                 "--pipeline", str(folder)]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert "not a state dict of plain tensors" in captured.err and "weights_only" not in captured.err
    assert "code ran" not in captured.out


@pytest.mark.parametrize("keep", ["event_id", "hit_score", "true_kind,true_kind"])
def test_kept_columns_that_would_repeat_a_name_are_refused(keep, events_file, tmp_path, capsys):
    """The output had two columns of one name, the run exited 0, and a rerun called it complete."""
    out = tmp_path / "out.parquet"
    assert main(["reconstruct", str(events_file), "-o", str(out), "--detector", "baikal-gvd",
                 "--keep-columns", keep]) == EXIT_USAGE
    assert "each output column needs its own name" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_a_detector_name_is_never_a_path(tmp_path):
    """``Pipeline.shipped("/abs/dir")`` loaded ``/abs/dir/artifacts``."""
    shutil.copytree(Path(detectors.__file__).parent / "baikal_gvd" / "artifacts", tmp_path / "artifacts")
    with pytest.raises(ValueError, match="unknown detector"):
        Pipeline.shipped(str(tmp_path))


def _shipped_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "pipeline"
    shutil.copytree(Path(detectors.__file__).parent / "baikal_gvd" / "artifacts", folder)
    return folder


def test_weights_changed_with_their_checksum_are_refused_by_a_pinned_sha256(events_file, tmp_path, capsys):
    folder = _shipped_copy(tmp_path)
    pinned = Pipeline.load(folder).sha256()
    assert pinned == Pipeline.shipped("baikal-gvd").sha256()

    def scaled(path):
        state = torch.load(path, weights_only=True)
        torch.save({key: tensor * 1.01 if tensor.is_floating_point() else tensor for key, tensor in state.items()},
                   path)

    _replace_weights(folder, "hit_selection", scaled)
    Pipeline.load(folder)  # the checksum beside the weights only catches accidents
    with pytest.raises(ArtifactError, match=f"not the pinned {pinned}"):
        Pipeline.load(folder, sha256=pinned)
    out = tmp_path / "out.parquet"
    assert main(["reconstruct", str(events_file), "-o", str(out), "--pipeline", str(folder),
                 "--pipeline-sha256", pinned.upper()]) == EXIT_BAD_INPUT
    assert "not the pinned" in capsys.readouterr().err and not out.exists()


def test_non_finite_weights_are_refused(tmp_path):
    folder = _shipped_copy(tmp_path)

    def poisoned(path):
        state = torch.load(path, weights_only=True)
        key = next(key for key, tensor in state.items() if tensor.is_floating_point())
        state[key] = torch.full_like(state[key], float("nan"))
        torch.save(state, path)

    _replace_weights(folder, "hit_selection", poisoned)
    with pytest.raises(ArtifactError, match="holds NaN or inf"):
        Pipeline.load(folder)


@pytest.mark.parametrize("stages", [[], ["../hit_selection"]])
def test_a_pipeline_without_stages_or_with_unknown_ones_is_refused(stages, tmp_path):
    folder = _shipped_copy(tmp_path)
    (folder / "pipeline.json").write_text(json.dumps({"detector": "baikal-gvd", "stages": stages}))
    with pytest.raises(ArtifactError, match="lists no stages" if not stages else "unknown stages"):
        Pipeline.load(folder)


def test_a_pipeline_of_an_unknown_detector_is_a_bad_artifact(tmp_path):
    """It exited 4 ("internal") with the registry's ValueError; an artifact is input."""
    folder = _shipped_copy(tmp_path)
    (folder / "pipeline.json").write_text(json.dumps({"detector": "icecube", "stages": ["hit_selection"]}))
    with pytest.raises(ArtifactError, match="unknown detector 'icecube'"):
        Pipeline.load(folder)


@pytest.mark.parametrize("wrong", ["float64", "per hit"])
def test_a_stage_writing_other_columns_than_its_declared_ones_is_refused(wrong, events_file, monkeypatch):
    """The output schema comes from the stages' declarations (``Pipeline.output_schema``):
    a stage writing a column of another type, or per hit where it declared per event,
    would make outputs of one pipeline disagree."""
    pipeline = Pipeline.shipped("baikal-gvd")
    stage = pipeline.stages["background_suppression"]
    declared = stage.outputs

    def outputs(inputs):
        hits, events = declared(inputs)
        if wrong == "per hit":
            return {"event_score": inputs.hit_columns["hit_score"]}, {}
        return hits, {"event_score": events["event_score"].astype(np.float64)}

    monkeypatch.setattr(stage, "outputs", outputs)
    with pytest.raises(ArtifactError, match="background_suppression"):
        pipeline.reconstruct(next(read_events(events_file, batch_size=20)))


HITS_AT_ONE_MODULE = 10_000
ONE_MODULE_EVENTS = 3


def _one_module_events(path: Path, events: int, n: int, distinct_times: bool) -> Path:
    """``events`` Baikal-GVD events of ``n`` hits each on the first module of the layout,
    10 p.e. each, at one time or 0.5 ns apart (one 5 us readout window)."""
    module = default_configuration(detectors.get("baikal-gvd")).position[0].astype(np.float32)
    t = np.tile(np.arange(n, dtype=np.float32) * np.float32(0.5) if distinct_times else np.zeros(n, np.float32), events)
    hits = {name: np.full(n * events, value, dtype=np.float32)
            for name, value in zip(("x", "y", "z", "charge"), (*module, 10.0))} | {"t": t}
    write_events(path, event_table(np.arange(events), np.arange(events + 1) * n, hits), "baikal-gvd")
    return path


def _reconstruct(path: Path, output: Path) -> MeasuredRun:
    """``graphreco reconstruct`` of ``path`` as a user runs it, in a process of its own."""
    return measured_run(["reconstruct", str(path), "-o", str(output), "--detector", "baikal-gvd", "--workers", "1",
                         "--no-progress"], timeout=300)


def test_three_events_of_10000_copies_of_one_hit_are_refused_in_under_a_minute_and_2_gb(tmp_path):
    """Coincident hits (all on one module at one time) linked every pair of hits: 33 s and
    4.5 GB for one event, 10 GB exhausted by three, and 60 copies of one hit were scored
    signal with certainty. Copies of a hit are no measurement: bad input, refused by the
    reader before any graph is built."""
    source = _one_module_events(tmp_path / "one_point.parquet", ONE_MODULE_EVENTS, HITS_AT_ONE_MODULE, False)
    finished = _reconstruct(source, tmp_path / "out.parquet")
    assert finished.code == EXIT_BAD_INPUT, finished.stderr
    assert f"graphreco: error: {source}, column 't', event_id 0: duplicate hit" in finished.stderr
    assert finished.seconds < 60 and finished.peak_gb < 2.0, finished
    assert not (tmp_path / "out.parquet").exists()


def test_three_events_of_10000_hits_at_one_module_take_under_a_minute_and_2_gb(tmp_path):
    """The same events with the hits 0.5 ns apart are valid, however unlikely, and are
    reconstructed in bounded time and memory. Measured once a first run on the machine
    has compiled the kernels, on an event of the same kind."""
    source = _one_module_events(tmp_path / "one_module.parquet", ONE_MODULE_EVENTS, HITS_AT_ONE_MODULE, True)
    warm_up = _one_module_events(tmp_path / "warm_up.parquet", 1, 2000, True)
    assert _reconstruct(warm_up, tmp_path / "warm.parquet").code == 0
    finished = _reconstruct(source, tmp_path / "out.parquet")
    assert finished.code == 0, finished.stderr
    assert finished.seconds < 60 and finished.peak_gb < 2.0, finished
    assert pq.read_table(tmp_path / "out.parquet").num_rows == ONE_MODULE_EVENTS
