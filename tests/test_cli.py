import json

import pytest

from graphreco.cli import EXIT_BAD_INPUT, main


def test_simulate_then_build_graphs(tmp_path, capsys):
    out = tmp_path / "sim.parquet"
    assert main(["simulate", "baikal-gvd", "--events", "300", "--seed", "1", "--mix", "numu_cc=1,eas=2",
                 "-o", str(out)]) == 0
    simulated = json.loads(capsys.readouterr().out)
    assert simulated["events"] == 300 and out.exists() and set(simulated["kinds"]) == {"numu_cc", "eas"}
    assert main(["graphs", str(out), "--batch-size", "128"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["events"] == 300 and summary["hits"] == simulated["hits"]
    assert summary["mean_in_degree"] >= 8


def test_bad_input_is_one_line_and_a_distinct_exit_code(tmp_path, capsys):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    assert main(["graphs", str(bad)]) == EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert error.startswith("graphreco: error: ") and str(bad) in error and "Traceback" not in error


def test_unknown_kind_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["simulate", "baikal-gvd", "--events", "5", "--mix", "tau_cc=1", "-o", str(tmp_path / "x.parquet")])
    assert stopped.value.code == 2 and "unknown event kinds ['tau_cc']" in capsys.readouterr().err
