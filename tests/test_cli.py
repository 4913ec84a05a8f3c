import argparse
import importlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from graphreco import detectors, progress
from graphreco.cli import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_USAGE, build_parser, main
from graphreco.detectors import Column, Detector, Option, Scaled, SimulatedEvents, Simulator
from graphreco.extras import require
from graphreco.io import read_events
from graphreco.record import write_record
from graphreco.summary import RENDERERS


def test_simulate_then_build_graphs(tmp_path, capsys):
    out = tmp_path / "sim.parquet"
    assert main(["simulate", "baikal-gvd", "--events", "300", "--seed", "1", "--mix", "numu_cc=1,eas=2",
                 "-o", str(out), "--json", "-"]) == 0
    simulated = json.loads(capsys.readouterr().out)
    assert simulated["events"] == 300 and out.exists() and set(simulated["kinds"]) == {"numu_cc", "eas"}
    assert main(["graphs", str(out), "--batch-size", "128", "--json", "-"]) == 0
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


def _toy_events(events: int, seed: int, spread: float) -> SimulatedEvents:
    """``events`` events of 0 to 3 hits at Gaussian ``x`` of rms ``spread``."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(rng.integers(0, 4, events))])
    hits = {"x": rng.normal(0.0, spread, offsets[-1]).astype(np.float32),
            "true_label": np.ones(offsets[-1], dtype=np.int8)}
    return SimulatedEvents("toy", np.arange(events, dtype=np.int64), offsets, hits, {})


def _toy_without_its_extra(events: int, seed: int) -> SimulatedEvents:
    require("graphreco_test_absent_package", "toy", "toy simulation")
    return _toy_events(events, seed, 1.0)


def _toy_with_a_broken_import(events: int, seed: int) -> SimulatedEvents:
    importlib.import_module("graphreco.no_such_module")
    return _toy_events(events, seed, 1.0)


def _toy_detector(simulator: Simulator) -> Detector:
    return Detector(name="toy", description="a test detector: hits on a line",
                    columns=(Column("x", "float32", per_hit=True, finite=True),
                             Column("true_label", "int8", per_hit=True, required=False)),
                    node_features=(Scaled("x", 1.0),), build_edges=lambda offsets, hits: np.zeros((2, 0), np.int64),
                    simulator=simulator)


@pytest.fixture
def register():
    """``register(simulator)`` adds the toy detector with that simulator for one test."""
    yield lambda simulator: detectors.register(_toy_detector(simulator))
    detectors.unregister("toy")


def test_a_registered_detector_gets_its_simulate_command(register, tmp_path, capsys):
    register(Simulator("toy events", _toy_events, (Option("--spread", {"type": float, "default": 1.0,
                                                                        "help": "rms of x"}),)))
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    assert "toy events" in capsys.readouterr().out
    out = tmp_path / "toy.parquet"
    assert main(["simulate", "toy", "--events", "20", "--seed", "3", "--spread", "5", "-o", str(out),
                 "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 20
    batch = next(read_events(out))
    expected = _toy_events(20, 3, 5.0)
    assert batch.detector == "toy"
    np.testing.assert_array_equal(batch.offsets, expected.offsets)
    np.testing.assert_array_equal(batch.hits["x"], expected.hits["x"])


def test_a_missing_extra_is_a_usage_error_naming_it(register, tmp_path, capsys):
    register(Simulator("toy events", _toy_without_its_extra))
    assert main(["simulate", "toy", "--events", "2", "-o", str(tmp_path / "toy.parquet")]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert error.startswith("graphreco: error: ") and "pip install 'graphreco[toy]'" in error


def test_a_missing_pythia_names_the_lhc_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "pythia8mc", None)
    assert main(["simulate", "lhc-pf", "--events", "2", "-o", str(tmp_path / "lhc.parquet")]) == EXIT_USAGE
    assert "pip install 'graphreco[lhc]'" in capsys.readouterr().err


def test_a_broken_internal_import_is_an_internal_error(register, tmp_path, capsys):
    register(Simulator("toy events", _toy_with_a_broken_import))
    assert main(["simulate", "toy", "--events", "2", "-o", str(tmp_path / "toy.parquet")]) == EXIT_INTERNAL
    assert "internal error: ModuleNotFoundError" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["graphs", "x.parquet"], ["reconstruct", "x.parquet", "-o", "out"],
                                     ["export", "-o", "out"]])
def test_an_unknown_detector_is_a_usage_error_listing_the_known_ones(command, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--detector", "km3net"])
    assert stopped.value.code == EXIT_USAGE
    assert f"unknown detector 'km3net'; known detectors: {', '.join(detectors.available())}" in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    ["simulate", "baikal-gvd", "--events", "0", "-o", "x.parquet"],
    ["graphs", "x.parquet", "--batch-size", "0"],
    ["reconstruct", "x.parquet", "-o", "y.parquet", "--detector", "ta-sd", "--batch-size", "0"],
    ["reconstruct", "x.parquet", "-o", "y.parquet", "--detector", "ta-sd", "--workers", "-1"],
])
def test_counts_of_zero_or_less_are_usage_errors(command, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(command)
    assert stopped.value.code == EXIT_USAGE and "must" in capsys.readouterr().err


def test_contradicting_simulator_options_are_a_usage_error(tmp_path, capsys):
    assert main(["simulate", "ta-sd", "--events", "5", "--log10-energy-min", "20", "--log10-energy-max", "19",
                 "-o", str(tmp_path / "x.parquet")]) == EXIT_USAGE
    assert "above the highest" in capsys.readouterr().err and not (tmp_path / "x.parquet").exists()


def test_an_output_that_cannot_be_created_is_a_usage_error(simulated_file, capsys):
    source = simulated_file("ta-sd", 20, 5)
    assert main(["reconstruct", str(source), "-o", "/proc/graphreco/y.parquet", "--detector", "ta-sd",
                 "--workers", "1"]) == EXIT_USAGE
    assert "/proc/graphreco/y.parquet: cannot be written" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["empty", "truncated", "without event_id"])
def test_evaluate_on_a_damaged_reconstruction_is_bad_input(damage, simulated_file, tmp_path, capsys):
    import pyarrow.parquet as pq

    truth = simulated_file("ta-sd", 20, 5)
    reco = tmp_path / "reco.parquet"
    if damage == "empty":
        reco.write_bytes(b"")
    elif damage == "truncated":
        reco.write_bytes(truth.read_bytes()[:2000])
    else:
        pq.write_table(pq.read_table(truth).drop_columns(["event_id"]), reco)
    assert main(["evaluate", str(truth), str(reco)]) == EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert error.startswith(f"graphreco: error: {reco}") and "Traceback" not in error


def _simulate_toy(out, *options: str) -> list[str]:
    return ["simulate", "toy", "--events", "20", "--seed", "3", "-o", str(out), *options]


def test_json_file_holds_the_record_and_a_person_gets_the_summary(register, tmp_path, capsys):
    register(Simulator("toy events", _toy_events, (Option("--spread", {"type": float, "default": 1.0}),)))
    out, record = tmp_path / "toy.parquet", tmp_path / "records" / "simulate.json"
    assert main(_simulate_toy(out, "--json", "-")) == 0
    on_stdout = json.loads(capsys.readouterr().out)
    assert main(_simulate_toy(out, "--json", str(record))) == 0
    summary = capsys.readouterr().out
    written = json.loads(record.read_text())
    assert {key: value for key, value in written.items() if key not in ("seconds", "events_per_s")} == \
        {key: value for key, value in on_stdout.items() if key not in ("seconds", "events_per_s")}
    assert written["events"] == 20 and written["output"] == str(out)
    assert summary.startswith("Simulated 20 toy events in ") and str(out) in summary and "{" not in summary
    assert [path.name for path in record.parent.iterdir()] == ["simulate.json"]  # no temporary file left


def test_quiet_prints_nothing_and_still_writes_the_record(register, tmp_path, capsys):
    register(Simulator("toy events", _toy_events, (Option("--spread", {"type": float, "default": 1.0}),)))
    record = tmp_path / "simulate.json"
    assert main(_simulate_toy(tmp_path / "toy.parquet", "-q", "--json", str(record), "--progress")) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert json.loads(record.read_text())["events"] == 20


def test_a_record_never_replaces_a_file_the_command_names(tmp_path, capsys):
    source = tmp_path / "events.parquet"
    source.write_bytes(b"the input")
    assert main(["graphs", str(source), "--json", str(source)]) == EXIT_USAGE
    assert f"would replace the input {source}" in capsys.readouterr().err and source.read_bytes() == b"the input"
    assert main(["graphs", str(source), "--json", "/proc/graphreco/record.json"]) == EXIT_USAGE
    assert "/proc/graphreco/record.json: cannot be written" in capsys.readouterr().err


def test_a_record_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    record = tmp_path / "record.json"
    record.write_text('{"earlier": true}')
    with pytest.raises(TypeError):  # not JSON: fails while the record is written
        write_record(record, {"figure": object()})
    assert record.read_text() == '{"earlier": true}' and list(tmp_path.iterdir()) == [record]
    renamed = []

    def replace(source, target):
        renamed.append((Path(source).parent, json.loads(Path(source).read_text())))
        os.rename(source, target)

    monkeypatch.setattr(os, "replace", replace)
    write_record(record, {"figure": float("nan"), "events": 3})
    assert renamed == [(tmp_path, {"figure": None, "events": 3})]  # complete before it is renamed, beside it
    assert json.loads(record.read_text()) == {"figure": None, "events": 3}


def test_progress_reports_without_a_bar_are_ignored():
    progress.expect(10)
    progress.advance(3)  # no bar open: a library call, -q, or no terminal
    with progress.bar("simulate", "events", show=False):
        progress.expect(10)
        progress.advance(3)


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-commands of ``parser`` by name."""
    return next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction)).choices


def test_every_command_has_a_summary_a_record_and_quiet():
    """A command added without a renderer would fail after its work, printing its summary."""
    commands = _commands(build_parser())
    leaves = {name: command for name, command in commands.items() if name != "simulate"}
    leaves |= {f"simulate {name}": command for name, command in _commands(commands["simulate"]).items()}
    for name, command in leaves.items():
        flags = {flag for action in command._actions for flag in action.option_strings}
        assert {"--json", "-q"} <= flags, name
        assert name.split()[0] in RENDERERS, name
