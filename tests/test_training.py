import json

import pytest
import torch

from graphreco import detectors
from graphreco.detectors.baikal_gvd.simulation import simulate_events
from graphreco.io import EventFormatError, event_table, write_events
from graphreco.stages import HitSelection
from graphreco.train.domain import GradientReversal, reversal_weight
from graphreco.train.loop import TrainConfig, load_graphs, train


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    path = tmp_path_factory.mktemp("train") / "sim.parquet"
    events = simulate_events(240, seed=9, mix={"numu_cc": 1.0, "eas": 1.0})
    write_events(path, event_table(**events.columns()), "baikal-gvd")
    loaded = load_graphs(path, 40, model())
    return loaded[:4], loaded[4:]


def model():
    torch.manual_seed(0)
    detector = detectors.get("baikal-gvd")
    return HitSelection(len(detector.feature_names), detector.relative_features, hidden=16, layers=2)


def test_training_lowers_the_validation_loss_and_keeps_the_best(graphs, tmp_path):
    train_graphs, val_graphs = graphs
    net = model()
    history = train(net, train_graphs, val_graphs, TrainConfig(epochs=4, batch_events=40), tmp_path,
                    log=lambda line: None)
    losses = [entry["val_loss"] for entry in history["history"]]
    assert losses[-1] < losses[0] and history["best_loss"] == min(losses)
    assert (tmp_path / "best.pt").exists() and (tmp_path / "last.pt").exists()


def test_a_run_resumes_from_its_last_checkpoint_with_the_same_settings_only(graphs, tmp_path):
    train_graphs, val_graphs = graphs
    lines = []

    def stop_after_two(line):
        lines.append(line)
        if json.loads(line)["epoch"] == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        train(model(), train_graphs, val_graphs, TrainConfig(epochs=3), tmp_path, log=stop_after_two)
    with pytest.raises(ValueError, match="other training settings"):
        train(model(), train_graphs, val_graphs, TrainConfig(epochs=5), tmp_path, log=lines.append)
    resumed = train(model(), train_graphs, val_graphs, TrainConfig(epochs=3), tmp_path, log=lines.append)
    assert "resumed at epoch 2" in lines and [e["epoch"] for e in resumed["history"]] == [1, 2, 3]
    assert json.loads(lines[-1])["epoch"] == 3


def test_unknown_training_settings_are_rejected():
    with pytest.raises(ValueError, match="unknown training settings \\['epoch'\\]"):
        TrainConfig.from_mapping({"epoch": 3})


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(graphs, tmp_path):
    train_graphs, val_graphs = graphs
    config = TrainConfig(epochs=3, batch_events=40)
    straight = model()
    train(straight, train_graphs, val_graphs, config, tmp_path / "straight", log=lambda line: None)

    def crash_after_first_epoch(line):
        if json.loads(line)["epoch"] == 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        train(model(), train_graphs, val_graphs, config, tmp_path / "split", log=crash_after_first_epoch)
    resumed = model()
    train(resumed, train_graphs, val_graphs, config, tmp_path / "split", log=lambda line: None)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_gradient_reversal_flips_and_scales_the_gradient():
    values = torch.ones(3, requires_grad=True)
    (GradientReversal.apply(values, 0.5) * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    torch.testing.assert_close(values.grad, torch.tensor([-0.5, -1.0, -1.5]))
    assert reversal_weight(0.0, 0.3) == 0.0 and reversal_weight(1.0, 0.3) == pytest.approx(0.3, rel=1e-4)


def test_domain_adversarial_training_runs_saves_its_critic_and_resumes(graphs, tmp_path):
    train_graphs, val_graphs = graphs
    config = TrainConfig(epochs=2, batch_events=40, domain_weight=0.5)
    with pytest.raises(ValueError, match="unlabelled target events"):
        train(model(), train_graphs, val_graphs, config, tmp_path / "none", log=lambda line: None)

    def stop_after_one(line):
        raise Interrupted

    with pytest.raises(Interrupted):
        train(model(), train_graphs, val_graphs, config, tmp_path, log=stop_after_one, target_graphs=val_graphs)
    assert "critic" in torch.load(tmp_path / "last.pt", weights_only=True)
    history = train(model(), train_graphs, val_graphs, config, tmp_path, log=lambda line: None,
                    target_graphs=val_graphs)
    assert [entry["epoch"] for entry in history["history"]] == [1, 2]


def test_labels_outside_the_stage_classes_are_refused_naming_the_event(tmp_path):
    events = simulate_events(30, seed=4, mix={"numu_cc": 1.0})
    events.hits["true_label"][events.offsets[3]] = 5  # first hit of the fourth event
    path = tmp_path / "labels.parquet"
    write_events(path, event_table(**events.columns()), "baikal-gvd")
    with pytest.raises(EventFormatError, match=f"column 'true_label', event_id {events.event_id[3]}: training needs"):
        load_graphs(path, 40, model())
