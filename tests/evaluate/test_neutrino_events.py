"""graphreco evaluate on a neutrino telescope: the GNN and the baseline on the same events."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graphreco.cli import EXIT_BAD_INPUT, main
from graphreco.detectors.baikal_gvd.simulation import simulate_events
from graphreco.io import event_table, read_events, write_events


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate")
    truth, reco = folder / "truth.parquet", folder / "reco.parquet"
    simulated = simulate_events(400, seed=31, mix={"numu_cc": 3, "eas": 8})
    write_events(truth, event_table(**simulated.columns()), "baikal-gvd")
    assert main(["reconstruct", str(truth), "-o", str(reco), "--detector", "baikal-gvd"]) == 0
    return truth, reco


def test_evaluate_scores_gnn_and_baseline_on_the_same_events(files, capsys):
    capsys.readouterr()
    assert main(["evaluate", *map(str, files), "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["events"] == 400
    assert set(report["hits"]) == {"gnn", "baseline"} and report["hits"]["gnn"]["auc"] > 0.9
    events = report["events_numu_cc_vs_eas"]
    assert events["gnn"]["numu_cc_events"] + events["gnn"]["eas_events"] == 400
    cut = events["gnn"]["rejection_at_efficiency"][0]
    kinds = np.concatenate([batch.events["true_kind"].astype(str) for batch in read_events(files[0])])
    reco = pq.read_table(files[1], columns=["event_id", "event_score"])
    assert reco.column("event_id").to_numpy().tolist() == np.arange(400).tolist()
    numu_scores = reco.column("event_score").to_numpy()[kinds == "numu_cc"]
    achieved = float(np.mean(numu_scores >= cut["threshold"]))
    assert cut["efficiency"] == 0.5 and achieved == pytest.approx(0.5, abs=2 / numu_scores.size)


def test_evaluate_needs_every_event_reconstructed(files, tmp_path, capsys):
    truth, _ = files
    other = tmp_path / "other.parquet"
    write_events(other, event_table(**simulate_events(20, seed=32).columns()), "baikal-gvd")
    assert main(["reconstruct", str(other), "-o", str(tmp_path / "r.parquet"), "--detector", "baikal-gvd"]) == 0
    assert main(["evaluate", str(truth), str(tmp_path / "r.parquet")]) == EXIT_BAD_INPUT
    assert "event missing from the reconstruction" in capsys.readouterr().err


def test_evaluate_reports_directions_energies_and_draws_the_figures(files, tmp_path, capsys):
    capsys.readouterr()
    record = tmp_path / "evaluate.json"
    assert main(["evaluate", *map(str, files), "--plots", str(tmp_path / "plots"), "--json", str(record)]) == 0
    summary = capsys.readouterr().out  # for a person: what was scored, where the figures went
    assert summary.startswith("Scored the pipeline and the classical method on 400 baikal-gvd events in ")
    assert f"PNG in {tmp_path / 'plots'}" in summary
    report = json.loads(record.read_text())
    numu = report["direction"]["numu_cc"]
    assert set(numu) == {"gnn", "baseline"}
    assert numu["gnn"]["median_deg"] < numu["baseline"]["median_deg"]
    assert 0.5 < numu["gnn"]["coverage_68_cone"] < 0.85
    assert set(report["energy"]["numu_cc"]) == {"gnn"}
    drawn = {path.rsplit("/", 1)[-1] for path in report["plots"]}
    assert {"hits_roc.png", "events_rejection.png", "direction_vs_signal_hits.png", "energy_numu_cc.png",
            "pulls.png"} <= drawn
    assert all((tmp_path / "plots" / name).read_bytes().startswith(b"\x89PNG") for name in drawn)


def test_an_event_without_a_score_passes_no_cut_and_the_json_is_strict(files, tmp_path, capsys):
    """One NaN ``event_score`` (an event without hits) made every threshold NaN: "0
    background passing" at every efficiency, and bare NaN in the JSON."""
    truth, reco = files
    kinds = np.concatenate([batch.events["true_kind"].astype(str) for batch in read_events(truth)])
    table = pq.read_table(reco)
    scores = table.column("event_score").to_numpy().copy()
    scores[np.flatnonzero(kinds == "numu_cc")[0]] = np.nan
    unscored = tmp_path / "reco.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("event_score"), "event_score", pa.array(scores)),
                   unscored)
    capsys.readouterr()
    assert main(["evaluate", str(truth), str(unscored), "--json", "-"]) == 0

    def refuse(constant):
        raise ValueError(f"bare {constant} in the JSON")

    report = json.loads(capsys.readouterr().out, parse_constant=refuse)
    numu, eas = scores[kinds == "numu_cc"], scores[kinds == "eas"]
    for cut in report["events_numu_cc_vs_eas"]["gnn"]["rejection_at_efficiency"]:
        assert np.isfinite(cut["threshold"])
        assert np.mean(numu >= cut["threshold"]) == pytest.approx(cut["efficiency"], abs=2 / numu.size)
        assert cut["background_passing"] == np.sum(eas >= cut["threshold"])

