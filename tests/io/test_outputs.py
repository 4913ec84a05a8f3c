"""Outputs never replace inputs: the check every writer asks, and the commands that ask it."""

import os
import shutil

import pytest

from graphreco.cli import EXIT_USAGE, main
from graphreco.errors import UsageError
from graphreco.io.outputs import check_outputs, lock_path, locked


def test_an_output_onto_an_input_by_path_link_or_hard_link_is_refused(tmp_path):
    source = tmp_path / "r.parquet"
    source.write_bytes(b"events")
    (tmp_path / "link.parquet").symlink_to(source)
    os.link(source, tmp_path / "hard.parquet")
    for output in (source, tmp_path / "link.parquet", tmp_path / "hard.parquet", tmp_path / "sub" / ".." / "r.parquet"):
        with pytest.raises(UsageError, match="would replace the input"):
            check_outputs([output], [source])
    check_outputs([tmp_path / "other.parquet"], [source])
    with pytest.raises(UsageError):
        check_outputs([tmp_path], [source], folder=True)
    check_outputs([tmp_path / "report"], [source], folder=True)


@pytest.mark.parametrize("output", ["r.parquet", "link.parquet", ".", "./"])
def test_reconstruct_onto_its_input_exits_2_and_leaves_it(output, simulated_file, tmp_path, monkeypatch, capsys):
    source = tmp_path / "r.parquet"
    shutil.copyfile(simulated_file("baikal-gvd", 20, 5), source)
    (tmp_path / "link.parquet").symlink_to(source)
    before = source.read_bytes()
    monkeypatch.chdir(tmp_path)
    assert main(["reconstruct", "r.parquet", "-o", output, "--detector", "baikal-gvd", "--workers", "1"]) == EXIT_USAGE
    assert "would replace the input" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_a_report_folder_holding_its_truth_is_refused(simulated_file, tmp_path):
    pytest.importorskip("matplotlib")
    from graphreco.evaluate.report import MARKDOWN, write_report

    truth = tmp_path / "truth.parquet"
    shutil.copyfile(simulated_file("ta-sd", 20, 5), truth)
    (tmp_path / MARKDOWN).write_text("an earlier report")
    with pytest.raises(UsageError):
        write_report(truth, tmp_path / "reco.parquet", tmp_path)
    assert truth.exists()


def test_a_second_run_on_an_output_in_use_exits_2_and_leaves_the_first_runs_files(simulated_file, tmp_path, capsys):
    """The second run deleted the first's temporary file, and the first then failed."""
    source, out = simulated_file("ta-sd", 20, 5), tmp_path / "out.parquet"
    command = ["reconstruct", str(source), "-o", str(out), "--detector", "ta-sd", "--workers", "1"]
    with locked([out]):  # another run writing out.parquet
        theirs = tmp_path / f".{out.name}.999999.tmp"
        theirs.write_bytes(b"the other run's partial output")
        assert main(command) == EXIT_USAGE
        assert f"another run (process {os.getpid()}) is writing it" in capsys.readouterr().err
        assert theirs.exists() and not out.exists()
    assert main(command) == 0  # once it is done, the output is made (and what it left is cleared)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.parquet"]


def test_a_lock_is_exclusive_and_gone_once_released(tmp_path):
    out = tmp_path / "out.parquet"
    with locked([out]):
        with pytest.raises(UsageError, match="another run"), locked([tmp_path / "other.parquet", out]):
            pass
        assert not lock_path(tmp_path / "other.parquet").exists()  # what was taken before the refusal is let go
    assert list(tmp_path.iterdir()) == []
    with locked([out]):
        pass
