"""``graphreco reconstruct``'s command line against flags that hypothesis makes up (issue 23).

Each example draws a command line of real and malformed flags and values (batch sizes of
0, negative, huge or not numbers; worker counts; ``--threads``, which ``reconstruct`` does
not have; kept columns repeated, unknown or named like an output column; detectors
unknown or given as paths; pipelines and geometry files missing or garbage; outputs onto
the input, its folder or a link to it, into a missing folder, onto a folder; unknown
flags) for a tiny valid event file in a sandbox folder of its own, and runs it in this
process. Whatever the command line:

- the exit code is 0, 2 or 3, and stderr holds no traceback and no internal error;
- the input file is byte-identical afterwards;
- a refused run (2 or 3) leaves the sandbox exactly as it was: nothing written, nothing
  left behind (no output, temporary or lock file);
- a run that exits 0 writes only the outputs its summary names, and each equals the
  output of a clean run (``--detector NAME --workers 1``, the same batch size and kept
  columns) on the same events.

``--engine ray`` is never drawn (it starts a Ray instance: minutes, not a flag check).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from graphreco import detectors
from graphreco.cli import EXIT_BAD_INPUT, EXIT_USAGE, main
from graphreco.pipeline import Pipeline

DETECTOR = "baikal-gvd"
EVENTS = 4
INPUT = "in/events.parquet"
ACCEPTED = {0, EXIT_USAGE, EXIT_BAD_INPUT}
HERE, SHA, SHA_UPPER = "{here}", "{sha}", "{sha-upper}"
"""Placeholders in drawn tokens: the sandbox's absolute path, the shipped pipeline's SHA-256
(in upper case)."""


# --- the sandbox: a tiny valid input and the things a careless command line points at -------


def _populate(folder: Path, events: Path) -> None:
    """The sandbox's files that can be copied: the input, an output folder, a junk file,
    pipelines (a copy of the shipped one, unreadable, without stages) and geometry files
    (the detector's default layout, a garbage one)."""
    (folder / "in").mkdir()
    shutil.copyfile(events, folder / INPUT)
    (folder / "outdir").mkdir()
    (folder / "junk.txt").write_text("not an output\n")
    shipped = Pipeline.shipped(DETECTOR).folder
    shutil.copytree(shipped, folder / "pipelines" / "shipped")
    (folder / "pipelines" / "unreadable").mkdir()
    (folder / "pipelines" / "unreadable" / "pipeline.json").write_text("{not json")
    shutil.copytree(shipped, folder / "pipelines" / "stageless")
    (folder / "pipelines" / "stageless" / "pipeline.json").write_text(json.dumps({"detector": DETECTOR, "stages": []}))
    shutil.copyfile(Path(detectors.__file__).parent / "baikal_gvd" / "layout.geometry.parquet",
                    folder / "layout.geometry.parquet")
    (folder / "garbage.geometry.parquet").write_bytes(b"PAR1 not a geometry PAR1")


def _link(folder: Path) -> None:
    """The links a copy does not keep: a symbolic and a hard link to the input, and a
    symbolic link to its folder."""
    (folder / "link.parquet").symlink_to(folder / INPUT)
    os.link(folder / INPUT, folder / "hard.parquet")
    (folder / "linkdir").symlink_to(folder / "in", target_is_directory=True)


@contextmanager
def sandbox(pristine: Path) -> Iterator[Path]:
    """A fresh copy of the ``pristine`` sandbox with its links, as the working directory."""
    previous = Path.cwd()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "sandbox"
        shutil.copytree(pristine, folder)
        _link(folder)
        os.chdir(folder)
        try:
            yield folder
        finally:
            os.chdir(previous)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and link under ``folder`` (relative path) with its content's SHA-256 or
    its link target."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = Path(root, name)
            key = str(path.relative_to(folder))
            found[key] = f"-> {os.readlink(path)}" if path.is_symlink() else \
                hashlib.sha256(path.read_bytes()).hexdigest()
    return found


# --- running the command line in this process ------------------------------------------------


@dataclass(frozen=True)
class Ran:
    """What one command line did: its exit code, stdout and stderr."""

    code: int | str | None
    out: str
    err: str


def run_cli(argv: list[str]) -> Ran:
    """``graphreco ARGV`` in this process; argparse's refusals (SystemExit) give their code."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stopped:
            code = stopped.code
    return Ran(code, out.getvalue(), err.getvalue())


def assert_same_table(got: pa.Table, want: pa.Table) -> None:
    """Same columns, types and values (NaN equal to NaN), whatever the schema metadata
    (the provenance names the input's path)."""
    assert got.schema.remove_metadata() == want.schema.remove_metadata()
    for name in want.column_names:
        a, b = got.column(name).combine_chunks(), want.column(name).combine_chunks()
        if pa.types.is_list(a.type):
            assert a.offsets.equals(b.offsets), name
            a, b = a.flatten(), b.flatten()
        np.testing.assert_array_equal(a.to_numpy(zero_copy_only=False), b.to_numpy(zero_copy_only=False),
                                      err_msg=name)


class CleanRuns:
    """Outputs of clean runs on the tiny input, made once per detector, batch size and
    kept columns."""

    def __init__(self, folder: Path, source: Path):
        self.folder, self.source, self.made = folder, source, {}

    def output(self, detector: str, batch_size: int, keep: tuple[str, ...]) -> pa.Table:
        key = (detector, batch_size, keep)
        if key not in self.made:
            out = self.folder / f"clean-{len(self.made)}.parquet"
            ran = run_cli(["reconstruct", str(self.source), "-o", str(out), "--detector", detector, "--workers", "1",
                           "--no-progress", "--batch-size", str(batch_size), "--keep-columns", ",".join(keep)])
            assert ran.code == 0, ran.err
            self.made[key] = pq.read_table(out)
        return self.made[key]


@pytest.fixture(scope="module")
def pristine(simulated_file, tmp_path_factory) -> Path:
    """The sandbox to copy for each example."""
    folder = tmp_path_factory.mktemp("fuzz-cli") / "pristine"
    folder.mkdir()
    _populate(folder, simulated_file(DETECTOR, EVENTS, 11))
    return folder


@pytest.fixture(scope="module")
def clean_runs(simulated_file, tmp_path_factory) -> CleanRuns:
    """The clean runs' outputs, on the sandbox's input events."""
    return CleanRuns(tmp_path_factory.mktemp("fuzz-cli-clean"), simulated_file(DETECTOR, EVENTS, 11))


@pytest.fixture(scope="module")
def shipped_sha256() -> str:
    """The value ``--pipeline-sha256`` pins the shipped pipeline with."""
    return Pipeline.shipped(DETECTOR).sha256()


# --- the command lines -------------------------------------------------------------------------

@dataclass(frozen=True)
class Flag:
    """A flag with the values a careful user gives it (``good``) and those a careless one
    does (``bad``); ``[]`` is a switch without a value."""

    good: st.SearchStrategy[list[str]]
    bad: st.SearchStrategy[list[str]] = st.nothing()


def one(*values: str) -> st.SearchStrategy[list[str]]:
    """One value after the flag, any of ``values``."""
    return st.sampled_from(values).map(lambda value: [value])


KEEP_GOOD = ["true_energy", "true_kind", "x", ""]
KEEP_BAD = ["event_id", "hit_score", "no_such_column", " true_energy", "true_energy"]
FLAGS: dict[str, Flag] = {
    "--batch-size": Flag(st.integers(1, 6).map(lambda n: [str(n)]) | one("1024", "+3", " 2", "٣", str(2**62)),
                         one("0", "-1", "-0", "", "abc", "1e3", "2.5", "0x10", str(10**40))),
    "--workers": Flag(one("1", "01", " 1"), one("-1", "two", "", "1.0", str(2**70))),
    "--keep-columns": Flag(st.lists(st.sampled_from(KEEP_GOOD), max_size=3, unique=True).map(lambda k: [",".join(k)]),
                           st.lists(st.sampled_from(KEEP_GOOD + KEEP_BAD), min_size=2, max_size=3
                                    ).map(lambda k: [",".join(k)])),
    "--detector": Flag(one(DETECTOR), one("ta-sd", "lhc-pf", "icecube", "", "BAIKAL-GVD", "baikal_gvd", "pipelines",
                                          f"{HERE}/pipelines", "detectors/../baikal-gvd")),
    "--pipeline": Flag(one("pipelines/shipped", f"{HERE}/pipelines/shipped"),
                       one("pipelines/unreadable", "pipelines/stageless", "pipelines/missing", INPUT, "")),
    "--pipeline-sha256": Flag(one(SHA, SHA_UPPER), one("0" * 64, "xyz", SHA + "0", "")),
    "--geometry": Flag(one("layout.geometry.parquet"),
                       one("missing.geometry.parquet", "garbage.geometry.parquet", INPUT, "outdir", "")),
    "--engine": Flag(one("local"), one("bogus", "", "LOCAL")),
    "--root-mapping": Flag(one("missing.json", "junk.txt")),
    "--progress": Flag(st.just([])),
    "--no-progress": Flag(st.just([])),
    "--bogus": Flag(st.nothing(), st.sampled_from([["--bogus"], ["--batch_size", "2"], ["-x"], ["--threads", "1"]])),
}
"""The flags of ``reconstruct`` (``-o``, chosen apart, aside; ``--engine ray`` left out);
``--bogus`` stands for flags it does not know (``--threads`` among them), written in its place."""
OUTPUTS_GOOD = ["out.parquet", "missing/deeper/out.parquet", "outdir", "outdir/", "newdir/", "junk.txt"]
OUTPUTS_BAD = [INPUT, f"./{INPUT}", f"{HERE}/{INPUT}", "in", "in/", "link.parquet", "hard.parquet", "linkdir",
               "linkdir/events.parquet", "/proc/graphreco/out.parquet", "", "in/../in/events.parquet"]
"""Values of ``-o``: new files and folders, existing ones; the input in several spellings,
its folder, links to either, a place that cannot be written, the working folder."""
INPUTS_GOOD = [INPUT, "in", "in/*.parquet", f"{HERE}/{INPUT}", "link.parquet"]
INPUTS_BAD = ["in/missing.parquet", "in/*.root", "outdir"]


def good_or_bad(draw, good: st.SearchStrategy, bad: st.SearchStrategy):
    """A draw of ``good`` five times in six, else of ``bad`` (of the one that can give a
    value where the other cannot)."""
    if good.is_empty or bad.is_empty:
        return draw(bad if good.is_empty else good)
    return draw(good if draw(st.integers(0, 5)) else bad)


@st.composite
def command_lines(draw) -> list[str]:
    """``reconstruct``, an input (rarely two), ``--workers 1`` (which a drawn ``--workers``
    overrides), ``-o`` (rarely left out), ``--detector`` or ``--pipeline`` (rarely both or
    neither) and up to two other flags, in any order; each value good five times in six."""
    inputs = [good_or_bad(draw, st.sampled_from(INPUTS_GOOD), st.sampled_from(INPUTS_BAD))]
    if not draw(st.integers(0, 5)):
        inputs.append(draw(st.sampled_from(INPUTS_GOOD + INPUTS_BAD)))
    tokens = ["reconstruct", *inputs, "--workers", "1"]
    if draw(st.integers(0, 9)):
        tokens += ["-o", good_or_bad(draw, st.sampled_from(OUTPUTS_GOOD), st.sampled_from(OUTPUTS_BAD))]
    chosen = draw(st.sampled_from([["--detector"]] * 5 + [["--pipeline"]] * 2 + [[], ["--detector", "--pipeline"]]))
    others = draw(st.lists(st.sampled_from(sorted(set(FLAGS) - {"--detector", "--pipeline"})), max_size=2))
    for flag in draw(st.permutations(chosen + others)):
        value = good_or_bad(draw, FLAGS[flag].good, FLAGS[flag].bad)
        tokens += value if flag == "--bogus" else [flag, *value]
    return tokens


def last_value(argv: list[str], flag: str) -> str | None:
    """The value argparse keeps for ``flag`` (its last occurrence), if given."""
    positions = [index for index, token in enumerate(argv) if token == flag]
    return argv[positions[-1] + 1] if positions else None


def clean_settings(argv: list[str]) -> tuple[int, tuple[str, ...]]:
    """The batch size and kept columns of a command line that argparse accepted."""
    batch_size, keep = last_value(argv, "--batch-size"), last_value(argv, "--keep-columns")
    return (1024 if batch_size is None else int(batch_size),
            tuple(name for name in (keep or "").split(",") if name))


# --- the property ------------------------------------------------------------------------------


def check_command_line(argv: list[str], pristine: Path, clean_runs: CleanRuns, shipped_sha256: str) -> None:
    """Run ``argv`` in a fresh sandbox and check what the module docstring promises."""
    with sandbox(pristine) as folder:
        argv = [token.replace(HERE, str(folder)).replace(SHA_UPPER, shipped_sha256.upper()).replace(SHA, shipped_sha256)
                for token in argv]
        before = snapshot(folder)
        ran = run_cli([argv[0], "--json", "-", *argv[1:]])  # the record on stdout, for the checks
        after = snapshot(folder)
        event(f"exit {ran.code}")
        assert ran.code in ACCEPTED, (ran.code, ran.err)
        assert "Traceback" not in ran.err and "internal error" not in ran.err, ran.err
        assert after[INPUT] == before[INPUT], "the input was changed"
        if ran.code != 0:
            changed = set(after.items()) ^ set(before.items())
            assert after == before, f"a refused run (exit {ran.code}) changed {changed}"
            return
        summary = json.loads(ran.out)
        outputs = {str(Path(os.path.abspath(record["output"])).relative_to(folder)) for record in summary["files"]}
        changed = {path for path in after if before.get(path) != after[path]}
        assert changed <= outputs and outputs <= set(after), (changed, outputs)
        want = clean_runs.output(summary["detector"], *clean_settings(argv))
        for output in outputs:
            assert_same_table(pq.read_table(folder / output), want)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv=command_lines())
@example(argv=["reconstruct", INPUT, "-o", INPUT, "--detector", DETECTOR, "--workers", "1"])
@example(argv=["reconstruct", INPUT, "-o", "in", "--detector", DETECTOR, "--workers", "1"])
@example(argv=["reconstruct", INPUT, "-o", "link.parquet", "--detector", DETECTOR])
@example(argv=["reconstruct", INPUT, "-o", "out.parquet", "--detector", DETECTOR, "--batch-size", "0"])
@example(argv=["reconstruct", INPUT, "-o", "out.parquet", "--detector", DETECTOR, "--keep-columns", "x,x"])
@example(argv=["reconstruct", INPUT, "-o", "out.parquet", "--detector", f"{HERE}/pipelines"])
@example(argv=["reconstruct", INPUT, "-o", "outdir", "--pipeline", "pipelines/shipped", "--pipeline-sha256", SHA,
               "--workers", "1", "--batch-size", "3", "--keep-columns", "true_energy,,x"])
def test_reconstruct_flags_give_0_2_or_3_and_a_clean_runs_output(argv, pristine, clean_runs, shipped_sha256):
    check_command_line(argv, pristine, clean_runs, shipped_sha256)
