"""Issue 23's matrix of bad inputs and misuses, as a script to rerun.

    python scripts/bad_inputs_matrix.py [--json FILE] [--jobs N] [--only TEXT ...] [--workdir DIR]

It builds about 120 cases in families, one or more for each of the issue's 16 numbered
items and their obvious neighbours (bad and damaged files, odd events, misused flags,
tampered pipelines, two runs on one output, kill -9 and rerun), runs each through the
command line (``python -m graphreco.cli`` of the Python running this script, in a
subprocess of its own, with a timeout) in a folder of its own, and checks what the
issue's "Done when" asks of it. Every command must also exit 0, 2 or 3 as its case
expects, print no traceback and no internal error, leave every file it was given as it
was, and leave nothing behind it did not announce: no partial output, temporary or lock
file. It prints one row per case (case, item, expected, got, ok) and a summary, writes
them to ``--json``, and exits 1 when any case is not handled well.

A case's item is the issue item it belongs to; ``neighbour`` marks cases the issue did
not list but that the same fix must cover. Cases run ``--jobs`` at a time (default: the
cores this process may use); the timed and killed ones run alone afterwards. ``--only``
keeps the cases whose name holds one of its texts; ``--workdir`` keeps the assets (the
samples, their clean outputs) and the cases' folders, and a later run reuses the assets.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graphreco import detectors
from graphreco.io import event_table, write_events
from graphreco.io.configuration import default_configuration

TIMEOUT_S = 300
"""Per command; a first run on a machine compiles the kernels (about a minute a detector)."""
DETECTORS = ("baikal-gvd", "ta-sd", "lhc-pf")
SHIPPED = Path(detectors.__file__).parent
TA_LAYOUT = SHIPPED / "ta_sd" / "layout.geometry.parquet"
BIG_COPIES = 400
"""The kill and lock cases' input: the Baikal-GVD sample this many times over (12,000
events: a run that lasts well beyond its workers' start and a second run's start-up)."""
BIG_BATCH = "256"


# --- running commands ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    """A finished command: exit code (None: killed at its timeout), output, wall time and
    peak resident memory of the process (MB)."""

    code: int | None
    out: str
    err: str
    seconds: float
    peak_mb: float

    def last_error(self) -> str:
        """The last line of stderr, for the table."""
        lines = self.err.strip().splitlines()
        return lines[-1][:160] if lines else ""


def graphreco(*args: str) -> list[str]:
    """The command line of ``graphreco ARGS`` with this Python, its record on standard
    output (``--json -``) for the checks to read."""
    return [sys.executable, "-m", "graphreco.cli", *args, "--json", "-"]


@dataclass(frozen=True)
class Job:
    """A started command: its process (the leader of a process group of its own), the
    unnamed files its stdout and stderr go to, and when it began."""

    process: subprocess.Popen
    out: IO[bytes]
    err: IO[bytes]
    began: float

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        """Whether the process has not ended (it is left unreaped for ``finish``)."""
        return alive(self.pid)


def start(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Job:
    """``argv`` started in ``cwd``."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                               start_new_session=True)
    return Job(process, out, err, time.monotonic())


def finish(job: Job, timeout: float = TIMEOUT_S) -> Ran:
    """Wait for ``job`` (its process group is killed at the timeout) and collect it; the
    peak memory is the process's own, from ``wait4``."""
    deadline, timed_out = job.began + timeout, False
    pid, status, usage = os.wait4(job.pid, os.WNOHANG)
    while not pid:
        if time.monotonic() > deadline:
            timed_out = True
            os.killpg(job.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(job.pid, 0)
            break
        time.sleep(0.05)
        pid, status, usage = os.wait4(job.pid, os.WNOHANG)
    code = os.waitstatus_to_exitcode(status)
    job.process.returncode = code  # reaped here: Popen must not wait for it again
    outputs = []
    for stream in (job.out, job.err):
        stream.seek(0)
        outputs.append(stream.read().decode(errors="replace"))
        stream.close()
    return Ran(None if timed_out else code, *outputs, time.monotonic() - job.began, usage.ru_maxrss / 1024)


def run(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = TIMEOUT_S) -> Ran:
    """``argv`` run to its end in ``cwd``."""
    return finish(start(argv, cwd, env), timeout)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and link under ``folder`` (relative path) with its content's SHA-256 or
    its link target."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = Path(root, name)
            found[str(path.relative_to(folder))] = f"-> {os.readlink(path)}" if path.is_symlink() \
                else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


# --- tables ----------------------------------------------------------------------------------------


def tables_differ(got: pa.Table, want: pa.Table) -> str | None:
    """What differs between two outputs (columns, types, values; NaN equals NaN), never
    their schema metadata (the provenance names the input's path); None when nothing."""
    if got.schema.remove_metadata() != want.schema.remove_metadata():
        return f"columns {got.schema.names} instead of {want.schema.names}"
    for name in want.column_names:
        a, b = got.column(name).combine_chunks(), want.column(name).combine_chunks()
        if pa.types.is_list(a.type):
            if not a.offsets.equals(b.offsets):
                return f"column {name}: other hit counts"
            a, b = a.flatten(), b.flatten()
        x, y = a.to_numpy(zero_copy_only=False), b.to_numpy(zero_copy_only=False)
        same = (x == y) | (np.isnan(x) & np.isnan(y)) if x.dtype.kind == "f" else x == y
        if not np.all(same):
            return f"column {name}: other values"
    return None


def with_column(table: pa.Table, name: str, column: pa.Array | pa.ChunkedArray) -> pa.Table:
    """``table`` with ``name`` replaced by (or, when absent, extended with) ``column``."""
    index = table.schema.get_field_index(name)
    return table.append_column(name, column) if index < 0 else table.set_column(index, name, column)


def with_hit_values(table: pa.Table, name: str, change: Callable[[np.ndarray], np.ndarray]) -> pa.Table:
    """``table`` with the flat hit values of column ``name`` passed through ``change``."""
    column = table.column(name).combine_chunks()
    values = change(column.values.to_numpy(zero_copy_only=False).copy())
    return with_column(table, name, pa.ListArray.from_arrays(column.offsets, pa.array(values)))


def set_first_hit(value: float) -> Callable[[np.ndarray], np.ndarray]:
    """A ``change`` that sets the first hit of the file to ``value``."""
    def change(values: np.ndarray) -> np.ndarray:
        values[0] = value
        return values
    return change


def directions_moved(got: pa.Table, want: pa.Table) -> float:
    """The largest angle (deg) between the directions of the same events; inf where one
    has a direction and the other none."""
    def unit(table: pa.Table) -> np.ndarray:
        zenith, azimuth = (table.column(name).to_numpy().astype(np.float64) for name in ("reco_zenith", "reco_azimuth"))
        return np.stack([np.sin(zenith) * np.cos(azimuth), np.sin(zenith) * np.sin(azimuth), np.cos(zenith)], axis=1)
    a, b = unit(got), unit(want)
    if not np.array_equal(np.isnan(a).any(axis=1), np.isnan(b).any(axis=1)):
        return math.inf
    both = ~np.isnan(a).any(axis=1)
    cosines = np.clip(np.sum(a[both] * b[both], axis=1), -1.0, 1.0)
    return float(np.degrees(np.arccos(cosines)).max(initial=0.0))


# --- the cases' files ------------------------------------------------------------------------------


def lhc_crossings(n_events: int, seed: int) -> pa.Table:
    """Small LHC crossings in the event format, made up (Pythia takes too long here)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(40, 80, n_events)
    n = int(sizes.sum())
    pt = (rng.exponential(1.0, n) + 0.5).astype(np.float32)
    eta = rng.uniform(-4, 4, n).astype(np.float32)
    charge = rng.choice(np.array([-1, 0, 1], np.int8), n)
    hits = {"pt": pt, "eta": eta, "phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
            "energy": (pt * np.cosh(eta)).astype(np.float32), "charge": charge,
            "pdg_id": np.where(charge == 0, 22, 211 * charge.astype(np.int32)).astype(np.int32),
            "dz": np.where(charge == 0, np.nan, rng.normal(0, 1, n)).astype(np.float32),
            "pv_assoc": np.where(charge == 0, 0, rng.choice(np.array([-1, 1], np.int8), n)).astype(np.int8)}
    return event_table(np.arange(n_events), np.concatenate([[0], np.cumsum(sizes)]), hits,
                       {"npv": np.full(n_events, 30, np.int32)}, detector="lhc-pf")


def simulated(detector: str, n_events: int, seed: int, **options) -> pa.Table:
    """A simulated sample in the event format (Baikal-GVD, TA SD)."""
    module = {"baikal-gvd": "baikal_gvd", "ta-sd": "ta_sd"}[detector]
    simulation = importlib.import_module(f"graphreco.detectors.{module}.simulation")
    return event_table(**simulation.simulate_events(n_events, seed=seed, **options).columns())


def copies(table: pa.Table, count: int) -> pa.Table:
    """``table`` ``count`` times over, with distinct event ids."""
    return pa.concat_tables([table.set_column(0, "event_id", pc.add(table["event_id"], copy * 10**6))
                             for copy in range(count)])


@dataclass(frozen=True)
class Assets:
    """The files every case copies from: a small sample of each detector and its clean
    output, a sample to evaluate, and a big one (with its clean output and the seconds
    a two-worker run of it takes) for the kill and lock cases."""

    folder: Path
    big_seconds: float

    def sample(self, detector: str) -> Path:
        return self.folder / f"{detector}.parquet"

    def clean(self, detector: str) -> Path:
        return self.folder / f"{detector}-reco.parquet"

    @property
    def truth(self) -> Path:
        return self.folder / "evaluate" / "truth.parquet"

    @property
    def truth_reco(self) -> Path:
        return self.folder / "evaluate" / "reco.parquet"

    @property
    def big(self) -> Path:
        return self.folder / "big" / "big.parquet"

    @property
    def big_clean(self) -> Path:
        return self.folder / "big-reco.parquet"

    def table(self, detector: str) -> pa.Table:
        return pq.read_table(self.sample(detector))


def reconstruct_clean(source: Path, output: Path, detector: str) -> None:
    """A clean run (the reference of the cases); the matrix stops if it fails."""
    ran = run(graphreco("reconstruct", str(source), "-o", str(output), "--detector", detector, "--workers", "1"),
              source.parent)
    if ran.code != 0:
        raise SystemExit(f"the clean run of {source} failed: {ran.err}")


def build_assets(folder: Path, log: Callable[[str], None]) -> Assets:
    """Write the assets and their clean outputs (which also compiles the kernels once),
    or take those a run with the same ``--workdir`` wrote."""
    record = folder / "assets.json"
    if record.exists():
        return Assets(folder, json.loads(record.read_text())["big_seconds"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "evaluate").mkdir()
    (folder / "big").mkdir()
    samples = {"baikal-gvd": simulated("baikal-gvd", 30, 1, mix={"numu_cc": 1, "eas": 1}),
               "ta-sd": simulated("ta-sd", 20, 1), "lhc-pf": lhc_crossings(6, 1)}
    for detector, table in samples.items():
        write_events(folder / f"{detector}.parquet", table, detector)
        log(f"clean run of the {detector} sample")
        reconstruct_clean(folder / f"{detector}.parquet", folder / f"{detector}-reco.parquet", detector)
    write_events(folder / "evaluate" / "truth.parquet",
                 simulated("baikal-gvd", 120, 2, mix={"numu_cc": 1, "eas": 1}), "baikal-gvd")
    log("clean run of the sample to evaluate")
    reconstruct_clean(folder / "evaluate" / "truth.parquet", folder / "evaluate" / "reco.parquet", "baikal-gvd")
    write_events(folder / "big" / "big.parquet", copies(samples["baikal-gvd"], BIG_COPIES), "baikal-gvd")
    log("clean two-worker run of the big sample")
    ran = run(graphreco("reconstruct", "big.parquet", "-o", str(folder / "big-reco.parquet"), "--detector",
                        "baikal-gvd", "--workers", "2", "--batch-size", BIG_BATCH), folder / "big")
    if ran.code != 0:
        raise SystemExit(f"the clean run of the big sample failed: {ran.err}")
    record.write_text(json.dumps({"big_seconds": ran.seconds}))
    return Assets(folder, ran.seconds)


# --- cases -----------------------------------------------------------------------------------------


@dataclass
class Result:
    """What a case found: what it got (for the table) and what was not handled well."""

    got: str
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Case:
    """One entry of the matrix: ``check`` runs it in an empty folder of its own."""

    name: str
    item: int
    expected: str
    check: Callable[[Path], Result]
    neighbour: bool = False
    alone: bool = False


Check = Callable[[Path, Ran], str | None]
"""A case's own check of a finished command: a problem, or None."""
Setup = Callable[[Path], list[str]]
"""Writes a case's files into its folder; returns graphreco's arguments."""


def describe(codes: Iterable[int], note: str) -> str:
    """The expected column: the exit codes and what else must hold."""
    return f"exit {'/'.join(map(str, sorted(codes)))}" + (f"; {note}" if note else "")


def exit_problems(ran: Ran, codes: Iterable[int]) -> list[str]:
    """What every command must get right: an expected exit code, in time, and no
    traceback or internal error."""
    problems = []
    if ran.code is None:
        problems.append("still running at its timeout")
    elif ran.code not in codes:
        problems.append(f"exit {ran.code} ({ran.last_error()})")
    if "Traceback" in ran.err or "internal error" in ran.err:
        problems.append("traceback or internal error on stderr")
    return problems


def file_problems(before: dict[str, str], after: dict[str, str], writes: Iterable[str]) -> list[str]:
    """No file changed, made or removed (a partial output, a temporary or lock file left,
    an input overwritten) but the outputs a command may write."""
    changed = sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))
    unexpected = [path for path in changed if path not in writes]
    return [f"changed or left behind: {', '.join(unexpected)}"] if unexpected else []


