"""The Telescope Array SD chain end to end: train small stages with `graphreco train`,
reconstruct with the core head and the refitted direction, evaluate beside the standard fit."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from graphreco.cli import main
from graphreco.detectors.ta_sd.simulation import simulate_events
from graphreco.io import event_table, write_events

SMALL = {"training": {"epochs": 1, "batch_events": 64}}
STAGES = {"hit_selection": {"n_classes": 2, "hidden": 8, "layers": 1},
          "energy_direction": {"hidden": 8, "layers": 1, "min_hits": 3, "core": True, "refine": True,
                               "track_like": None, "event_features": 4}}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ta-sd-chain")
    for name, seed in (("train", 21), ("validation", 22)):
        write_events(folder / f"{name}.parquet", event_table(**vars(simulate_events(300, seed=seed))), "ta-sd")
    return folder


def test_trained_chain_writes_core_and_refitted_direction_and_is_evaluated(sample, capsys):
    config = sample / "config.json"
    files = {"train": ["train.parquet"], "validation": ["validation.parquet"]}
    config.write_text(json.dumps({"detector": "ta-sd", "pipeline": "pipe", "stages": list(STAGES),
                                  "train": {name: {**files, **SMALL, "model": model} for name, model in STAGES.items()}}))
    assert main(["train", str(config)]) == 0
    trained = json.loads(capsys.readouterr().out)["trained"]["energy_direction"]["calibration"]
    assert trained["refined_events"] > 0.9 * trained["events"] and len(trained["core_scale"]) == 3
    reco = sample / "reco.parquet"
    assert main(["reconstruct", str(sample / "validation.parquet"), "-o", str(reco), "--pipeline",
                 str(sample / "pipe")]) == 0
    table = pq.read_table(reco)
    for name in ("reco_core_x", "reco_core_y", "reco_core_sigma", "reco_zenith", "reco_log10_energy"):
        assert np.isfinite(table[name].to_numpy()).mean() > 0.95, name
    capsys.readouterr()
    assert main(["evaluate", str(sample / "validation.parquet"), str(reco)]) == 0
    report = json.loads(capsys.readouterr().out)
    methods = report["methods"]
    assert set(methods) == {"gnn", "baseline"} and report["selection"]["selected"] > 20
    for method in ("gnn", "baseline"):
        figures = methods[method]["all"]
        assert figures["direction"]["q68_deg"] > 0 and figures["energy"]["resolution_log10"] > 0
        assert figures["core"]["q68_m"] > 0
    assert methods["gnn"]["all"]["direction"]["reconstructed_fraction"] == 1.0
    assert {"precision", "recall", "auc"} <= set(report["counters"])
