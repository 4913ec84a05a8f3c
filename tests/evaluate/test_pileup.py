"""graphreco evaluate on LHC crossings: the GNN's scores beside CHS, SoftKiller and PUPPI."""

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from graphreco.cli import EXIT_BAD_INPUT, main
from graphreco.io import event_table, write_events

from ..synthetic import lhc_crossings

pytest.importorskip("fastjet")


def synthetic_crossings(n_events: int) -> dict:
    """Crossings of 300-400 candidates: pile-up spread evenly, a hard 5-candidate jet each."""
    return lhc_crossings(n_events, candidates=(300, 400))


def test_evaluate_scores_every_method_on_the_same_crossings(tmp_path, capsys):
    crossings = synthetic_crossings(6)
    write_events(tmp_path / "truth.parquet", event_table(**crossings), "lhc-pf")
    offsets, label = crossings["offsets"], crossings["hits"]["true_label"]
    scores = [label[a:b].astype(np.float32) for a, b in zip(offsets[:-1], offsets[1:])]
    reco = pa.table({"event_id": crossings["event_id"][::-1], "hit_score": scores[::-1]})  # any row order
    write_events(tmp_path / "reco.parquet", reco, "lhc-pf")
    assert main(["evaluate", str(tmp_path / "truth.parquet"), str(tmp_path / "reco.parquet"),
                 "--plots", str(tmp_path / "plots"), "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["crossings"] == 6 and report["mean_pileup"] == 50.0
    methods = report["particles"]["all"]["methods"]
    assert set(methods) == {"gnn", "chs", "softkiller", "puppi"}
    assert methods["gnn"]["working_point"]["signal_efficiency"] == 1.0
    assert methods["gnn"]["working_point"]["background_efficiency"] == 0.0
    physics = report["jets_and_met"]["methods"]
    assert physics["gnn"]["jets"]["response_median"] == pytest.approx(1.0, abs=1e-6)
    assert physics["gnn"]["met"]["resolution_gev"] == pytest.approx(0.0, abs=1e-3)
    assert physics["chs"]["met"]["resolution_gev"] > 1.0  # CHS keeps every pile-up neutral
    assert list(report)[0] == "summary" and report["summary"]["gnn"]["jet_pt_response"] == pytest.approx(1.0)
    assert report["summary"]["puppi"]["auc_all"] == methods["puppi"]["auc"]
    assert all((tmp_path / "plots" / name).stat().st_size > 0 for name in ("pileup_roc.png", "jet_response.png"))


def test_a_reconstruction_with_too_few_scores_is_refused_naming_the_event(tmp_path, capsys):
    crossings = synthetic_crossings(2)
    write_events(tmp_path / "truth.parquet", event_table(**crossings), "lhc-pf")
    reco = pa.table({"event_id": np.array([0, 1]), "hit_score": [np.zeros(3, np.float32), np.zeros(3, np.float32)]})
    write_events(tmp_path / "reco.parquet", reco, "lhc-pf")
    assert main(["evaluate", str(tmp_path / "truth.parquet"), str(tmp_path / "reco.parquet")]) == EXIT_BAD_INPUT
    assert "hit_score" in capsys.readouterr().err


def test_standard_output_is_json_although_fastjet_prints_a_banner(tmp_path):
    crossings = synthetic_crossings(2)
    write_events(tmp_path / "truth.parquet", event_table(**crossings), "lhc-pf")
    offsets, label = crossings["offsets"], crossings["hits"]["true_label"]
    reco = pa.table({"event_id": crossings["event_id"],
                     "hit_score": [label[a:b].astype(np.float32) for a, b in zip(offsets[:-1], offsets[1:])]})
    write_events(tmp_path / "reco.parquet", reco, "lhc-pf")
    run = subprocess.run([sys.executable, "-m", "graphreco.cli", "evaluate", str(tmp_path / "truth.parquet"),
                          str(tmp_path / "reco.parquet"), "--json", "-"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["crossings"] == 2