def cli_check(setup: Setup, codes: frozenset[int], writes: tuple[str, ...], writes_on: frozenset[int],
              checks: tuple[Check, ...], folder: Path) -> Result:
    """Set up, run ``graphreco`` once, and check the command and the case's own checks."""
    args = setup(folder)
    before = snapshot(folder)
    ran = run(graphreco(*args), folder)
    problems = exit_problems(ran, codes) + file_problems(before, snapshot(folder),
                                                         writes if ran.code in writes_on else ())
    if not problems:
        problems = [problem for check in checks if (problem := check(folder, ran))]
    return Result("timeout" if ran.code is None else f"exit {ran.code}", problems)


def cli_case(name: str, item: int, setup: Setup, codes: Iterable[int], note: str = "",
             writes: Sequence[str] = (), checks: Sequence[Check] = (), neighbour: bool = False,
             writes_on: Iterable[int] = (0,)) -> Case:
    """A case of one ``graphreco`` command: it exits with one of ``codes``, may write only
    ``writes`` (relative to its folder; the one exit code that may write is 0, unless a
    case says so with ``writes_on``) and passes ``checks``."""
    codes = frozenset(codes)
    note = note or ("nothing written, inputs untouched" if 0 not in codes else "")
    check = functools.partial(cli_check, setup, codes, tuple(writes), frozenset(writes_on), tuple(checks))
    return Case(name, item, describe(codes, note), check, neighbour)


def placed(source: Path, folder: Path, name: str = "in/events.parquet") -> None:
    """A copy of ``source`` in the case's folder."""
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def written(table: pa.Table, folder: Path, detector: str, name: str = "in/events.parquet") -> None:
    """``table`` as an event file of ``detector`` in the case's folder."""
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    write_events(target, table, detector)


def reconstruct_args(source: str, detector: str = "baikal-gvd", *options: str,
                     output: str = "out.parquet") -> list[str]:
    """``reconstruct SOURCE -o OUTPUT --detector DETECTOR --workers 1 OPTIONS``."""
    return ["reconstruct", source, "-o", output, "--detector", detector, "--workers", "1", *options]


# --- checks ----------------------------------------------------------------------------------------


def stderr_has(text: str) -> Check:
    """stderr holds ``text``."""
    return lambda folder, ran: None if text in ran.err else f"stderr does not say {text!r}"


def stderr_lacks(text: str) -> Check:
    """stderr does not hold ``text``."""
    return lambda folder, ran: f"stderr says {text!r}" if text in ran.err else None


def equals_clean(clean: Path, output: str = "out.parquet") -> Check:
    """The output equals the clean run's."""
    def check(folder: Path, ran: Ran) -> str | None:
        difference = tables_differ(pq.read_table(folder / output), pq.read_table(clean))
        return f"output differs from the clean run's: {difference}" if difference else None
    return check


def has_schema_of(clean: Path, output: str = "out.parquet") -> Check:
    """The output has the clean output's columns and types."""
    def check(folder: Path, ran: Ran) -> str | None:
        got, want = pq.read_schema(folder / output).remove_metadata(), pq.read_schema(clean).remove_metadata()
        return None if got == want else f"schema {got.names} instead of {want.names}"
    return check


# --- item 1: outputs onto inputs -----------------------------------------------------------------


def sandbox(assets: Assets, folder: Path) -> None:
    """The input ``in/events.parquet`` with a symbolic and a hard link to it, a symbolic
    link to its folder, and an existing output folder."""
    placed(assets.sample("baikal-gvd"), folder)
    (folder / "link.parquet").symlink_to(folder / "in" / "events.parquet")
    os.link(folder / "in" / "events.parquet", folder / "hard.parquet")
    (folder / "linkdir").symlink_to(folder / "in", target_is_directory=True)
    (folder / "outdir").mkdir()


