"""What a command imports is what it uses: the command line module imports neither numba,
pyarrow nor torch, its parser (every detector loaded) no torch, and a ``reconstruct`` none
of the optional extras (plots, jets, Ray, ONNX, ROOT) nor ``pyarrow.dataset`` (issue 24:
start-up time). Checked in a fresh interpreter, as a user starts one."""

from __future__ import annotations

import json
import subprocess
import sys

from graphreco.io import write_events

from .io.events import baikal_table

PROBE = """
import json, sys
from graphreco.cli import build_parser, main
imported = sorted(sys.modules)
build_parser(simulators=True)  # imports every detector, to find its simulator
parser = sorted(sys.modules)
code = main(sys.argv[1:])
print(json.dumps({"import": imported, "parser": parser, "code": code, "reconstruct": sorted(sys.modules)}))
"""
NOT_FOR_THE_PARSER = {"torch", "torch_scatter", "matplotlib", "fastjet", "ray", "onnx", "onnxruntime", "uproot",
                      "pythia8mc"}
NOT_ON_IMPORT = NOT_FOR_THE_PARSER | {"numba", "pyarrow"}
NOT_FOR_A_RECONSTRUCT = NOT_FOR_THE_PARSER - {"torch", "torch_scatter"} | {"pyarrow.dataset"}


def test_the_parser_and_a_reconstruct_import_only_what_they_use(tmp_path):
    source, output = tmp_path / "events.parquet", tmp_path / "reco.parquet"
    write_events(source, baikal_table([30] * 10, seed=5), "baikal-gvd")
    run = subprocess.run([sys.executable, "-c", PROBE, "reconstruct", str(source), "-o", str(output),
                          "--detector", "baikal-gvd", "--no-progress"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    loaded = json.loads(run.stdout.splitlines()[-1])
    assert loaded["code"] == 0 and output.exists(), run.stderr
    assert NOT_ON_IMPORT.isdisjoint(loaded["import"])
    assert NOT_FOR_THE_PARSER.isdisjoint(loaded["parser"])
    assert NOT_FOR_A_RECONSTRUCT.isdisjoint(loaded["reconstruct"])
    assert "torch" in loaded["reconstruct"]  # the probe saw the pipeline run
