"""Hit selection on LHC crossings: two classes, the pT-weighted loss and the jet (group) loss."""

import numpy as np
import pytest
import torch

from graphreco import detectors
from graphreco.graph import build_graph
from graphreco.io import EventBatch, EventFormatError
from graphreco.stages import StageInput
from graphreco.stages.hit_selection import HitSelection

LHC = detectors.get("lhc-pf")


def crossing_batch(pt: np.ndarray, labels: np.ndarray, jets: np.ndarray | None = None) -> EventBatch:
    n = pt.size
    rng = np.random.default_rng(0)
    hits = {"pt": pt.astype(np.float32), "eta": rng.uniform(-2, 2, n).astype(np.float32),
            "phi": rng.uniform(-3, 3, n).astype(np.float32), "energy": (2 * pt).astype(np.float32),
            "charge": np.zeros(n, np.int8), "pdg_id": np.full(n, 22, np.int32),
            "dz": np.full(n, np.nan, np.float32), "pv_assoc": np.zeros(n, np.int8),
            "true_label": labels.astype(np.int8)}
    if jets is not None:
        hits["true_jet"] = jets.astype(np.int32)
    return EventBatch("lhc-pf", "crossings.parquet", np.array([7]), np.array([0, n]), hits,
                      {"npv": np.array([40], np.int32)}, None)


def stage(**settings) -> HitSelection:
    torch.manual_seed(0)
    return HitSelection(len(LHC.feature_names), LHC.relative_features, n_classes=2, hidden=8, layers=1, **settings)


def graph_of(model: HitSelection, batch: EventBatch):
    return model.training_graph(StageInput(batch, LHC, build_graph(batch, LHC)))


def test_two_classes_write_only_the_hit_score():
    model = stage()
    batch = crossing_batch(np.array([1.0, 5.0, 0.5]), np.array([1, 0, 0]))
    with torch.inference_mode():
        hits, events = model.eval().outputs(StageInput(batch, LHC, build_graph(batch, LHC)))
    assert model.writes == ("hit_score",) and set(hits) == {"hit_score"} and not events
    assert hits["hit_score"].shape == (3,) and np.all((hits["hit_score"] > 0) & (hits["hit_score"] < 1))


def test_weighted_loss_is_the_capped_pt_weighted_mean_of_cross_entropies():
    model = stage(loss_weight_column="pt", loss_weight_cap=20.0)
    pt, labels = np.array([1.0, 50.0, 4.0]), np.array([1, 0, 1])
    stage_graph = graph_of(model, crossing_batch(pt, labels))
    graph = stage_graph.graph
    np.testing.assert_allclose(graph.targets["loss_weight"].numpy(), [1.0, 20.0, 4.0])
    per_hit = torch.nn.functional.cross_entropy(model(graph.x, graph.edge_index), graph.targets["true_label"],
                                                reduction="none").detach()
    expected = float((per_hit * torch.tensor([1.0, 20.0, 4.0])).sum() / 25.0)
    assert float(model.training_loss(stage_graph).detach()) == pytest.approx(expected, rel=1e-6)
    plain = stage()
    assert float(plain.training_loss(graph_of(plain, crossing_batch(pt, labels))).detach()) == pytest.approx(
        float(per_hit.mean()), rel=1e-6)
    assert model.config["loss_weight_column"] == "pt" and "loss_weight_column" not in plain.config


def test_negative_weights_name_the_file_column_and_event():
    model = stage(loss_weight_column="pt")
    with pytest.raises(EventFormatError, match=r"crossings.parquet.*pt.*7"):
        graph_of(model, crossing_batch(np.array([1.0, -2.0]), np.array([1, 0])))


def test_group_loss_adds_the_squared_relative_error_of_each_jets_score_weighted_pt():
    settings = {"group_loss_column": "true_jet", "group_sum_column": "pt", "group_loss_weight": 2.0}
    model = stage(**settings)
    pt, labels = np.array([10.0, 30.0, 5.0, 8.0, 2.0]), np.array([1, 1, 0, 1, 0])
    jets = np.array([0, 0, 0, 1, -1])  # jet 0: three candidates, jet 1: one, the last in none
    stage_graph = graph_of(model, crossing_batch(pt, labels, jets))
    graph = stage_graph.graph
    logits = model(graph.x, graph.edge_index).detach()
    score = 1.0 - torch.softmax(logits, dim=1)[:, 0].numpy()
    jet0 = ((score[0] - 1) * 10 + (score[1] - 1) * 30 + score[2] * 5) / 40.0
    jet1 = (score[3] - 1) * 8 / 8.0
    cross_entropy = float(torch.nn.functional.cross_entropy(logits, graph.targets["true_label"]).mean())
    expected = cross_entropy + 2.0 * (jet0 ** 2 + jet1 ** 2) / 2
    assert float(model.training_loss(stage_graph).detach()) == pytest.approx(expected, rel=1e-5)
    assert model.config["group_loss_weight"] == 2.0


def test_group_loss_needs_the_summed_column():
    with pytest.raises(ValueError, match="group_sum_column"):
        stage(group_loss_column="true_jet")