def onto(assets: Assets, target: Callable[[Path], str], source: str = "in/events.parquet") -> Setup:
    """Reconstruct ``source`` of the sandbox into what ``target`` names in the case's folder."""
    def setup(folder: Path) -> list[str]:
        sandbox(assets, folder)
        return reconstruct_args(source, output=target(folder))
    return setup


def output_cases(assets: Assets) -> list[Case]:
    """Item 1: an output that resolves to an input is refused (exit 2), the input untouched."""
    targets: dict[str, Callable[[Path], str]] = {
        "the same path": lambda f: "in/events.parquet",
        "the same path, absolute": lambda f: str(f / "in" / "events.parquet"),
        "a symbolic link to it": lambda f: "link.parquet", "a hard link to it": lambda f: "hard.parquet",
        "its folder": lambda f: "in", "its folder with a slash": lambda f: "in/",
        "a link to its folder": lambda f: "linkdir",
        "itself through a linked folder": lambda f: "linkdir/events.parquet",
    }
    cases = [cli_case(f"-o onto the input: {name}", 1, onto(assets, target), {2},
                      checks=[stderr_has("would replace the input")]) for name, target in targets.items()]
    cases.append(cli_case("-o onto the input: input given as its folder, -o the folder", 1,
                          onto(assets, lambda f: "in", source="in"), {2}))

    def same_stems(folder: Path) -> list[str]:
        placed(assets.sample("baikal-gvd"), folder, "a/events.parquet")
        placed(assets.sample("baikal-gvd"), folder, "b/events.parquet")
        return ["reconstruct", "a/events.parquet", "b/events.parquet", "-o", "out", "--detector", "baikal-gvd"]
    cases.append(cli_case("two inputs with one stem would write one output", 1, same_stems, {2}))

    def report_onto_truth(folder: Path) -> list[str]:
        placed(assets.sample("baikal-gvd"), folder)
        placed(assets.clean("baikal-gvd"), folder, "reco.parquet")
        return ["evaluate", "in/events.parquet", "reco.parquet", "--report", "in"]
    cases.append(cli_case("evaluate --report onto the truth's folder", 1, report_onto_truth, {2}, neighbour=True))
    cases.append(cli_case("-o where nothing can be written (/proc)", 10,
                          onto(assets, lambda f: "/proc/graphreco/out.parquet"), {2},
                          checks=[stderr_has("cannot be written")]))
    clean = assets.clean("baikal-gvd")
    for target, output in (("missing/deeper/out.parquet", "missing/deeper/out.parquet"),
                           ("outdir", "outdir/events.parquet")):
        cases.append(cli_case(f"-o {target}: a new output", 1, onto(assets, lambda f, t=target: t), {0},
                              "the output equals a clean run's", writes=[output], checks=[equals_clean(clean, output)],
                              neighbour=True))
    return cases


# --- item 2: evaluate -----------------------------------------------------------------------------


def strict_json(text: str) -> object:
    """``text`` parsed as standard JSON: NaN or Infinity refused."""
    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")
    return json.loads(text, parse_constant=refuse)


def rejections(result: object) -> list[dict]:
    """Every point of the GNN's ``rejection_at_efficiency`` in an evaluation."""
    found = []
    if isinstance(result, dict):
        for key, value in result.items():
            if key == "gnn" and isinstance(value, dict):
                found += value.get("rejection_at_efficiency", [])
            found += rejections(value)
    elif isinstance(result, list):
        for value in result:
            found += rejections(value)
    return found


def evaluation_problem(ran: Ran, random_scores: bool) -> str | None:
    """The evaluation's JSON is strict, its cuts are numbers or null (never NaN), and a
    random classifier is not reported to reject more than twice what chance gives (1/eff)."""
    try:
        points = rejections(strict_json(ran.out))
    except ValueError as error:
        return f"stdout is not strict JSON ({error})"
    if not points:
        return "no rejection_at_efficiency of the GNN in the evaluation"
    for point in points:
        claimed = point.get("rejection", point.get("rejection_lower_limit_90cl"))
        if point["threshold"] is None and claimed is not None:
            return f"a rejection of {claimed} without a cut at efficiency {point['efficiency']}"
        if random_scores and claimed is not None and claimed > 2.0 / point["efficiency"]:
            return f"a random score is said to reject {claimed:.1f} at efficiency {point['efficiency']}"
    return None


def evaluate_cases(assets: Assets) -> list[Case]:
    """Item 2: NaN scores and random classifiers give honest figures in strict JSON; and
    item 10: a damaged reconstruction or truth is bad input (exit 3)."""
    truth, reco = pq.read_table(assets.truth), pq.read_table(assets.truth_reco)
    kinds = np.asarray(truth.column("true_kind").to_pylist())
    first_numu = int(np.argmax(kinds == "numu_cc"))
    rng = np.random.default_rng(23)
    given = reco.column("event_score").to_numpy()
    random = rng.random(kinds.size).astype(np.float32)
    variants = {
        "one NaN event_score": (np.where(np.arange(kinds.size) == first_numu, np.nan, given), False),
        "random event_score": (random, True),
        "random event_score with one NaN": (np.where(np.arange(kinds.size) == first_numu, np.nan, random), True),
        "every event_score NaN": (np.full(kinds.size, np.nan), False),
    }
    cases = []
    for name, (values, is_random) in variants.items():
        table = with_column(reco, "event_score", pa.array(values.astype(np.float32)))

        def setup(folder: Path, table: pa.Table = table) -> list[str]:
            placed(assets.truth, folder, "truth.parquet")
            pq.write_table(table, folder / "reco.parquet")
            return ["evaluate", "truth.parquet", "reco.parquet"]
        cases.append(cli_case(f"evaluate: {name}", 2, setup, {0}, "strict JSON, no figure from a NaN cut"
                              + (", rejection <= 2/efficiency" if is_random else ""),
                              checks=[lambda folder, ran, r=is_random: evaluation_problem(ran, r)]))
    damages: dict[str, Callable[[Path], None]] = {
        "zero-byte reconstruction": lambda f: (f / "reco.parquet").write_bytes(b""),
        "truncated reconstruction": lambda f: (f / "reco.parquet").write_bytes(assets.truth_reco.read_bytes()[:2000]),
        "reconstruction without event_id": lambda f: pq.write_table(reco.drop_columns(["event_id"]),
                                                                    f / "reco.parquet"),
        "reconstruction of other events": lambda f: shutil.copyfile(assets.clean("baikal-gvd"), f / "reco.parquet"),
        "zero-byte truth": lambda f: (f / "truth.parquet").write_bytes(b""),
    }
    for name, damage in damages.items():
        def setup(folder: Path, damage: Callable[[Path], None] = damage) -> list[str]:
            placed(assets.truth, folder, "truth.parquet")
            placed(assets.truth_reco, folder, "reco.parquet")
            damage(folder)
            return ["evaluate", "truth.parquet", "reco.parquet"]
        cases.append(cli_case(f"evaluate: {name}", 10, setup, {3}, checks=[stderr_has("graphreco: error: ")]))
    return cases


# --- item 3: float64 time offsets ----------------------------------------------------------------


def shifted_times(table: pa.Table, offsets: np.ndarray) -> pa.Table:
    """``table`` with ``t`` in float64, each event's hits moved by its ``offsets`` (ns)."""
    column = table.column("t").combine_chunks()
    per_hit = np.repeat(offsets, np.diff(column.offsets.to_numpy()))
    values = column.values.to_numpy().astype(np.float64) + per_hit
    return with_column(table, "t", pa.ListArray.from_arrays(column.offsets, pa.array(values, pa.float64())))


def moved_at_most(clean: Path, degrees: float) -> Check:
    """No direction of the output is more than ``degrees`` from the clean run's."""
    def check(folder: Path, ran: Ran) -> str | None:
        moved = directions_moved(pq.read_table(folder / "out.parquet"), pq.read_table(clean))
        return None if moved <= degrees else f"a direction moved by {moved:.3g} deg"
    return check


TIME_OFFSETS: dict[str, Callable[[int], np.ndarray]] = {
    "1 s": lambda n: np.full(n, 1e9), "1000 s": lambda n: np.full(n, 1e12),
    "1 s + 1 s per event": lambda n: 1e9 * (1 + np.arange(n)), "1 us (control)": lambda n: np.full(n, 1e3)}
"""Offsets (ns) of the events of a sample of ``n``: common ones, one per event, and a
small one that float32 holds too."""
OFFSETS_TRIED = {"baikal-gvd": ("1 s", "1 s + 1 s per event", "1 us (control)"), "ta-sd": ("1 s", "1000 s")}


