"""Detector configurations as data: geometry files, the matcher of hits to sensors, and
how the reader and the command line resolve and enforce them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graphreco import detectors
from graphreco.cli import EXIT_BAD_INPUT, EXIT_USAGE, main
from graphreco.detectors import DetectorConfiguration
from graphreco.io import (
    EventFormatError,
    event_table,
    expand_sources,
    read_configuration,
    read_events,
    write_configuration,
    write_events,
)
from graphreco.io.configuration import default_configuration, sensor_index

from ..synthetic import lhc_crossings
from .events import baikal_table


def configuration(n: int = 5, live: np.ndarray | None = None) -> DetectorConfiguration:
    """Sensors 10 m apart on the x axis, channels 100 + i."""
    position = np.column_stack([10.0 * np.arange(n), np.zeros(n), np.zeros(n)])
    return DetectorConfiguration("baikal-gvd", position, np.arange(100, 100 + n, dtype=np.int32),
                                 np.ones(n, dtype=bool) if live is None else live, "test")


def test_a_configuration_round_trips_through_its_file(tmp_path):
    written = configuration(live=np.array([True, False, True, True, False]))
    path = tmp_path / "run7.geometry.parquet"
    write_configuration(written, path)
    read = read_configuration(path)
    assert read.detector == "baikal-gvd" and read.source == str(path)
    np.testing.assert_array_equal(read.position, written.position)
    np.testing.assert_array_equal(read.channel, written.channel)
    np.testing.assert_array_equal(read.live, written.live)
    assert read.channel.dtype == np.int32 and read.position.dtype == np.float64
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_live_defaults_to_true_and_channel_is_optional(tmp_path):
    path = tmp_path / "plain.geometry.parquet"
    pq.write_table(pa.table({"x": [0.0, 1.5], "y": [0.0, 0.0], "z": [2.0, 3.0]})
                   .replace_schema_metadata({"detector": "ta-sd"}), path)
    read = read_configuration(path)
    assert read.channel is None and read.live.tolist() == [True, True]


def test_a_geometry_file_name_must_end_in_geometry_parquet(tmp_path):
    with pytest.raises(ValueError, match=r"\.geometry\.parquet"):
        write_configuration(configuration(), tmp_path / "run7.parquet")
    with pytest.raises(EventFormatError, match=r"\.geometry\.parquet"):
        read_configuration(tmp_path / "run7.parquet")


@pytest.mark.parametrize("table, column, words", [
    (pa.table({"x": [0.0], "y": [0.0]}), "z", "missing"),
    (pa.table({"x": [0.0], "y": [0.0], "z": ["deep"]}), "z", "expected float64"),
    (pa.table({"x": [0.0, np.nan], "y": [0.0, 0.0], "z": [0.0, 0.0]}), "x", "not finite"),
    (pa.table({"x": [0.0], "y": [0.0], "z": [0.0], "live": [1]}), "live", "expected bool"),
    (pa.table({"x": [0.0], "y": [0.0], "z": [0.0], "channel": [1.5]}), "channel", "expected int32"),
])
def test_a_bad_geometry_file_is_named_with_its_column(tmp_path, table, column, words):
    path = tmp_path / "bad.geometry.parquet"
    pq.write_table(table.replace_schema_metadata({"detector": "ta-sd"}), path)
    with pytest.raises(EventFormatError) as error:
        read_configuration(path)
    assert error.value.file == str(path) and error.value.column == column and words in str(error.value)


def test_a_geometry_file_without_a_detector_is_refused(tmp_path):
    path = tmp_path / "anonymous.geometry.parquet"
    pq.write_table(pa.table({"x": [0.0], "y": [0.0], "z": [0.0]}), path)
    with pytest.raises(EventFormatError, match="'detector'"):
        read_configuration(path)


def test_the_matcher_finds_the_nearest_live_sensor_within_a_metre():
    dead_second = configuration(live=np.array([True, False, True, True, True]))
    x = np.array([0.3, 10.0, 19.2, 20.99, 31.5, -0.7, 40.0], dtype=np.float32)
    y = np.array([0.0, 0.0, 0.5, 0.0, 0.0, -0.7, 1.0], dtype=np.float32)
    index = sensor_index(dead_second, x, y, np.zeros(7, dtype=np.float32))
    # sensor 1 is dead; 31.5 is 1.5 m from sensor 3; (-0.7, -0.7) is 0.99 m from sensor 0
    assert index.tolist() == [0, -1, 2, 2, -1, 0, 4]


def test_the_matcher_agrees_with_brute_force_on_the_shipped_layouts():
    rng = np.random.default_rng(4)
    for name in ("ta-sd", "baikal-gvd"):
        layout = default_configuration(detectors.get(name))
        layout = replace(layout, live=rng.uniform(size=layout.n_sensors) > 0.1)
        hits = layout.position[rng.integers(0, layout.n_sensors, 3000)] + rng.normal(0.0, 0.6, (3000, 3))
        found = sensor_index(layout, *hits.T)
        distance = np.linalg.norm(hits[:, None, :] - layout.position[None, :, :], axis=2)
        distance[:, ~layout.live] = np.inf
        nearest = distance.argmin(axis=1)
        expected = np.where(distance[np.arange(len(hits)), nearest] <= 1.0, nearest, -1)
        np.testing.assert_array_equal(found, expected)
        assert (expected >= 0).any() and (expected < 0).any()


def test_a_folder_is_read_as_its_event_files_without_geometry_files(tmp_path):
    pq.write_table(baikal_table([2, 3]), tmp_path / "a.parquet")
    write_configuration(default_configuration(detectors.get("baikal-gvd")), tmp_path / "a.geometry.parquet")
    assert expand_sources(tmp_path) == [tmp_path / "a.parquet"]
    assert expand_sources(str(tmp_path / "a*.parquet")) == [tmp_path / "a.parquet"]
    assert sum(batch.n_events for batch in read_events(tmp_path)) == 2


def test_an_event_file_is_read_against_the_configuration_it_names(tmp_path):
    layout = default_configuration(detectors.get("baikal-gvd"))
    moved = replace(layout, position=layout.position + np.array([600.0, 0.0, 0.0]))
    (tmp_path / "geometry").mkdir()
    write_configuration(moved, tmp_path / "geometry" / "moved.geometry.parquet")
    table = baikal_table([2, 3])
    x = pa.ListArray.from_arrays(table.column("x").combine_chunks().offsets,
                                 pa.array(table.column("x").combine_chunks().values.to_numpy() + np.float32(600.0)))
    moved_events = table.set_column(table.schema.get_field_index("x"), "x", x)
    path = tmp_path / "moved.parquet"
    pq.write_table(moved_events.replace_schema_metadata({"detector": "baikal-gvd",
                                                         "geometry": "geometry/moved.geometry.parquet"}), path)
    batch = next(read_events(path))
    assert batch.configuration.source == str(tmp_path / "geometry" / "moved.geometry.parquet")
    # the same hits against the default layout: the override names the shipped file
    with pytest.raises(EventFormatError, match="not within 1 m of a live sensor"):
        next(read_events(path, geometry=detectors.get("baikal-gvd").default_configuration))


def test_a_hit_off_the_configuration_exits_3_naming_file_configuration_and_event(tmp_path, capsys):
    table = baikal_table([2, 3, 1], first_id=40)
    column = table.column("y").combine_chunks()
    values = column.values.to_numpy().copy()
    values[3] += 5.0  # the second hit of event_id 41
    path = tmp_path / "events.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("y"), "y",
                                    pa.ListArray.from_arrays(column.offsets, pa.array(values))), path)
    assert main(["graphs", str(path), "--threads", "1"]) == EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert str(path) in error and "event_id 41" in error and "baikal-gvd default layout" in error
    assert "Traceback" not in error


def test_geometry_for_a_detector_without_sensors_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "lhc.parquet"
    write_events(path, event_table(**lhc_crossings(2)), "lhc-pf")
    geometry = tmp_path / "any.geometry.parquet"
    write_configuration(configuration(), geometry)
    assert main(["graphs", str(path), "--geometry", str(geometry)]) == EXIT_USAGE
    assert "no fixed sensors" in capsys.readouterr().err
    out = tmp_path / "reco.parquet"
    assert main(["reconstruct", str(path), "-o", str(out), "--detector", "lhc-pf", "--workers", "1",
                 "--geometry", str(geometry)]) == EXIT_USAGE
    assert "no fixed sensors" in capsys.readouterr().err and not out.exists()


def test_a_missing_configuration_file_is_bad_input(tmp_path, capsys):
    path = tmp_path / "events.parquet"
    pq.write_table(baikal_table([2]), path)
    assert main(["graphs", str(path), "--geometry", str(tmp_path / "nowhere.geometry.parquet")]) == EXIT_BAD_INPUT
    assert "does not exist" in capsys.readouterr().err


def test_a_configuration_of_another_detector_is_bad_input(tmp_path):
    path = tmp_path / "events.parquet"
    pq.write_table(baikal_table([2]), path)
    geometry = tmp_path / "ta.geometry.parquet"
    write_configuration(replace(configuration(), detector="ta-sd"), geometry)
    with pytest.raises(EventFormatError, match="a ta-sd configuration"):
        next(read_events(path, geometry=Path(geometry)))


def test_reconstruct_outputs_name_the_inputs_geometry_relative_to_their_folder(tmp_path, capsys):
    events, out = tmp_path / "in" / "run.parquet", tmp_path / "out" / "deep" / "run-reco.parquet"
    events.parent.mkdir()
    assert main(["simulate", "baikal-gvd", "--events", "30", "--seed", "2", "--dead-fraction", "0.1",
                 "-o", str(events)]) == 0
    assert main(["reconstruct", str(events), "-o", str(out), "--detector", "baikal-gvd", "--workers", "1"]) == 0
    capsys.readouterr()
    named = pq.read_schema(out).metadata[b"geometry"].decode()
    assert named == "../../in/run.geometry.parquet" and (out.parent / named).resolve() == events.with_name(
        "run.geometry.parquet").resolve()
    # an input without a geometry file of its own gives an output without the key
    plain = tmp_path / "plain.parquet"
    pq.write_table(baikal_table([2, 3]), plain)
    assert main(["reconstruct", str(plain), "-o", str(tmp_path / "plain-reco.parquet"), "--detector", "baikal-gvd",
                 "--workers", "1"]) == 0
    assert b"geometry" not in pq.read_schema(tmp_path / "plain-reco.parquet").metadata


def test_simulated_dead_modules_are_never_hit_and_clusters_can_be_added(tmp_path, capsys):
    path = tmp_path / "grown.parquet"
    assert main(["simulate", "baikal-gvd", "--events", "40", "--seed", "3", "--clusters", "16", "--dead-fraction",
                 "0.2", "--origin-shift", "1000", "-500", "-o", str(path)]) == 0
    capsys.readouterr()
    layout = read_configuration(tmp_path / "grown.geometry.parquet")
    assert layout.n_sensors == 16 * 288 and (~layout.live).sum() == round(0.2 * 16 * 288)
    batch = next(read_events(path))  # every hit on a live module of the written configuration
    index = sensor_index(layout, batch.hits["x"], batch.hits["y"], batch.hits["z"])
    assert (index >= 0).all() and layout.live[index].all()
    assert abs(layout.position[:, 0].mean() - 1000.0) < 1.0 and abs(layout.position[:, 1].mean() + 500.0) < 1.0


def test_simulated_baikal_light_reaches_the_surveyed_modules(tmp_path, capsys):
    from graphreco.detectors.baikal_gvd.simulation import simulate_from_options

    layout = default_configuration(detectors.get("baikal-gvd"))
    options = {"mix": {"nue_cc": 1.0}, "noise_rate_khz": 0.0, "absorption_m": 22.0, "time_offset_ns": 0.0,
               "clusters": None, "origin_shift": (0.0, 0.0), "dead_fraction": 0.0}
    nominal = simulate_from_options(60, 6, layout, survey_scatter=0.0, **options)
    surveyed = simulate_from_options(60, 6, layout, survey_scatter=5.0, **options)
    assert nominal.configuration is layout
    index = sensor_index(surveyed.configuration, surveyed.hits["x"], surveyed.hits["y"], surveyed.hits["z"])
    assert (index >= 0).all()
    np.testing.assert_array_equal(surveyed.hits["channel"], surveyed.configuration.channel[index])
    # the same showers: the light, and so the hit times and charges, follow the displaced modules
    assert not np.array_equal(nominal.hits["charge"][:20], surveyed.hits["charge"][:20])


def test_ray_chunks_are_read_against_the_plans_geometry(tmp_path):
    pytest.importorskip("ray")
    from graphreco.run.ray_engine import chunks, read_chunk

    layout = default_configuration(detectors.get("baikal-gvd"))
    moved = replace(layout, position=layout.position + np.array([0.0, 0.0, 3.0]))
    geometry = tmp_path / "moved.geometry.parquet"
    write_configuration(moved, geometry)
    table = baikal_table([2, 3, 4])
    column = table.column("z").combine_chunks()
    z = pa.ListArray.from_arrays(column.offsets, pa.array(column.values.to_numpy() + np.float32(3.0)))
    path = tmp_path / "moved.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("z"), "z", z), path)
    baikal = detectors.get("baikal-gvd")
    wanted = {"event_id", *(c.name for c in baikal.columns)}
    (chunk,) = chunks(str(path), wanted, 2, str(geometry))
    assert [batch.configuration.source for batch in read_chunk(chunk, baikal, 2)] == [str(geometry)] * 2
    (default,) = chunks(str(path), wanted, 2)
    with pytest.raises(EventFormatError, match="event_id 0: .*baikal-gvd default layout"):
        list(read_chunk(default, baikal, 2))


def test_events_moved_elsewhere_still_name_their_geometry_file(tmp_path, capsys):
    from graphreco.io.configuration import moved

    source = tmp_path / "a" / "run.parquet"
    source.parent.mkdir()
    assert main(["simulate", "ta-sd", "--events", "5", "--seed", "1", "--origin-shift", "50", "0",
                 "-o", str(source)]) == 0
    capsys.readouterr()
    target = tmp_path / "b" / "c" / "part.parquet"
    target.parent.mkdir(parents=True)
    pq.write_table(moved(pq.read_table(source).slice(0, 3), source, target), target)
    assert pq.read_schema(target).metadata[b"geometry"] == b"../../a/run.geometry.parquet"
    assert sum(batch.n_events for batch in read_events(target)) == 3
    plain = pq.read_table(source).replace_schema_metadata({"detector": "ta-sd"})
    assert moved(plain, source, target).schema.metadata == plain.schema.metadata
