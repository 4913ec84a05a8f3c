"""``graphreco finetune``: a shipped pipeline trained further on labelled events; a run
killed and started again ends with the same pipeline as one never killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from graphreco.cli import EXIT_USAGE, main
from graphreco.pipeline import Pipeline


def _command(labelled: Path, validation: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "graphreco.cli", "finetune", "--detector", "ta-sd", "--labelled", str(labelled),
            "--validation", str(validation), "--epochs", "2", "--threads", "1", "-o", str(out)]


def _same_pipeline(a: Path, b: Path) -> None:
    first, second = Pipeline.load(a), Pipeline.load(b)
    assert list(first.stages) == list(second.stages)
    for name, stage in first.stages.items():
        assert stage.config == second.stages[name].config, name
        for key, tensor in stage.state_dict().items():
            assert torch.equal(tensor, second.stages[name].state_dict()[key]), (name, key)


def test_a_fine_tune_killed_and_resumed_ends_as_one_never_killed(simulated_file, tmp_path):
    labelled, validation = simulated_file("ta-sd", 150, 631), simulated_file("ta-sd", 100, 632)
    straight = tmp_path / "straight"
    subprocess.run(_command(labelled, validation, straight), check=True, capture_output=True, timeout=900)
    record = json.loads((straight / "finetune.json").read_text())
    assert record["plan"] == {"hit_selection": 2, "composition": 2, "energy_direction": 2, "posterior": 2}
    assert record["stages_without_truth"] == []
    shipped = Pipeline.shipped("ta-sd")
    changed = Pipeline.load(straight).stages["energy_direction"].state_dict()
    assert any(not torch.equal(tensor, changed[key])
               for key, tensor in shipped.stages["energy_direction"].state_dict().items())

    killed = tmp_path / "killed"
    process = subprocess.Popen(_command(labelled, validation, killed), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    checkpoint = tmp_path / ".killed.partial" / "checkpoints" / "hit_selection" / "last.pt"
    deadline = time.monotonic() + 600
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert checkpoint.exists() and not killed.exists()
    resumed = subprocess.run(_command(labelled, validation, killed), capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0 and "resuming" in resumed.stderr
    _same_pipeline(straight, killed)
    assert not (tmp_path / ".killed.partial").exists()


def test_finetune_never_writes_over_an_existing_folder(simulated_file, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    code = main(["finetune", "--detector", "ta-sd", "--labelled", str(simulated_file("ta-sd", 20, 5)),
                 "-o", str(tmp_path / "out")])
    assert code == EXIT_USAGE and "overwrites nothing" in capsys.readouterr().err
    assert list((tmp_path / "out").iterdir()) == []