def time_offset_cases(assets: Assets) -> list[Case]:
    """Item 3: a time offset in float64 moves no direction by more than 0.1 deg."""
    cases = []
    for detector, names in OFFSETS_TRIED.items():
        table = assets.table(detector)
        for name in names:
            shifted = shifted_times(table, TIME_OFFSETS[name](table.num_rows))

            def setup(folder: Path, shifted: pa.Table = shifted, detector: str = detector) -> list[str]:
                written(shifted, folder, detector)
                return reconstruct_args("in/events.parquet", detector)
            cases.append(cli_case(f"{detector}: float64 t with an offset of {name}", 3, setup, {0},
                                  "no direction moves by more than 0.1 deg", writes=["out.parquet"],
                                  checks=[moved_at_most(assets.clean(detector), 0.1)],
                                  neighbour=name.endswith("(control)")))
    return cases


# --- item 4: damaged files ---------------------------------------------------------------------


def flip(position: int) -> Callable[[bytes], bytes]:
    """A damage: the byte at ``position`` inverted."""
    return lambda data: data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1:]


def page_positions(path: Path, columns: Sequence[str], fractions: Sequence[float]) -> dict[str, int]:
    """Byte positions inside the column chunks of ``columns`` (first row group), at
    ``fractions`` of each chunk: in its pages' data, past the page headers."""
    metadata = pq.ParquetFile(path).metadata.row_group(0)
    chunks = {metadata.column(i).path_in_schema.split(".")[0]: metadata.column(i) for i in range(metadata.num_columns)}
    positions = {}
    for name in columns:
        chunk = chunks[name]
        first = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
        for fraction in fractions:
            positions[f"{name} at {fraction:.0%}"] = first + int(chunk.total_compressed_size * fraction)
    return positions


