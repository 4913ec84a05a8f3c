"""Batch reconstruction: workers, resumption, atomic outputs and SIGKILL."""

import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import torch

from graphreco import detectors
from graphreco.cli import EXIT_BAD_INPUT, main
from graphreco.detectors.ta_sd.simulation import simulate_events
from graphreco.io import event_table, read_events, write_events
from graphreco.pipeline import Pipeline
from graphreco.run.file import reconstruct_file
from graphreco.run.workers import _load_worker, output_paths, plan_files, reconstruct_files

BATCH = 128


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Three small air-shower files (several batches each) and their reference outputs,
    reconstructed in this process."""
    folder = tmp_path_factory.mktemp("batch")
    sources = []
    for seed, events in ((31, 400), (32, 300), (33, 350)):
        simulated = simulate_events(events, seed=seed)
        path = folder / "in" / f"showers_{seed}.parquet"
        path.parent.mkdir(exist_ok=True)
        write_events(path, event_table(**simulated.columns()), simulated.detector)
        sources.append(path)
    reference = folder / "reference"
    assert main(["reconstruct", "--detector", "ta-sd", str(folder / "in"), "-o", str(reference) + "/",
                 "--workers", "1", "--batch-size", str(BATCH)]) == 0
    return sources, reference


def _same_data(first: Path, second: Path) -> None:
    """The two Parquet files hold the same columns and values (NaN equal to NaN; the
    schema metadata, which names the input, may differ)."""
    a, b = pq.read_table(first), pq.read_table(second)
    assert a.column_names == b.column_names and a.schema.remove_metadata() == b.schema.remove_metadata()
    for name in a.column_names:
        x, y = a.column(name).combine_chunks(), b.column(name).combine_chunks()
        if pa.types.is_list(x.type):
            assert x.offsets.equals(y.offsets), name
            x, y = x.flatten(), y.flatten()
        if pa.types.is_floating(x.type):
            np.testing.assert_array_equal(x.to_numpy(zero_copy_only=False), y.to_numpy(zero_copy_only=False), name)
        else:
            assert x.equals(y), name


def _same_files(first, second):
    names = sorted(path.name for path in first.iterdir())
    assert names == sorted(path.name for path in second.iterdir()), "different files (or temporaries left)"
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_a_trailing_slash_makes_the_output_a_folder_for_one_input(inputs, tmp_path):
    """argparse's Path dropped the slash: ``-o new/`` wrote a file named ``new``."""
    sources, reference = inputs
    assert main(["reconstruct", "--detector", "ta-sd", str(sources[0]), "-o", f"{tmp_path / 'new'}/",
                 "--batch-size", str(BATCH), "--workers", "1", "--no-progress"]) == 0
    assert (tmp_path / "new" / sources[0].name).read_bytes() == (reference / sources[0].name).read_bytes()


