import json
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest

from graphreco import detectors
from graphreco.cli import EXIT_BAD_INPUT, main
from graphreco.pipeline import Pipeline
from graphreco.train.config import upstream_of

SMALL = {"model": {"hidden": 8, "layers": 1}, "training": {"epochs": 1, "batch_events": 50}}


@pytest.fixture(scope="module")
def sample(training_folder):
    return training_folder("baikal-gvd", 150, seeds=(1, 2))


def write_config(folder, **config):
    path = folder / "config.json"
    path.write_text(json.dumps({"detector": "baikal-gvd", "pipeline": "pipe", **config}))
    return str(path)


def stage_files():
    return {"train": ["train.parquet"], "validation": ["validation.parquet"], **SMALL}


def test_train_command_trains_a_chain_that_reconstructs(sample, capsys):
    config = write_config(sample, stages=["hit_selection", "energy_direction"],
                          train={"hit_selection": stage_files(), "energy_direction": stage_files()})
    assert main(["train", config, "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["stages"] == ["hit_selection", "energy_direction"]
    calibration = result["trained"]["energy_direction"]["calibration"]
    for scale in ("angle_scale", "energy_scale"):  # factors on the networks' uncertainties, one per event class
        assert np.all((np.asarray(calibration[scale], dtype=float) > 0.01) & (np.asarray(calibration[scale]) < 100))
    out = sample / "reco.parquet"
    assert main(["reconstruct", str(sample / "validation.parquet"), "-o", str(out), "--pipeline",
                 str(sample / "pipe")]) == 0
    table = pq.read_table(out)
    assert {"hit_score", "reco_log10_energy", "reco_log10_energy_sigma", "reco_zenith", "reco_azimuth",
            "reco_angle_sigma"} <= set(table.column_names)
    assert table.num_rows == pq.read_metadata(sample / "validation.parquet").num_rows
    hit_score = table["hit_score"].combine_chunks().flatten().to_numpy()
    assert np.all((hit_score >= 0) & (hit_score <= 1))
    assert np.all((table["reco_zenith"].to_numpy() >= 0) & (table["reco_zenith"].to_numpy() <= np.pi))
    assert np.all(table["reco_angle_sigma"].to_numpy() > 0)

    # retraining one stage keeps the other's artifact and uses it upstream
    config = write_config(sample, stages=["hit_selection", "energy_direction"],
                          train={"energy_direction": stage_files()})
    capsys.readouterr()
    assert main(["train", config, "--json", "-"]) == 0
    assert list(json.loads(capsys.readouterr().out)["trained"]) == ["energy_direction"]

    # and retraining the first keeps the later one, which reads it
    config = write_config(sample, stages=["hit_selection", "energy_direction"], train={"hit_selection": stage_files()})
    assert main(["train", config, "--json", "-"]) == 0
    assert list(json.loads(capsys.readouterr().out)["trained"]) == ["hit_selection"]

    # a chain whose stage reads what nothing before it writes is refused
    config = write_config(sample, stages=["energy_direction"])
    assert main(["train", config]) == EXIT_BAD_INPUT
    assert "reads ['hit_score'], which no stage before it writes" in capsys.readouterr().err


@pytest.mark.parametrize("config, message", [
    ({"stages": ["hit_selection"], "train": {"hit_selection": {"train": ["train.parquet"]}}},
     "needs train and validation"),
    ({"stages": ["vertexing"]}, "unknown stage 'vertexing'"),
    ({"stages": ["hit_selection"], "train": {"hit_selection": {**stage_files(), "training": {"epoch": 1}}}},
     "unknown training settings"),
    ({"stages": ["hit_selection"], "train": {"hit_selection": {**stage_files(), "model": {"width": 3}}}}, "width"),
    ({"stages": ["hit_selection"], "train": {"hit_selection": {**stage_files(), "train": ["missing.parquet"]}}},
     "missing.parquet"),
])
def test_a_bad_config_is_refused_with_a_message_naming_the_problem(sample, capsys, config, message):
    assert main(["train", write_config(sample, **config)]) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


def test_upstream_holds_every_stage_needed_transitively():
    def stage(reads, writes):
        return SimpleNamespace(reads=reads, writes=writes)

    chain = Pipeline(detectors.get("baikal-gvd"), {"a": stage((), ("x",)), "b": stage(("x",), ("y",)),
                                                   "c": stage((), ("z",))})
    assert list(upstream_of(stage(("y",), ()), chain).stages) == ["a", "b"]