def damaged_file_cases(assets: Assets) -> list[Case]:
    """Item 4: a byte flipped in a data page is found (page checksums): exit 3 naming
    the file, nothing written; and damaged files of every kind are bad input."""
    source = assets.sample("baikal-gvd")
    data = source.read_bytes()
    damages = {f"one byte flipped in {where}": flip(position)
               for where, position in page_positions(source, ("x", "t", "charge"), (0.5, 0.95)).items()}
    cases = []
    for name, damage in damages.items():
        def setup(folder: Path, damage: Callable[[bytes], bytes] = damage) -> list[str]:
            (folder / "events.parquet").write_bytes(damage(data))
            return reconstruct_args("events.parquet")
        cases.append(cli_case(name, 4, setup, {3}, "named as bad input, nothing written",
                              checks=[stderr_has("graphreco: error: events.parquet")]))
    footer = int.from_bytes(data[-8:-4], "little")
    neighbours = {"zero bytes": lambda d: b"", "truncated to half": lambda d: d[:len(d) // 2],
                  "not Parquet (CSV)": lambda d: b"event_id,x\n1,2\n"}
    for name, damage in neighbours.items():
        def setup(folder: Path, damage: Callable[[bytes], bytes] = damage) -> list[str]:
            (folder / "events.parquet").write_bytes(damage(data))
            return reconstruct_args("events.parquet")
        cases.append(cli_case(f"damaged file: {name}", 4, setup, {3}, checks=[stderr_has("graphreco: error: ")],
                              neighbour=True))

    def footer_flip(folder: Path) -> list[str]:
        (folder / "events.parquet").write_bytes(flip(len(data) - 8 - footer // 2)(data))
        return reconstruct_args("events.parquet")
    same_if_done = equals_clean(assets.clean("baikal-gvd"))
    cases.append(cli_case("one byte flipped in the footer", 4, footer_flip, {0, 3},
                          "bad input, or an output equal to a clean run's", writes=["out.parquet"],
                          checks=[lambda f, ran: same_if_done(f, ran) if ran.code == 0 else None], neighbour=True))
    return cases


# --- items 5 and 9: kill -9, resume ------------------------------------------------------------------


def children() -> dict[int, int]:
    """The parent of every process (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return parents


def descendants(pid: int) -> set[int]:
    """Every process started by ``pid``, and by those, and so on."""
    parents, found, todo = children(), set(), [pid]
    while todo:
        parent = todo.pop()
        for child, of in parents.items():
            if of == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def big_command(output: str = "out.parquet", workers: str = "2") -> list[str]:
    """Reconstruct the big sample (``in/big.parquet`` of a case) into ``output``."""
    return graphreco("reconstruct", "in/big.parquet", "-o", output, "--detector", "baikal-gvd",
                     "--workers", workers, "--batch-size", BIG_BATCH)


def orphans_check(assets: Assets, folder: Path) -> Result:
    """kill -9 of the main process alone: its fork server, resource tracker and workers
    end within 15 s."""
    placed(assets.big, folder, "in/big.parquet")
    job = start(big_command(), folder)
    started: set[int] = set()
    try:
        while len(started) < 4 and time.monotonic() - job.began < 60 and job.running():
            started = descendants(job.pid)
            time.sleep(0.2)
        time.sleep(1.0)
        started |= descendants(job.pid)
        if len(started) < 4 or not job.running():
            return Result(f"{len(started)} processes started", ["the run did not start its two workers, or ended "
                                                                 "before the kill (make BIG_COPIES larger)"])
        os.kill(job.pid, signal.SIGKILL)
        finish(job)
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [pid for pid in started if alive(pid)]
        return Result(f"{len(left)} of {len(started)} left", [f"processes {left} outlived the main process"] if left
                      else [])
    finally:
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        stop(job)


def stop(job: Job) -> None:
    """Kill what is left of ``job``'s process group and reap it, unless ``finish`` did."""
    if job.process.returncode is None:
        try:
            os.killpg(job.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        finish(job)


def killed_and_rerun_check(assets: Assets, fraction: float, folder: Path) -> Result:
    """kill -9 of the whole job ``fraction`` into a clean run's time, then a rerun: the
    output is absent or complete after the kill, and equals the clean run's after the
    rerun, with nothing left behind."""
    placed(assets.big, folder, "in/big.parquet")
    job = start(big_command(), folder)
    time.sleep(fraction * assets.big_seconds)
    os.killpg(job.pid, signal.SIGKILL)
    finish(job)
    problems = []
    if (folder / "out.parquet").exists():
        difference = tables_differ(pq.read_table(folder / "out.parquet"), pq.read_table(assets.big_clean))
        problems += [f"the output seen after the kill is partial: {difference}"] if difference else []
    rerun = run(big_command(), folder)
    problems += exit_problems(rerun, {0}) + leftovers(folder, "in/big.parquet", "out.parquet")
    if rerun.code == 0:
        difference = tables_differ(pq.read_table(folder / "out.parquet"), pq.read_table(assets.big_clean))
        problems += [f"the rerun's output differs from a clean run's: {difference}"] if difference else []
    return Result(f"rerun exit {rerun.code}", problems)


def leftovers(folder: Path, *expected: str) -> list[str]:
    """Files in ``folder`` besides the ``expected`` ones (temporary, lock, partial files)."""
    left = sorted(set(snapshot(folder)) - set(expected))
    return [f"left behind: {', '.join(left)}"] if left else []


def kill_cases(assets: Assets) -> list[Case]:
    """Item 5, and the resume the issue says must hold after kill -9."""
    cases = [Case("kill -9 of the main process: no orphans", 5, "fork server, tracker and workers end within 15 s",
                  functools.partial(orphans_check, assets), alone=True)]
    cases += [Case(f"kill -9 of the job at {fraction:.0%} of its time, then a rerun", 5,
                   "no partial output; the rerun's output equals a clean run's, nothing left",
                   functools.partial(killed_and_rerun_check, assets, fraction), neighbour=True, alone=True)
              for fraction in (0.6,)]
    return cases


def status_of(ran: Ran) -> str | None:
    """The status of the first file in a ``reconstruct`` summary (None without one)."""
    try:
        return json.loads(ran.out)["files"][0]["status"]
    except (ValueError, KeyError, IndexError):
        return None


def rerun_check(assets: Assets, change: Callable[[Path], list[str] | None], expected: str, folder: Path) -> Result:
    """A run, ``change`` (of the input, output or settings: it may return other
    arguments), a rerun whose file status must be ``expected``."""
    placed_uncompressed(assets, folder)
    args = reconstruct_args("in/events.parquet")
    first = run(graphreco(*args), folder)
    if first.code != 0:
        return Result(f"first run exit {first.code}", [first.last_error()])
    args = change(folder) or args
    before = snapshot(folder)
    rerun = run(graphreco(*args), folder)
    problems = exit_problems(rerun, {0}) + file_problems(before, snapshot(folder), ["out.parquet"])
    if status_of(rerun) != expected:
        problems.append(f"the rerun says {status_of(rerun)!r}")
    return Result(f"exit {rerun.code}, {status_of(rerun)}", problems)


def placed_uncompressed(assets: Assets, folder: Path, name: str = "in/events.parquet", t_shift: float = 0.0) -> None:
    """The Baikal-GVD sample written uncompressed and without dictionaries, its first
    hit's time moved by ``t_shift``: files of one size and number of events, other content."""
    table = assets.table("baikal-gvd")
    if t_shift:
        table = with_hit_values(table, "t", set_first_hit_by(t_shift))
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata({"detector": "baikal-gvd"}), target, compression="none",
                   use_dictionary=False)


def set_first_hit_by(shift: float) -> Callable[[np.ndarray], np.ndarray]:
    """A ``change`` that moves the first hit of the file by ``shift``."""
    def change(values: np.ndarray) -> np.ndarray:
        values[0] += shift
        return values
    return change


def older(path: Path, than: Path) -> None:
    """Make ``path`` look a second older than ``than``."""
    stamp = than.stat().st_mtime_ns - 10**9
    os.utime(path, ns=(stamp, stamp))


def resume_cases(assets: Assets) -> list[Case]:
    """Item 9: an output counts as complete only for the same input content and settings."""
    def changed_in_place(folder: Path) -> None:
        placed_uncompressed(assets, folder, t_shift=1.0)
        older(folder / "out.parquet", than=folder / "in" / "events.parquet")

    def elsewhere(folder: Path) -> list[str]:
        placed_uncompressed(assets, folder, "elsewhere/events.parquet", t_shift=1e6)
        older(folder / "elsewhere" / "events.parquet", than=folder / "out.parquet")
        return reconstruct_args("elsewhere/events.parquet")

    def truncated(folder: Path) -> None:
        output = folder / "out.parquet"
        output.write_bytes(output.read_bytes()[: output.stat().st_size // 2])

    changes: dict[str, tuple[Callable[[Path], list[str] | None], str]] = {
        "nothing changed": (lambda folder: None, "already complete"),
        "the input changed in place, same size": (changed_in_place, "reconstructed"),
        "a same-named input from another folder": (elsewhere, "reconstructed"),
        "another --batch-size": (lambda f: reconstruct_args("in/events.parquet", "baikal-gvd", "--batch-size", "7"),
                                 "reconstructed"),
        "the output truncated": (truncated, "reconstructed"),
    }
    return [Case(f"rerun after {name}", 9, f"exit 0, {expected!r}",
                 functools.partial(rerun_check, assets, change, expected), neighbour=name == "nothing changed")
            for name, (change, expected) in changes.items()]


# --- items 6, 7, 8: kept columns, degenerate events, two runs --------------------------------------


def keep_cases(assets: Assets) -> list[Case]:
    """Item 6: kept columns that would repeat a name are refused (exit 2); neighbours."""
    def keeping(columns: str) -> Setup:
        def setup(folder: Path) -> list[str]:
            placed(assets.sample("baikal-gvd"), folder)
            return reconstruct_args("in/events.parquet", "baikal-gvd", "--keep-columns", columns)
        return setup
    cases = [cli_case(f"--keep-columns {columns}", 6, keeping(columns), {2}, checks=[stderr_has("keep")])
             for columns in ("event_id", "x,x", "hit_score")]
    cases.append(cli_case("--keep-columns of an unknown column", 6, keeping("no_such_column"), {2, 3},
                          checks=[stderr_has("no_such_column")], neighbour=True))

    def kept_once(folder: Path, ran: Ran) -> str | None:
        names = pq.read_schema(folder / "out.parquet").names
        return None if names[-2:] == ["true_kind", "x"] and len(set(names)) == len(names) else f"columns {names}"
    cases.append(cli_case("--keep-columns true_kind,x", 6, keeping("true_kind,x"), {0}, "each kept column once, last",
                          writes=["out.parquet"], checks=[kept_once], neighbour=True))
    return cases


def one_point_check(folder: Path) -> Result:
    """Three events of 10,000 hits at one module and time: done (or refused as bad input)
    within a minute and 2 GB, after a warm-up run on an event of 2,000 hits at that module,
    0.5 ns apart (valid: it compiles what a reconstruction of such hits runs)."""
    module = default_configuration(detectors.get("baikal-gvd")).position[0].astype(np.float32)
    hits = {name: np.full(30_000, value, dtype=np.float32)
            for name, value in zip(("x", "y", "z", "t", "charge"), (*module, 10.0, 10.0))}
    warm_hits = {k: v[:2000] for k, v in hits.items()} | {"t": np.arange(2000, dtype=np.float32) * np.float32(0.5)}
    write_events(folder / "warm.parquet", event_table(np.arange(1), np.array([0, 2000]), warm_hits), "baikal-gvd")
    write_events(folder / "one_point.parquet", event_table(np.arange(3), np.arange(4) * 10_000, hits), "baikal-gvd")
    warm = run(graphreco(*reconstruct_args("warm.parquet", output="warm-out.parquet")), folder)
    ran = run(graphreco(*reconstruct_args("one_point.parquet")), folder)
    problems = exit_problems(ran, {0, 3})
    if warm.code != 0:
        problems.append(f"the warm-up exits {warm.code}")
    if ran.seconds > 60 or ran.peak_mb > 2048:
        problems.append(f"{ran.seconds:.0f} s and {ran.peak_mb:.0f} MB")
    return Result(f"exit {ran.code}, {ran.seconds:.0f} s, {ran.peak_mb:.0f} MB", problems)


def degenerate_cases(assets: Assets) -> list[Case]:
    """Item 7: coincident hits finish in bounded time and memory; degenerate events get
    no confident outputs."""
    module = default_configuration(detectors.get("baikal-gvd")).position[0].astype(np.float32)

    def identical(folder: Path) -> list[str]:
        hits = {name: np.full(60, value, np.float32) for name, value in zip(("x", "y", "z", "t", "charge"),
                                                                          (*module, 10.0, 10.0))}
        written(event_table(np.arange(1), np.array([0, 60]), hits), folder, "baikal-gvd")
        return reconstruct_args("in/events.parquet")

    def not_confident(folder: Path, ran: Ran) -> str | None:
        if ran.code != 0:
            return None
        row = pq.read_table(folder / "out.parquet").drop_columns(["hit_score", "hit_track_score"]).to_pylist()[0]
        confident = not math.isnan(row["event_score"]) and row["event_score"] >= 0.99
        if confident or not math.isnan(row["reco_zenith"]):
            return f"event_score {row['event_score']:.3f}, reco_zenith {row['reco_zenith']:.3f} from one position"
        return None

    def first_counters(count: int) -> Setup:
        def setup(folder: Path) -> list[str]:
            table = assets.table("ta-sd")
            for name in table.schema.names:
                if pa.types.is_list(table.schema.field(name).type):
                    table = with_column(table, name, pc.list_slice(table[name], 0, count))
            written(table, folder, "ta-sd")
            return reconstruct_args("in/events.parquet", "ta-sd")
        return setup

    def no_estimates(folder: Path, ran: Ran) -> str | None:
        output = pq.read_table(folder / "out.parquet")
        finite = [name for name in ("reco_zenith", "reco_core_x", "reco_core_y", "reco_log10_energy")
                  if not np.all(np.isnan(output.column(name).to_numpy()))]
        return f"estimates from too few counters: {finite}" if finite else None

    return [Case("three events of 10,000 hits at one point", 7, "exit 0/3 within 60 s and 2 GB", one_point_check,
                 alone=True),
            cli_case("60 identical hits", 7, identical, {0, 3}, "no direction, event_score not >= 0.99",
                     writes=["out.parquet"], checks=[not_confident]),
            cli_case("TA SD: one counter per event", 7, first_counters(1), {0}, "no direction, energy or core",
                     writes=["out.parquet"], checks=[no_estimates]),
            cli_case("TA SD: two counters per event", 7, first_counters(2), {0}, "no direction, energy or core",
                     writes=["out.parquet"], checks=[no_estimates], neighbour=True)]


def two_runs_check(assets: Assets, folder: Path) -> Result:
    """Item 8: a second run on an output in use exits 2 saying so; the first finishes
    with the right output."""
    placed(assets.big, folder, "in/big.parquet")
    first = start(big_command(workers="1"), folder)
    began = time.monotonic()
    lock = folder / ".out.parquet.lock"
    while not lock.exists() and time.monotonic() - began < 60 and first.running():
        time.sleep(0.05)
    second = run(big_command(workers="1"), folder, timeout=60)
    done = finish(first)
    problems = exit_problems(second, {2}) + exit_problems(done, {0})
    if second.code == 2 and "another run" not in second.err:
        problems.append("the second run does not say the output is in use")
    if done.code == 0:
        difference = tables_differ(pq.read_table(folder / "out.parquet"), pq.read_table(assets.big_clean))
        problems += [f"the first run's output differs from a clean run's: {difference}"] if difference else []
    problems += leftovers(folder, "in/big.parquet", "out.parquet")
    return Result(f"second exit {second.code}, first exit {done.code}", problems)


def lock_cases(assets: Assets) -> list[Case]:
    """Item 8: two runs on one output."""
    return [Case("a second run on an output in use", 8, "the second exits 2 saying so; the first's output is right",
                 functools.partial(two_runs_check, assets), alone=True)]


# --- item 10 and the flags ---------------------------------------------------------------------------


def flag_cases(assets: Assets) -> list[Case]:
    """Item 10: exit codes that say what happened (2 usage, 3 bad input); and the flags'
    neighbours, misused (exit 2 or 3) and odd but valid (exit 0, a clean run's output)."""
    def on_sample(*options: str, detector: str = "baikal-gvd") -> Setup:
        def setup(folder: Path) -> list[str]:
            placed(assets.sample(detector), folder)
            return reconstruct_args("in/events.parquet", detector, *options)
        return setup

    def args(*arguments: str) -> Setup:
        def setup(folder: Path) -> list[str]:
            placed(assets.sample("baikal-gvd"), folder)
            return list(arguments)
        return setup

    def after(write: Callable[[Path], object], setup: Setup) -> Setup:
        """``setup`` once ``write`` made a file or folder of the case."""
        def combined(folder: Path) -> list[str]:
            write(folder)
            return setup(folder)
        return combined

    in_issue = ("--batch-size 0", "simulate --events 0", "simulate ta-sd, lowest energy above the highest")
    usage = {
        "--batch-size 0": on_sample("--batch-size", "0"), "--batch-size -5": on_sample("--batch-size", "-5"),
        "--batch-size abc": on_sample("--batch-size", "abc"), "--workers -1": on_sample("--workers", "-1"),
        "--threads 2 (reconstruct has none)": on_sample("--threads", "2"), "an unknown flag": on_sample("--bogus"),
        "--detector and --pipeline": on_sample("--pipeline", str(SHIPPED / "baikal_gvd" / "artifacts")),
        "neither --detector nor --pipeline": args("reconstruct", "in/events.parquet", "-o", "out.parquet"),
        "no -o": args("reconstruct", "in/events.parquet", "--detector", "baikal-gvd"),
        "--pipeline-sha256 abc": on_sample("--pipeline-sha256", "abc"),
        "graphs --batch-size 0": args("graphs", "in/events.parquet", "--batch-size", "0"),
        "export --detector icecube": args("export", "--detector", "icecube", "-o", "exported"),
        "simulate --events 0": args("simulate", "baikal-gvd", "--events", "0", "-o", "sim.parquet"),
        "simulate ta-sd, lowest energy above the highest": args(
            "simulate", "ta-sd", "--events", "5", "--log10-energy-min", "20", "--log10-energy-max", "19",
            "-o", "sim.parquet"),
        "an unknown command": args("bogus"),
        "--geometry for lhc-pf (no sensors)": on_sample("--geometry", str(TA_LAYOUT), detector="lhc-pf"),
    }
    cases = [cli_case(name, 10, setup, {2}, neighbour=name not in in_issue) for name, setup in usage.items()]
    cases.append(cli_case("--detector icecube", 10, args(*reconstruct_args("in/events.parquet", "icecube")), {2},
                          checks=[stderr_has("known detectors: baikal-gvd, lhc-pf, ta-sd")]))
    bad_input = {
        "a missing input": args(*reconstruct_args("in/missing.parquet")),
        "a glob that matches nothing": args(*reconstruct_args("in/*.root")),
        "--geometry missing": on_sample("--geometry", "missing.geometry.parquet"),
        "--geometry garbage": after(lambda f: (f / "junk.geometry.parquet").write_text("junk"),
                                    on_sample("--geometry", "junk.geometry.parquet")),
        "--geometry an event file": on_sample("--geometry", "in/events.parquet"),
    }
    cases += [cli_case(name, 10, setup, {3}, checks=[stderr_has("graphreco: error: ")], neighbour=True)
              for name, setup in bad_input.items()]
    clean = assets.clean("baikal-gvd")

    def good_and_bad(folder: Path) -> list[str]:
        placed(assets.sample("baikal-gvd"), folder, "in/good.parquet")
        (folder / "in" / "bad.parquet").write_bytes(b"")
        return ["reconstruct", "in", "-o", "out/", "--detector", "baikal-gvd", "--workers", "1"]
    cases.append(cli_case("a good and a zero-byte input", 10, good_and_bad, {3},
                          "the bad one named, the good one's output equals a clean run's", writes=["out/good.parquet"],
                          writes_on=[3], checks=[stderr_has("bad.parquet"), equals_clean(clean, "out/good.parquet")],
                          neighbour=True))
    valid = {"--batch-size 10**12": ("--batch-size", str(10**12)),
             "--workers 5 (more than batches)": ("--workers", "5")}
    cases += [cli_case(name, 10, on_sample(*options), {0}, "the output equals a clean run's", writes=["out.parquet"],
                       checks=[equals_clean(clean)], neighbour=True) for name, options in valid.items()]
    return cases


# --- items 11 to 13: empty inputs, absurd values, detectors as paths ------------------------------------


def empty_cases(assets: Assets) -> list[Case]:
    """Item 11: an input without events gets the full output schema; a folder of outputs
    reads as one dataset."""
    cases = []
    for detector in DETECTORS:
        def setup(folder: Path, detector: str = detector) -> list[str]:
            written(assets.table(detector).slice(0, 0), folder, detector)
            return reconstruct_args("in/events.parquet", detector)
        cases.append(cli_case(f"{detector}: an input without events", 11, setup, {0}, "the full output schema",
                              writes=["out.parquet"], checks=[has_schema_of(assets.clean(detector))]))

    def mixed(folder: Path) -> list[str]:
        written(assets.table("ta-sd").slice(0, 0), folder, "ta-sd", "in/empty.parquet")
        placed(assets.sample("ta-sd"), folder, "in/full.parquet")
        return ["reconstruct", "in", "-o", "out/", "--detector", "ta-sd", "--workers", "1"]

    def one_dataset(folder: Path, ran: Ran) -> str | None:
        names = pq.read_table(folder / "out").schema.names
        want = pq.read_schema(assets.clean("ta-sd")).names
        return None if set(want) <= set(names) else f"the folder reads as columns {names}"
    cases.append(cli_case("an empty and a full input read as one dataset", 11, mixed, {0}, "every column kept",
                          writes=["out/empty.parquet", "out/full.parquet"], checks=[one_dataset]))

    def hitless(folder: Path) -> list[str]:
        table = assets.table("baikal-gvd")
        for name in table.schema.names:
            if pa.types.is_list(table.schema.field(name).type):
                table = with_column(table, name, pc.list_slice(table[name], 0, 0))
        written(table, folder, "baikal-gvd")
        return reconstruct_args("in/events.parquet")

    def all_nan(folder: Path, ran: Ran) -> str | None:
        output = pq.read_table(folder / "out.parquet")
        scalar = [name for name in output.schema.names[1:] if not pa.types.is_list(output.schema.field(name).type)]
        finite = [name for name in scalar if not np.all(np.isnan(output.column(name).to_numpy()))]
        return f"values from no hits: {finite}" if finite else None
    cases.append(cli_case("events without hits", 11, hitless, {0}, "every event kept, NaN outputs",
                          writes=["out.parquet"], checks=[all_nan], neighbour=True))
    return cases


def absurd_cases(assets: Assets) -> list[Case]:
    """Item 12: values no detector gives are refused (exit 3) naming the file; a file
    declaring another detector is not run through a pipeline silently."""
    absurd = {("baikal-gvd", "x"): 1e30, ("ta-sd", "x"): 1e30, ("lhc-pf", "eta"): 1e30, ("lhc-pf", "pt"): 1e30,
              ("lhc-pf", "phi"): 100.0, ("lhc-pf", "charge"): 5}
    cases = []
    for (detector, column), value in absurd.items():
        table = with_hit_values(assets.table(detector), column, set_first_hit(value))

        def setup(folder: Path, table: pa.Table = table, detector: str = detector) -> list[str]:
            written(table, folder, detector)
            return reconstruct_args("in/events.parquet", detector)
        cases.append(cli_case(f"{detector}: a hit with {column} = {value:g}", 12, setup, {3},
                              "bad input naming the file", checks=[stderr_has("graphreco: error: in/events.parquet")],
                              neighbour=column in ("phi", "charge")))

    def declared_ta(folder: Path) -> list[str]:
        written(assets.table("baikal-gvd"), folder, "ta-sd")
        return reconstruct_args("in/events.parquet")

    def ta_with_charge(folder: Path) -> list[str]:
        table = assets.table("ta-sd")
        written(table.append_column("charge", table.column("signal_upper")), folder, "ta-sd")
        return reconstruct_args("in/events.parquet")

    def refused_or_warned(folder: Path, ran: Ran) -> str | None:
        return None if ran.code == 3 or "ta-sd" in ran.err else "ran as baikal-gvd without a word about 'ta-sd'"
    for name, setup in (("a Baikal-GVD file declaring ta-sd, run as baikal-gvd", declared_ta),
                        ("a TA SD file with a charge column, run as baikal-gvd", ta_with_charge)):
        cases.append(cli_case(name, 12, setup, {0, 3}, "refused, or a warning naming ta-sd", writes=["out.parquet"],
                              checks=[refused_or_warned]))
    return cases


def detector_path_cases(assets: Assets) -> list[Case]:
    """Item 13: ``--detector`` is a name, never a path (exit 2, unknown detector)."""
    def as_detector(value: Callable[[Path], str], command: str = "reconstruct") -> Setup:
        def setup(folder: Path) -> list[str]:
            placed(assets.sample("baikal-gvd"), folder)
            shutil.copytree(SHIPPED / "baikal_gvd" / "artifacts", folder / "mine" / "artifacts")
            if command == "graphs":
                return ["graphs", "in/events.parquet", "--detector", value(folder)]
            return reconstruct_args("in/events.parquet", value(folder))
        return setup
    values = {"an absolute folder holding artifacts/": lambda f: str(f / "mine"),
              "a relative folder": lambda f: "mine"}
    cases = [cli_case(f"--detector {name}", 13, as_detector(value), {2}, checks=[stderr_has("unknown detector")])
             for name, value in values.items()]
    cases.append(cli_case("graphs --detector an absolute folder", 13, as_detector(lambda f: str(f / "mine"), "graphs"),
                          {2}, checks=[stderr_has("unknown detector")], neighbour=True))
    return cases


# --- item 14: the Python API -------------------------------------------------------------------------

API = """
import json, sys
import numpy as np
from graphreco import Reconstructor
from graphreco.io import EventFormatError
EVENT_IDS = {"0": 0, "2**63": 2**63, "'abc'": "abc", "np.int64(7)": np.int64(7)}
event = json.load(open("event.json"))
reconstructor = Reconstructor(detector="ta-sd", threads=1)
try:
    outputs = reconstructor.reconstruct_event(event["hits"], {}, event_id=EVENT_IDS[event["event_id"]])
except Exception as error:
    print(json.dumps({"error": type(error).__name__, "event_format_error": isinstance(error, EventFormatError)}))
else:
    print(json.dumps({"all_nan": all(bool(np.all(np.isnan(value))) for value in outputs.values())}))
"""


def api_check(hits: dict[str, list], event_id: str, expected: str, folder: Path) -> Result:
    """``Reconstructor.reconstruct_event`` in a process of its own: ``expected`` is
    ``nan`` (NaN outputs), ``finite`` or ``refused`` (an EventFormatError)."""
    (folder / "event.json").write_text(json.dumps({"hits": hits, "event_id": event_id}))
    ran = run([sys.executable, "-c", API], folder)
    problems = exit_problems(ran, {0})
    try:
        answer = json.loads(ran.out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Result(f"exit {ran.code}", problems + ["no answer"])
    got = {True: "nan", False: "finite"}[answer["all_nan"]] if "all_nan" in answer else \
        ("refused" if answer["event_format_error"] else f"raised {answer['error']}")
    if got != expected:
        problems.append(f"{got} instead of {expected}")
    return Result(got, problems)


def api_cases(assets: Assets) -> list[Case]:
    """Item 14: ``reconstruct_event`` treats no hits as files do, and refuses bad ids by name."""
    table = assets.table("ta-sd")
    per_hit = [c.name for c in detectors.get("ta-sd").columns if c.per_hit and c.required]
    first = {name: table.column(name)[0].as_py() for name in per_hit}
    unequal = dict(first, t=first["t"][:-1])
    calls = {"zero hits": ({name: [] for name in per_hit}, "0", "nan"),
             "event_id 2**63": (first, "2**63", "refused"), "event_id 'abc'": (first, "'abc'", "refused"),
             "hit lists of unequal length": (unequal, "0", "refused"),
             "a valid event, numpy int64 id": (first, "np.int64(7)", "finite")}
    return [Case(f"reconstruct_event: {name}", 14, expected, functools.partial(api_check, hits, event_id, expected),
                 neighbour=name.startswith(("hit lists", "a valid")))
            for name, (hits, event_id, expected) in calls.items()]


# --- item 15: no writable home ------------------------------------------------------------------------

IMPORT_EVERYTHING = """
import os
from graphreco import detectors
import graphreco.kernels
for name in detectors.available():
    detectors.get(name)
print(os.environ.get("NUMBA_CACHE_DIR", ""))
"""


def home_check(as_nobody: bool, folder: Path) -> Result:
    """Import every detector and the kernels without a writable HOME: as a user who
    cannot write the install either (nobody), or with numba's locators cut to the one
    of ``NUMBA_CACHE_DIR``, which is unset."""
    env = {key: value for key, value in os.environ.items() if key not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env["HOME"] = "/nonexistent"
    argv = [sys.executable, "-c", IMPORT_EVERYTHING]
    if as_nobody:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    else:
        env["NUMBA_CACHE_LOCATOR_CLASSES"] = "UserProvidedCacheLocator"
    ran = run(argv, Path("/") if as_nobody else folder, env)
    return Result(f"exit {ran.code}", exit_problems(ran, {0}))


def home_cases() -> list[Case]:
    """Item 15 (the case as nobody only where this runs as root)."""
    cases = [Case("import without a writable cache location", 15, "exit 0",
                  functools.partial(home_check, False))]
    if os.geteuid() == 0 and shutil.which("setpriv"):
        cases.append(Case("import as nobody, HOME=/nonexistent", 15, "exit 0", functools.partial(home_check, True)))
    return cases


# --- item 16 and neighbours: tampered pipelines ----------------------------------------------------------


def pipeline_copy(folder: Path) -> Path:
    """A copy of the shipped Baikal-GVD pipeline in the case's folder, ``pipe``."""
    target = folder / "pipe"
    shutil.copytree(SHIPPED / "baikal_gvd" / "artifacts", target)
    return target


def rewrite_weights(pipe: Path, stage: str, change: Callable[[dict], dict] | None = None,
                    raw: bytes | None = None, rehash: bool = True) -> None:
    """Change ``stage``'s weights (a state-dict change or raw bytes) and, with ``rehash``,
    recompute their checksum as whoever edits the folder can."""
    import torch

    weights, config_path = pipe / stage / "weights.pt", pipe / stage / "config.json"
    if raw is not None:
        weights.write_bytes(raw)
    else:
        torch.save(change(torch.load(weights, weights_only=True)), weights)
    if rehash:
        config = json.loads(config_path.read_text())
        config["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
        config_path.write_text(json.dumps(config))


def scaled(state: dict) -> dict:
    """Every floating-point weight 1 % larger."""
    return {key: value * 1.01 if value.is_floating_point() else value for key, value in state.items()}


def poisoned(value: float) -> Callable[[dict], dict]:
    """A change that fills the first floating-point tensor with ``value``."""
    def change(state: dict) -> dict:
        key = next(key for key, tensor in state.items() if tensor.is_floating_point())
        return dict(state, **{key: state[key].fill_(value)})
    return change


class _Payload:
    """What a malicious weights.pt holds: a pickle that creates ``ran.txt`` when loaded."""

    def __reduce__(self):
        return (open, ("ran.txt", "w"))


def malicious(pipe: Path) -> None:
    """The first stage's weights a pickle that runs code on loading, checksum recomputed."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"weights": _Payload()}, buffer)
    rewrite_weights(pipe, "hit_selection", raw=buffer.getvalue())


def edit_json(path: Path, change: Callable[[dict], dict]) -> None:
    """Rewrite the JSON file ``path`` through ``change``."""
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def flip_weights_byte(pipe: Path) -> None:
    """One byte of the first stage's weights flipped, its checksum left as it was."""
    weights = pipe / FIRST_STAGE / "weights.pt"
    data = weights.read_bytes()
    rewrite_weights(pipe, FIRST_STAGE, raw=flip(len(data) // 2)(data), rehash=False)


def foreign_refit(pipe: Path) -> None:
    """The TA SD pipeline's refit stage in place of the Baikal-GVD one."""
    shutil.rmtree(pipe / "refit")
    shutil.copytree(SHIPPED / "ta_sd" / "artifacts" / "refit", pipe / "refit")


def untouched(pipe: Path) -> None:
    """A pipeline copied as it is."""


FIRST_STAGE = "hit_selection"
TAMPERINGS: dict[str, tuple[int, bool, Callable[[Path], object]]] = {
    "NaN weights, checksum recomputed": (16, False, lambda p: rewrite_weights(p, FIRST_STAGE, poisoned(math.nan))),
    "no stages": (16, False, lambda p: edit_json(p / "pipeline.json", lambda c: dict(c, stages=[]))),
    "an unknown stage ../hit_selection": (16, True, lambda p: edit_json(
        p / "pipeline.json", lambda c: dict(c, stages=["../hit_selection"]))),
    "stages reordered (refit first)": (16, True, lambda p: edit_json(
        p / "pipeline.json", lambda c: dict(c, stages=c["stages"][::-1]))),
    "pipeline.json garbage": (16, True, lambda p: (p / "pipeline.json").write_text("{not json")),
    "pipeline.json naming an unknown detector": (16, True, lambda p: edit_json(
        p / "pipeline.json", lambda c: dict(c, detector="icecube"))),
    "a byte of weights.pt flipped": (16, True, flip_weights_byte),
    "weights.pt a pickle that runs code, checksum recomputed": (10, False, malicious),
    "weights.pt malformed, checksum recomputed": (10, False, lambda p: rewrite_weights(
        p, FIRST_STAGE, raw=b"PK\x03\x04 truncated")),
    "config.json's model arguments changed": (16, True, lambda p: edit_json(
        p / FIRST_STAGE / "config.json", lambda c: dict(c, model={"bogus": 1}))),
    "a TA SD stage in the Baikal-GVD pipeline": (16, True, foreign_refit),
}
"""Per tampering: its issue item, whether it is a neighbour, and what it does to a copy
of the shipped Baikal-GVD pipeline."""


def pipeline_cases(assets: Assets) -> list[Case]:
    """Item 16 and item 10's artifacts: a tampered pipeline is refused (exit 3, naming
    it, without torch's advice, without running a pickle's code) unless the change keeps
    every promise; a pinned SHA-256 refuses any other pipeline."""
    pinned = shipped_sha256()

    def on_copy(tamper: Callable[[Path], object], *options: str) -> Setup:
        def setup(folder: Path) -> list[str]:
            placed(assets.sample("baikal-gvd"), folder)
            tamper(pipeline_copy(folder))
            return ["reconstruct", "in/events.parquet", "-o", "out.parquet", "--pipeline", "pipe", "--workers", "1",
                    *options]
        return setup

    def code_not_run(folder: Path, ran: Ran) -> str | None:
        return "the pickle's code ran" if (folder / "ran.txt").exists() else None

    def reported_sha(differs: bool) -> Check:
        def check(folder: Path, ran: Ran) -> str | None:
            reported = json.loads(ran.out).get("pipeline_sha256")
            return None if (reported != pinned) == differs else f"pipeline_sha256 {reported}"
        return check

    cases = [cli_case(f"pipeline: {name}", item, on_copy(tamper), {3}, neighbour=neighbour,
                      checks=[stderr_has("pipe"), stderr_lacks("weights_only"), code_not_run])
             for name, (item, neighbour, tamper) in TAMPERINGS.items()]
    reweighted = functools.partial(rewrite_weights, stage=FIRST_STAGE, change=scaled)
    clean = assets.clean("baikal-gvd")
    cases += [
        cli_case("pipeline: weights scaled, checksum recomputed, SHA-256 pinned", 16,
                 on_copy(reweighted, "--pipeline-sha256", pinned), {3}, checks=[stderr_has("not the pinned")]),
        cli_case("pipeline: weights scaled, checksum recomputed, nothing pinned", 16, on_copy(reweighted), {0},
                 "runs (the documented trust model); its pipeline_sha256 is not the shipped one",
                 writes=["out.parquet"], checks=[reported_sha(differs=True)], neighbour=True),
        cli_case("pipeline: a copy pinned by its SHA-256 in upper case", 16,
                 on_copy(untouched, "--pipeline-sha256", pinned.upper()), {0}, "the output equals a clean run's",
                 writes=["out.parquet"], checks=[equals_clean(clean), reported_sha(differs=False)], neighbour=True),
        cli_case("pipeline: pinned to another SHA-256", 16, on_copy(untouched, "--pipeline-sha256", "0" * 64), {3},
                 checks=[stderr_has("not the pinned")], neighbour=True),
    ]

    def event_file_as_pipeline(folder: Path) -> list[str]:
        placed(assets.sample("baikal-gvd"), folder)
        return ["reconstruct", "in/events.parquet", "-o", "out.parquet", "--pipeline", "in/events.parquet"]
    cases.append(cli_case("pipeline: an event file given as --pipeline", 16, event_file_as_pipeline, {3},
                          neighbour=True))
    return cases


def shipped_sha256() -> str:
    """The shipped Baikal-GVD pipeline's SHA-256 (what ``--pipeline-sha256`` pins)."""
    from graphreco.pipeline import Pipeline

    return Pipeline.shipped("baikal-gvd").sha256()


# --- the matrix -------------------------------------------------------------------------------------------


def all_cases(assets: Assets) -> list[Case]:
    """The matrix, family by family (items 1 to 16, but 15 last)."""
    families = (output_cases, evaluate_cases, time_offset_cases, damaged_file_cases, kill_cases, resume_cases,
                keep_cases, degenerate_cases, lock_cases, flag_cases, empty_cases, absurd_cases, detector_path_cases,
                api_cases, pipeline_cases)
    return [case for family in families for case in family(assets)] + home_cases()


@dataclass
class Row:
    """A case's line of the table and the JSON."""

    case: str
    item: int
    neighbour: bool
    expected: str
    got: str
    ok: bool
    problems: list[str]
    seconds: float


def run_case(case: Case, root: Path, index: int) -> Row:
    """Run one case in ``root/<index>``; an exception of the check itself is a problem too."""
    folder = root / f"{index:03d}"
    folder.mkdir()
    began = time.monotonic()
    try:
        result = case.check(folder)
    except Exception as error:  # noqa: BLE001 - the matrix goes on and reports it
        result = Result("the check failed", [f"{type(error).__name__}: {error}"])
    return Row(case.name, case.item, case.neighbour, case.expected, result.got, not result.problems, result.problems,
               round(time.monotonic() - began, 1))


def run_matrix(cases: Sequence[Case], root: Path, jobs: int, log: Callable[[str], None]) -> list[Row]:
    """Every case, ``jobs`` at a time, then the ones that must run alone; rows in case order."""
    rows: dict[int, Row] = {}

    def one(index: int) -> None:
        rows[index] = run_case(cases[index], root, index)
        row = rows[index]
        log(f"[{len(rows)}/{len(cases)}] {'ok ' if row.ok else 'NOT'} {row.case} ({row.got}, {row.seconds} s)")

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, [i for i, case in enumerate(cases) if not case.alone]))
    for index in (i for i, case in enumerate(cases) if case.alone):
        one(index)
    return [rows[index] for index in range(len(cases))]


def table(rows: Sequence[Row]) -> str:
    """The matrix as a text table: case, item (* for a neighbour), expected, got, ok."""
    width = max(len(row.case) for row in rows)
    expected = min(max(len(row.expected) for row in rows), 80)
    lines = [f"{'case':<{width}}  item  {'expected':<{expected}}  {'got':<24}  ok"]
    for row in rows:
        item = f"{row.item}{'*' if row.neighbour else ''}"
        lines.append(f"{row.case:<{width}}  {item:<4}  {row.expected[:expected]:<{expected}}  {row.got[:24]:<24}  "
                     f"{'yes' if row.ok else 'NO'}")
        lines += [f"{'':<{width}}        -> {problem}" for problem in row.problems]
    return "\n".join(lines)


def cpu_seconds() -> float:
    """CPU time of this process and of the commands it ran (user and system)."""
    own, commands = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + commands.ru_utime + commands.ru_stime


def summary(rows: Sequence[Row], seconds: float) -> dict:
    """Counts over the matrix, per item too; wall and CPU time (the CPU time tells the
    matrix's cost on a machine others share)."""
    items = sorted({row.item for row in rows})
    return {"cases": len(rows), "handled_well": sum(row.ok for row in rows),
            "not_handled_well": [row.case for row in rows if not row.ok],
            "per_item": {str(item): {"cases": sum(row.item == item for row in rows),
                                     "handled_well": sum(row.ok for row in rows if row.item == item)}
                         for item in items},
            "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds(), 1)}


def main(argv: list[str] | None = None) -> int:
    """Build the assets and the cases, run them, print and write the matrix; 1 if any
    case is not handled well."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the rows and the summary here")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                        help="cases run at once (default: the cores this process may use)")
    parser.add_argument("--only", nargs="+", default=[""], metavar="TEXT",
                        help="run only the cases whose name holds one of these texts")
    parser.add_argument("--workdir", type=Path, help="keep the assets (reused by the next run) and the cases' "
                                                     "folders here (default: a temporary folder, removed at the end)")
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    began = time.monotonic()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bad-inputs-matrix-"))
    try:
        assets = build_assets(root / "assets", log)
        cases = [case for case in all_cases(assets) if any(text in case.name for text in args.only)]
        shutil.rmtree(root / "cases", ignore_errors=True)
        (root / "cases").mkdir()
        rows = run_matrix(cases, root / "cases", max(args.jobs, 1), log)
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    result = summary(rows, time.monotonic() - began)
    print(table(rows))
    print(f"\n{result['handled_well']} of {result['cases']} cases handled well in {result['seconds']} s "
          f"({result['cpu_seconds']} s of CPU)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": result, "rows": [asdict(row) for row in rows]}, indent=2))
    return 0 if result["handled_well"] == result["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