def test_two_workers_write_the_same_bytes_as_one(inputs, tmp_path, capsys):
    sources, reference = inputs
    assert main(["reconstruct", "--detector", "ta-sd", *map(str, sources), "-o", str(tmp_path),
                 "--workers", "2", "--batch-size", str(BATCH), "--json", "-"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [f["status"] for f in summary["files"]] == ["reconstructed"] * 3 and summary["events"] == 1050
    _same_files(reference, tmp_path)


def test_the_files_stream_through_the_workers_past_a_bad_and_an_empty_file(inputs, tmp_path):
    """The batches of all files go to the workers as one stream: a bad file between good
    ones (NaN in its third batch, after two batches of it were written) and an empty
    one are recorded in order, and the good outputs hold the reference's data (their
    provenance names other inputs)."""
    sources, reference = inputs
    table = pq.read_table(sources[1])
    times = table.column("t").combine_chunks()
    values = times.values.to_numpy(zero_copy_only=False).copy()
    values[times.offsets[2 * BATCH + 5].as_py()] = np.nan
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(table.set_column(table.schema.get_field_index("t"), "t",
                                    pa.ListArray.from_arrays(times.offsets, values)), folder / "b_bad.parquet")
    write_events(folder / "c_empty.parquet", table.slice(0, 0), "ta-sd")
    for name, source in (("a_first", sources[0]), ("d_last", sources[2])):
        shutil.copy(source, folder / f"{name}.parquet")
    pipeline = Pipeline.shipped("ta-sd")
    inputs_ = sorted(folder.iterdir())
    out = tmp_path / "out"
    plans = plan_files(pipeline, inputs_, output_paths(inputs_, out), batch_size=BATCH)
    records = reconstruct_files(pipeline, plans, BATCH, workers=2)
    assert [(r["status"], r.get("events")) for r in records] == [
        ("reconstructed", 400), ("bad input", None), ("reconstructed", 0), ("reconstructed", 350)]
    assert "b_bad.parquet, column 't', event_id" in records[1]["error"]
    assert sorted(path.name for path in out.iterdir()) == ["a_first.parquet", "c_empty.parquet", "d_last.parquet"]
    for name, source in (("a_first", sources[0]), ("d_last", sources[2])):
        _same_data(out / f"{name}.parquet", reference / source.name)
    assert pq.read_table(out / "c_empty.parquet").num_rows == 0


def test_a_rerun_skips_complete_outputs_and_redoes_stale_ones(inputs, tmp_path, capsys):
    sources, reference = inputs
    for source in sources:
        (tmp_path / source.name).write_bytes((reference / source.name).read_bytes())
    stale = tmp_path / sources[1].name  # an output of another input with the same name
    table = pq.read_table(stale)
    pq.write_table(table.slice(0, 10).replace_schema_metadata(table.schema.metadata), stale)
    (tmp_path / f".{sources[2].name}.999.tmp").write_bytes(b"left by a killed run")
    pipeline = Pipeline.shipped("ta-sd")
    plans = plan_files(pipeline, sources, output_paths(sources, tmp_path), batch_size=BATCH)
    assert [plan.action for plan in plans] == ["skip", "reconstruct", "skip"]
    records = reconstruct_files(pipeline, plans, BATCH)
    assert [r["status"] for r in records] == ["already complete", "reconstructed", "already complete"]
    _same_files(reference, tmp_path)


def test_a_bad_file_is_named_and_the_others_are_done(inputs, tmp_path, capsys):
    sources, reference = inputs
    bad = tmp_path / "in" / "broken.parquet"
    bad.parent.mkdir()
    bad.write_bytes(sources[0].read_bytes()[:5000])  # truncated
    out, record = tmp_path / "out", tmp_path / "reconstruct.json"
    assert main(["reconstruct", "--detector", "ta-sd", str(sources[0]), str(bad), "-o", str(out),
                 "--workers", "1", "--batch-size", str(BATCH), "--json", str(record)]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert f"graphreco: error: {bad}: not a readable Parquet file" in captured.err and "Traceback" not in captured.err
    assert "1 reconstructed, 0 already complete, 1 bad input" in captured.out and str(bad) in captured.out
    statuses = {f["input"]: f["status"] for f in json.loads(record.read_text())["files"]}
    assert statuses == {str(sources[0]): "reconstructed", str(bad): "bad input"}
    assert sorted(path.name for path in out.iterdir()) == [sources[0].name]
    assert (out / sources[0].name).read_bytes() == (reference / sources[0].name).read_bytes()


def test_an_empty_file_gives_an_empty_output(inputs, tmp_path, capsys):
    empty = tmp_path / "empty.parquet"
    write_events(empty, pq.read_table(inputs[0][0]).slice(0, 0), "ta-sd")
    assert main(["reconstruct", "--detector", "ta-sd", str(empty), "-o", str(tmp_path / "out.parquet")]) == 0
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 0


def test_an_empty_input_gets_the_full_output_schema(inputs, tmp_path):
    """An input without events gave an output with only ``event_id``: a folder of outputs
    read as one dataset then took that schema and dropped every reconstructed column of
    the other files. Its output now has the pipeline's columns (and the kept ones)."""
    folder = tmp_path / "in"
    folder.mkdir()
    full = folder / "full.parquet"
    shutil.copy(inputs[0][0], full)
    write_events(folder / "a_empty.parquet", pq.read_table(full).slice(0, 0), "ta-sd")
    out = tmp_path / "out"
    assert main(["reconstruct", "--detector", "ta-sd", str(folder), "-o", str(out), "--workers", "1",
                 "--batch-size", str(BATCH), "--keep-columns", "true_energy", "--no-progress"]) == 0
    expected = pq.read_schema(out / "full.parquet").remove_metadata()
    assert pq.read_schema(out / "a_empty.parquet").remove_metadata() == expected
    assert pq.read_schema(out / "a_empty.parquet").names == [*Pipeline.shipped("ta-sd").output_schema().names,
                                                             "true_energy"]
    dataset = pq.read_table(out)  # the whole folder, its schema from the first file
    assert dataset.schema.names == expected.names and dataset.num_rows == pq.read_table(full).num_rows
    assert dataset["reco_zenith"].null_count == 0
    single = tmp_path / "single.parquet"
    reconstruct_file(Pipeline.shipped("ta-sd"), folder / "a_empty.parquet", single, keep_columns=["true_energy"])
    assert pq.read_schema(single).remove_metadata() == expected


def test_killed_runs_resume_to_identical_outputs(inputs, tmp_path):
    """SIGKILL the whole job (main process and workers) at random moments, then rerun
    until it finishes: no partial or temporary file is ever visible as an output, and the
    outputs end byte-identical to an uninterrupted run."""
    sources, reference = inputs
    out = tmp_path / "out"
    command = [sys.executable, "-m", "graphreco.cli", "reconstruct", "--detector", "ta-sd",
               str(sources[0].parent), "-o", str(out), "--workers", "2", "--batch-size", str(BATCH)]
    moments = random.Random(7).sample([2.0, 4.0, 6.0, 8.0, 10.0, 12.0], 3)
    for moment in sorted(moments):
        job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(moment)
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        for output in out.glob("*.parquet") if out.exists() else ():
            assert output.read_bytes() == (reference / output.name).read_bytes(), "a partial output is visible"
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    _same_files(reference, out)


def test_the_ray_engine_writes_the_local_engines_bytes_in_order_and_names_a_bad_file(inputs, tmp_path):
    """One Ray run (a cluster's start-up is most of its time) over the three files, a bad
    one (NaN in its second batch) and a long one: 4,400 showers in row groups of 300 (35
    batches of 128) that two actors read in two chunks, the second starting 32 batches in.
    The bad file is named, the job is run again for the files it had not finished, every
    good output has the local engine's bytes, and nothing partial is left."""
    pytest.importorskip("ray.data")
    sources, reference = inputs
    folder, expected = tmp_path / "in", tmp_path / "expected"
    folder.mkdir()
    shutil.copytree(reference, expected)
    for source in sources:
        shutil.copy(source, folder)
    table = pq.read_table(sources[1])
    times = table.column("t").combine_chunks()
    values = times.values.to_numpy(zero_copy_only=False).copy()
    values[times.offsets[BATCH + 5].as_py()] = np.nan
    pq.write_table(table.set_column(table.schema.get_field_index("t"), "t",
                                    pa.ListArray.from_arrays(times.offsets, values)), folder / "bad.parquet")
    table = pq.read_table(sources[0])
    pq.write_table(pa.concat_tables([table.set_column(0, "event_id", pc.add(table.column("event_id"), copy * 10_000))
                                     for copy in range(11)]), folder / "long.parquet", row_group_size=300)
    assert main(["reconstruct", "--detector", "ta-sd", str(folder / "long.parquet"), "-o",
                 str(expected / "long.parquet"), "--workers", "1", "--batch-size", str(BATCH), "--no-progress"]) == 0
    out = tmp_path / "out"
    finished = subprocess.run([sys.executable, "-m", "graphreco.cli", "reconstruct", "--detector", "ta-sd", str(folder),
                               "-o", str(out), "--engine", "ray", "--workers", "2", "--batch-size", str(BATCH),
                               "--json", "-"],
                              capture_output=True, text=True, timeout=600)  # the real streams Ray logs to
    assert finished.returncode == EXIT_BAD_INPUT, finished.stderr
    statuses = {Path(f["input"]).name: f["status"] for f in json.loads(finished.stdout)["files"]}
    assert statuses == {"bad.parquet": "bad input", "long.parquet": "reconstructed",
                        **{source.name: "reconstructed" for source in sources}}
    assert "bad.parquet, column 't', event_id" in finished.stderr and "Traceback" not in finished.stderr
    _same_files(expected, out)  # the good outputs, no temporaries


@pytest.mark.parametrize("row_groups", [[300] * 7, [256, 256, 100, 28, 512, 1000], [1024, 1024, 33], [5000]])
def test_chunks_are_the_local_readers_batches(tmp_path, monkeypatch, row_groups):
    """Whatever the row groups, the chunks of a file hold the local reader's batches,
    each once and in order (runs are cut only where a row group starts on a batch)."""
    pytest.importorskip("ray.data")
    from graphreco.run import ray_engine
    monkeypatch.setattr(ray_engine, "CHUNK_EVENTS", 4 * BATCH)
    simulated = simulate_events(sum(row_groups), seed=34)
    path = tmp_path / "events.parquet"
    table = event_table(**simulated.columns())
    with pq.ParquetWriter(path, table.schema) as writer:
        start = 0
        for size in row_groups:
            writer.write_table(table.slice(start, size))
            start += size
    detector = detectors.get(simulated.detector)
    local = [batch.event_id.tolist() for batch in read_events(path, batch_size=BATCH)]
    chunks = ray_engine.chunks(str(path), {"event_id", *(c.name for c in detector.columns)}, BATCH)
    assert len(chunks) > 1
    read = [batch.event_id.tolist() for chunk in chunks for batch in ray_engine.read_chunk(chunk, detector, BATCH)]
    assert read == local


def _thread_counts() -> tuple[int, int]:
    return torch.get_num_threads(), numba.get_num_threads()


def test_forked_workers_run_on_one_thread():
    """A worker forked from the fork server ran torch on every core: starting numba's
    OpenMP layer after torch had set one thread reset torch's count."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["graphreco.run.workers"])
    with context.Pool(1, initializer=_load_worker, initargs=(str(Pipeline.shipped("ta-sd").folder),)) as pool:
        assert pool.apply(_thread_counts) == (1, 1)


def _rewritten(source: Path, target: Path, t_shift: float) -> None:
    """``source`` written to ``target`` uncompressed, with the first hit's time moved by
    ``t_shift`` (ns): a file of the same size and number of events, other content."""
    table = pq.read_table(source)
    times = table.column("t").combine_chunks()
    values = times.values.to_numpy(zero_copy_only=False).copy()
    values[0] += t_shift
    changed = table.set_column(table.schema.get_field_index("t"), "t", pa.ListArray.from_arrays(times.offsets, values))
    pq.write_table(changed.replace_schema_metadata(table.schema.metadata), target, compression="none")


@pytest.fixture
def last_json(capsys):
    return lambda: json.loads(capsys.readouterr().out)["files"][0]["status"]


def test_an_output_is_redone_when_its_input_or_its_settings_change(inputs, tmp_path, last_json):
    """Name, size and event count matched, so each of these was "already complete"."""
    sources, _ = inputs
    source, out = tmp_path / "in" / "showers.parquet", tmp_path / "out.parquet"
    source.parent.mkdir()
    _rewritten(sources[0], source, 0.0)
    command = ["reconstruct", "--detector", "ta-sd", str(source), "-o", str(out), "--json", "-", "--workers", "1",
               "--batch-size", str(BATCH)]
    assert main(command) == 0 and last_json() == "reconstructed"
    assert main(command) == 0 and last_json() == "already complete"

    size = source.stat().st_size
    _rewritten(sources[0], source, 1.0)  # in place, same size
    assert source.stat().st_size == size
    os.utime(out, ns=(source.stat().st_mtime_ns - 10**9,) * 2)  # the output was made before the change
    assert main(command) == 0 and last_json() == "reconstructed"

    elsewhere = tmp_path / "elsewhere" / "showers.parquet"  # same name, size and events: other showers
    elsewhere.parent.mkdir()
    _rewritten(sources[0], elsewhere, 1e6)
    os.utime(elsewhere, ns=(out.stat().st_mtime_ns - 10**9,) * 2)
    assert elsewhere.stat().st_size == source.stat().st_size
    assert main([*command[:3], str(elsewhere), *command[4:]]) == 0 and last_json() == "reconstructed"

    assert main([*command[:-1], str(BATCH // 2)]) == 0 and last_json() == "reconstructed"


def test_a_worker_loads_only_the_pipeline_its_run_loaded(monkeypatch):
    """Workers (and Ray actors) load the folder again: one written there since the run
    began, or another version on another node, would compute what the run never checked."""
    from graphreco.artifacts import ArtifactError
    from graphreco.run import workers

    monkeypatch.setattr(workers, "set_threads", lambda *threads: None)  # this process keeps its threads
    folder = Pipeline.shipped("ta-sd").folder
    with pytest.raises(ArtifactError, match="not the pinned"):
        _load_worker(str(folder), "0" * 64)


def _children() -> dict[int, int]:
    """Parent pid of every process (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit():
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    return parents


def _descendants(pid: int) -> set[int]:
    parents, found, todo = _children(), set(), [pid]
    while todo:
        parent = todo.pop()
        for child, of in parents.items():
            if of == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not ended (a zombie has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_a_killed_main_process_leaves_no_worker_fork_server_or_resource_tracker(tmp_path):
    """kill -9 of the main process alone (the workers' parent is the fork server, and they
    held its pipes open): every process it started ends within seconds."""
    simulated = simulate_events(400, seed=34)
    table = event_table(**simulated.columns())
    parts = [table.set_column(0, "event_id", pc.add(table["event_id"], copy * 10**6)) for copy in range(25)]
    source = tmp_path / "many.parquet"
    write_events(source, pa.concat_tables(parts), simulated.detector)
    job = subprocess.Popen([sys.executable, "-m", "graphreco.cli", "reconstruct", "--detector", "ta-sd", str(source),
                            "-o", str(tmp_path / "out.parquet"), "--workers", "2", "--batch-size", str(BATCH)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = set()
    try:
        deadline = time.monotonic() + 120
        while len(started) < 4 and time.monotonic() < deadline:  # resource tracker, fork server, two workers
            started = _descendants(job.pid)
            time.sleep(0.2)
        assert len(started) >= 4 and job.poll() is None, f"the run did not start its workers: {started}"
        time.sleep(2.0)  # the workers load the pipeline
        started = _descendants(job.pid)
        job.kill()
        job.wait()
        deadline = time.monotonic() + 15
        while any(_running(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in started if _running(pid)], "processes outlived the killed main process"
    finally:
        for pid in started:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        job.kill()
