"""Composition (proton / iron / photon) on air showers: outputs, truth, learning, export."""

import numpy as np
import pytest
import torch

from graphreco import detectors
from graphreco.detectors.ta_sd.simulation import simulate_events
from graphreco.graph import build_graph
from graphreco.io import EventBatch, EventFormatError
from graphreco.stages import StageInput
from graphreco.stages.composition import Composition

TA = detectors.get("ta-sd")


@pytest.fixture(scope="module")
def showers() -> EventBatch:
    simulated = simulate_events(60, seed=41)
    return EventBatch("ta-sd", "showers.parquet", simulated.event_id, simulated.offsets, simulated.hits,
                      simulated.events, None)


def stage() -> Composition:
    torch.manual_seed(0)
    return Composition(len(TA.feature_names), TA.relative_features, hidden=16, layers=2,
                       classes={name: [pdg] for name, pdg in TA.primaries})


def inputs_of(batch: EventBatch) -> StageInput:
    inputs = StageInput(batch, TA, build_graph(batch, TA))
    inputs.hit_columns["hit_score"] = (batch.hits["true_label"] > 0).astype(np.float32)  # a perfect selection
    return inputs


def test_writes_one_probability_per_class_summing_to_one(showers):
    model = stage().eval()
    with torch.inference_mode():
        hits, events = model.outputs(inputs_of(showers))
    assert model.reads == ("hit_score",) and not hits
    assert tuple(events) == model.writes == ("reco_p_proton", "reco_p_iron", "reco_p_photon")
    total = sum(events.values())
    np.testing.assert_allclose(total, 1.0, rtol=1e-5)
    assert total.shape == (showers.n_events,)


def test_learns_the_primaries_of_a_sample(showers):
    model = stage()
    graph = model.training_graph(inputs_of(showers))
    assert sorted(np.unique(graph.graph.targets["primary_class"].numpy())) == [0, 1, 2]
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-2)
    first = model.training_loss(graph).item()
    for _ in range(25):
        optimiser.zero_grad()
        loss = model.training_loss(graph)
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.7 * first  # it can fit the sample it sees


def test_a_primary_outside_the_classes_is_named(showers):
    events = dict(showers.events, true_primary=showers.events["true_primary"].copy())
    events["true_primary"][3] = 1000080160  # oxygen
    batch = EventBatch("ta-sd", "showers.parquet", showers.event_id, showers.offsets, showers.hits, events, None)
    with pytest.raises(EventFormatError, match=f"true_primary.*event_id {batch.event_id[3]}.*none of the classes"):
        stage().training_graph(inputs_of(batch))


def test_exports_to_onnx_with_the_score_column(showers, tmp_path):
    pytest.importorskip("onnxruntime")
    from graphreco.export import export_stage, onnx_session, parity

    model = stage().eval()
    graph = model.input_graph(inputs_of(showers)).graph
    assert graph.x.shape[1] == len(TA.feature_names) + 1
    session = onnx_session(export_stage(model, tmp_path / "composition.onnx", graph))
    figures = parity(model, session, graph)
    assert figures["max_abs_diff"] <= 1e-5 and figures["max_abs_value"] > 0
