"""The hits evaluation kind: precision, recall and AUC of hit_score, GNN beside the baseline."""

import numpy as np
import pyarrow as pa
import pytest

from graphreco import detectors
from graphreco.detectors.baikal_gvd.simulation import simulate_events
from graphreco.evaluate import hits
from graphreco.evaluate.metrics import precision_recall, roc_auc
from graphreco.io import event_table, write_events


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small neutrino sample and a reconstruction whose hit_score is the label plus noise."""
    folder = tmp_path_factory.mktemp("hits")
    simulated = simulate_events(40, seed=5, mix={"numu_cc": 1})
    write_events(folder / "truth.parquet", event_table(**simulated.columns()), "baikal-gvd")
    signal = simulated.hits["true_label"] > 0
    score = np.clip(signal + np.random.default_rng(0).normal(0.0, 0.4, signal.size), 0, 1).astype(np.float32)
    offsets = simulated.offsets
    reco = pa.table({"event_id": simulated.event_id[::-1],
                     "hit_score": [score[a:b] for a, b in zip(offsets[:-1], offsets[1:])][::-1]})
    write_events(folder / "reco.parquet", reco, "baikal-gvd")
    return folder, simulated, signal, score


def test_the_gnn_and_the_baseline_are_scored_on_the_same_hits(files, tmp_path):
    folder, simulated, signal, score = files
    report = hits.evaluate(folder / "truth.parquet", folder / "reco.parquet", plots=tmp_path)
    assert report["events"] == 40 and set(report["hits"]) == {"gnn", "baseline"}
    precision, recall = precision_recall(signal, score >= 0.5)
    gnn = report["hits"]["gnn"]
    assert {name: gnn[name] for name in ("precision", "recall", "auc")} == {
        "precision": round(precision, 5), "recall": round(recall, 5), "auc": round(roc_auc(signal, score), 5)}
    kept = int(np.sum(score >= 0.5))
    assert gnn["precision_error"] == pytest.approx(np.sqrt(precision * (1 - precision) / kept), rel=0.05)
    assert gnn["recall_error"] == pytest.approx(np.sqrt(recall * (1 - recall) / signal.sum()), rel=0.05)
    assert 0 < gnn["auc_error"] < 0.05
    baseline = detectors.get("baikal-gvd").baseline(simulated.offsets, simulated.hits)["hit_score"]
    assert report["hits"]["baseline"]["recall"] == round(precision_recall(signal, baseline >= 0.5)[1], 5)
    pytest.importorskip("matplotlib")
    assert report["plots"] == [str(tmp_path / "hits_roc.png")]
    assert (tmp_path / "hits_roc.png").read_bytes().startswith(b"\x89PNG")


def test_a_reconstruction_without_hit_scores_is_refused(files, tmp_path):
    folder, simulated, _, _ = files
    write_events(tmp_path / "reco.parquet", pa.table({"event_id": simulated.event_id}), "baikal-gvd")
    with pytest.raises(ValueError, match="hit_score"):
        hits.evaluate(folder / "truth.parquet", tmp_path / "reco.parquet")
