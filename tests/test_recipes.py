import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from graphreco import detectors
from graphreco.cli import EXIT_BAD_INPUT, main
from graphreco.detectors.baikal_gvd.simulation import simulate_events
from graphreco.io import event_table, write_events
from graphreco.train.config import new_stage, read_config
from graphreco.train.loop import TrainConfig

SHIPPED = sorted(Path(detectors.__file__).parent.glob("*/artifacts/recipe.json"))
SMALL = {"model": {"hidden": 8, "layers": 1}, "training": {"epochs": 3, "batch_events": 50}}


def test_every_shipped_pipeline_has_a_recipe():
    pipelines = sorted(Path(detectors.__file__).parent.glob("*/artifacts/pipeline.json"))
    assert [path.parent for path in SHIPPED] == [path.parent for path in pipelines]


@pytest.mark.parametrize("recipe", SHIPPED, ids=lambda path: path.parent.parent.name)
def test_a_shipped_recipe_describes_its_pipeline(recipe):
    config = read_config(recipe)
    shipped = json.loads((recipe.parent / "pipeline.json").read_text())
    assert config["detector"] == shipped["detector"] and config["stages"] == shipped["stages"]
    assert (recipe.parent / config["pipeline"]).resolve() == recipe.parent.resolve()
    detector = detectors.get(config["detector"])
    for name, settings in config["train"].items():
        model = new_stage(name, detector, settings["model"])
        files = settings["validation"] + (settings["train"] if model.trained else [])
        assert settings["validation"] and (settings.get("train") or not model.trained)
        assert all(not Path(pattern).is_absolute() for pattern in files)
        artifact = json.loads((recipe.parent / name / "config.json").read_text())
        assert {key: artifact["model"][key] for key in settings["model"]} == settings["model"]
        assert {key: model.config[key] for key in settings["model"]} == settings["model"]
        if not model.trained:  # calibrated only
            assert "training" not in settings and "training" not in artifact
            continue
        training = asdict(TrainConfig.from_mapping(settings["training"]))
        assert {key: artifact["training"]["config"][key] for key in settings["training"]} == settings["training"]
        assert {key: training[key] for key in settings["training"]} == settings["training"]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """A recipe in one folder, its events in another (and other validation events in a third)."""
    root = tmp_path_factory.mktemp("recipes")
    for folder, name, seed in (("data", "train", 1), ("data", "validation", 2), ("other", "validation", 3)):
        (root / folder).mkdir(exist_ok=True)
        events = event_table(**simulate_events(150, seed=seed).columns())
        write_events(root / folder / f"{name}.parquet", events, "baikal-gvd")
    (root / "recipe").mkdir()
    files = {"train": ["train.parquet"], "validation": ["validation.parquet"], **SMALL}
    path = root / "recipe" / "recipe.json"
    path.write_text(json.dumps({"detector": "baikal-gvd", "pipeline": "pipe",
                                "stages": ["hit_selection", "energy_direction"],
                                "train": {"hit_selection": files, "energy_direction": files}}))
    return path


def test_data_and_out_say_where_the_events_are_and_where_the_pipeline_goes(recipe, capsys):
    root = recipe.parent.parent
    assert main(["train", str(recipe), "--data", str(root / "data"), "--out", str(root / "pipe"), "--epochs", "1",
                 "--threads", "1", "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["stages"] == ["hit_selection", "energy_direction"]
    assert json.loads((root / "pipe" / "pipeline.json").read_text())["stages"] == ["hit_selection", "energy_direction"]
    assert (root / "data" / "checkpoints" / "energy_direction" / "last.pt").exists()
    assert sorted(path.name for path in recipe.parent.iterdir()) == ["recipe.json"]
    config = json.loads((root / "pipe" / "energy_direction" / "config.json").read_text())
    assert config["training"]["config"]["epochs"] == 1
    assert config["sources"]["validation"] == [str(root / "data" / "validation.parquet")]


def test_recalibrate_refits_the_calibration_and_keeps_the_weights(recipe, capsys):
    root = recipe.parent.parent
    pipeline = root / "pipe"
    if not (pipeline / "pipeline.json").exists():
        assert main(["train", str(recipe), "--data", str(root / "data"), "--out", str(pipeline), "--epochs", "1"]) == 0
    before = json.loads((pipeline / "energy_direction" / "config.json").read_text())
    weights = torch.load(pipeline / "energy_direction" / "weights.pt", weights_only=True)
    capsys.readouterr()
    assert main(["train", str(recipe), "--data", str(root / "other"), "--out", str(pipeline), "--recalibrate",
                 "--stages", "energy_direction", "--json", "-"]) == 0
    assert list(json.loads(capsys.readouterr().out)["recalibrated"]) == ["energy_direction"]
    after = json.loads((pipeline / "energy_direction" / "config.json").read_text())
    assert after["calibration"] != before["calibration"]
    assert after["training"] == before["training"]
    recalibrated = torch.load(pipeline / "energy_direction" / "weights.pt", weights_only=True)
    assert weights.keys() == recalibrated.keys()
    assert all(torch.equal(weights[key], recalibrated[key]) for key in weights)


def test_a_stage_the_recipe_does_not_train_is_refused(recipe, capsys):
    assert main(["train", str(recipe), "--stages", "background_suppression"]) == EXIT_BAD_INPUT
    assert "cannot train 'background_suppression'" in capsys.readouterr().err
