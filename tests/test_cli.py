import json

from graphreco.cli import EXIT_BAD_INPUT, main


def test_simulate_then_build_graphs(tmp_path, capsys):
    out = tmp_path / "noise.parquet"
    assert main(["simulate", "baikal-gvd", "--events", "300", "--seed", "1", "-o", str(out)]) == 0
    simulated = json.loads(capsys.readouterr().out)
    assert simulated["events"] == 300 and out.exists()
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
