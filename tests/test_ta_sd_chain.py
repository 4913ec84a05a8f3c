"""The Telescope Array SD chain end to end: train small stages with `graphreco train`,
reconstruct with the core head, the refitted direction and the combined core, evaluate
beside the standard fit."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from graphreco.cli import main

SMALL = {"training": {"epochs": 1, "batch_events": 64}}
STAGES = {"hit_selection": {"n_classes": 2, "hidden": 8, "layers": 1},
          "energy_direction": {"hidden": 8, "layers": 1, "min_hits": 3, "core": True, "event_features": 4},
          "refit": {"min_hits": 3, "fit_columns": True},
          "combination": {"min_hits": 3, "core": True}}


@pytest.fixture(scope="module")
def sample(training_folder):
    return training_folder("ta-sd", 300, seeds=(21, 22))


def test_trained_chain_writes_core_and_refitted_direction_and_is_evaluated(sample, capsys):
    config = sample / "config.json"
    files = {"train": ["train.parquet"], "validation": ["validation.parquet"]}
    config.write_text(json.dumps({"detector": "ta-sd", "pipeline": "pipe", "stages": list(STAGES),
                                  "train": {name: {**files, **SMALL, "model": model}
                                            for name, model in STAGES.items()}}))  # refit, combination: no training
    assert main(["train", str(config), "--json", "-"]) == 0
    trained = json.loads(capsys.readouterr().out)["trained"]
    refit = trained["refit"]["calibration"]
    assert refit["refitted_events"] > 0.9 * refit["events"]
    assert len(trained["energy_direction"]["calibration"]["core_scale"]) == 3
    assert len(trained["combination"]["calibration"]["core_scale"]) == 3
    reco = sample / "reco.parquet"
    assert main(["reconstruct", str(sample / "validation.parquet"), "-o", str(reco), "--pipeline",
                 str(sample / "pipe")]) == 0
    table = pq.read_table(reco)
    for name in ("reco_core_x", "reco_core_y", "reco_core_sigma", "reco_zenith", "reco_log10_energy"):
        assert np.isfinite(table[name].to_numpy()).mean() > 0.95, name
    capsys.readouterr()
    assert main(["evaluate", str(sample / "validation.parquet"), str(reco), "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    methods = report["methods"]
    assert set(methods) == {"gnn", "baseline"} and 60 <= report["selection"]["selected"] <= 140  # 95 pass the cuts
    assert all(methods[method]["all"][quantity]["reconstructed_fraction"] == 1.0
               for method in methods for quantity in ("direction", "energy", "core"))
    standard = methods["baseline"]["all"]
    assert 0.7 <= standard["direction"]["q68_deg"] <= 1.6  # docs/ta-sd.md: 1.13 deg on 6,060 test showers
    assert 0.09 <= standard["energy"]["resolution_log10"] <= 0.2  # docs: 0.137
    assert 60 <= standard["core"]["q68_m"] <= 160  # docs: 99 m
    gnn = methods["gnn"]["all"]
    assert gnn["direction"]["median_deg"] < 20  # the refit, started from an untrained direction, converges mostly
    for quantity, coverage in (("direction", "coverage_68_cone"), ("energy", "coverage_1_sigma"),
                               ("core", "coverage_68_circle")):
        assert abs(gnn[quantity][coverage] - 0.68) <= 0.12, quantity  # calibrated on this very sample
    shower = pq.read_table(sample / "validation.parquet")["true_label"].combine_chunks().flatten().to_numpy() == 1
    assert report["counters"]["counters"] == shower.size
    assert report["counters"]["shower_fraction"] == pytest.approx(shower.mean(), abs=1e-4)
    assert {"precision", "recall", "auc"} <= set(report["counters"])
