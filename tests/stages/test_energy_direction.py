from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import torch

from graphreco import detectors
from graphreco.detectors.baikal_gvd.simulation import simulate_events
from graphreco.detectors.ta_sd.simulation import simulate_events as simulate_showers
from graphreco.evaluate.resolution import angular_error, signal_hits
from graphreco.io import EventFormatError, event_table, read_events, write_events
from graphreco.io.configuration import default_configuration
from graphreco.pipeline import Pipeline
from graphreco.run.file import reconstruct_batch
from graphreco.stages import EnergyDirection, StageInput
from graphreco.stages.calibration import MIN_EVENTS_PER_BIN, N_HIT_BINS
from graphreco.statistics import coverage, unit_vectors, zenith_azimuth
from graphreco.train.loop import load_graphs

DETECTOR = detectors.get("baikal-gvd")


class TruthHitScore:
    """An upstream 'pipeline' that scores hits by their truth, so the test needs no artifact."""

    def run(self, inputs: StageInput) -> dict:
        label = inputs.batch.hits["true_label"]
        inputs.hit_columns["hit_score"] = (label > 0).astype(np.float32)
        inputs.hit_columns["hit_track_score"] = (label == 1).astype(np.float32)
        return {}


@pytest.fixture(scope="module")
def events_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ed") / "events.parquet"
    write_events(path, event_table(**simulate_events(200, seed=5).columns()), "baikal-gvd")
    return path


def stage(**settings) -> EnergyDirection:
    torch.manual_seed(0)
    return EnergyDirection(len(DETECTOR.feature_names), DETECTOR.relative_features, hidden=16, layers=2,
                           **settings).eval()


def test_directions_round_trip_through_vectors():
    zenith, azimuth = np.array([0.3, 2.0, np.pi / 2]), np.array([5.0, 0.1, 3.0])
    back = zenith_azimuth(7.0 * unit_vectors(zenith, azimuth))
    np.testing.assert_allclose(back, (zenith, azimuth), atol=1e-12)


def test_outputs_cover_every_event_and_empty_events_get_nan(events_file):
    batch = next(read_events(events_file))
    empty = np.zeros(batch.n_hits, dtype=bool)
    empty[batch.offsets[0]:batch.offsets[1]] = True  # first event loses all its hits
    batch = batch.with_hits(~empty)
    inputs = StageInput(batch, DETECTOR, None, {"hit_score": np.random.default_rng(0).random(batch.n_hits)})
    with torch.inference_mode():
        _, columns = stage().outputs(inputs)
    assert set(columns) == set(stage().writes)
    assert all(values.shape == (batch.n_events,) and values.dtype == np.float32 for values in columns.values())
    assert all(np.isnan(values[0]) and np.all(np.isfinite(values[1:])) for values in columns.values())
    assert np.all((columns["reco_zenith"][1:] >= 0) & (columns["reco_zenith"][1:] <= np.pi))
    assert np.all((columns["reco_angle_sigma"][1:] > 0) & (columns["reco_angle_sigma"][1:] <= np.pi))


def test_training_graphs_hold_the_selected_hits_and_the_truth(events_file):
    model = stage(threshold=0.5, min_hits=3)
    graphs = load_graphs(events_file, 50, model, TruthHitScore())
    batch = next(read_events(events_file, batch_size=50))
    signal = signal_hits(batch.offsets, batch.hits["true_label"])
    expected = np.minimum(np.maximum(signal, 3), batch.hits_per_event)
    assert np.diff(graphs[0].graph.ptr.numpy()).tolist() == expected.tolist()
    assert graphs[0].events.n_hits == expected.sum()
    np.testing.assert_allclose(graphs[0].graph.targets["true_log10_energy"].numpy(),
                               np.log10(batch.events["true_energy"]))


def test_calibration_makes_the_validation_coverage_exact(events_file):
    model = stage()
    graphs = load_graphs(events_file, 100, model, TruthHitScore())
    measured = model.calibrate_on(graphs)
    assert measured["events"] == 200 and model.config["angle_scale"] == measured["angle_scale"]
    columns, truth, bins = [], [], []
    with torch.inference_mode():
        for graph in graphs:
            columns.append(model.estimates(graph)[0])
            bins.append(model.estimates(graph)[2])
            truth.append(zenith_azimuth(graph.graph.targets["true_direction"].numpy()))
    reco = {name: np.concatenate([c[name] for c in columns]) for name in columns[0]}
    zenith, azimuth = (np.concatenate(a) for a in zip(*truth))
    errors = angular_error({"true_zenith": zenith, "true_azimuth": azimuth}, reco)
    assert coverage(errors, reco["reco_angle_sigma"]) == pytest.approx(0.68, abs=0.01)
    bins = np.concatenate(bins)
    for b, events in enumerate(measured["events_per_bin"]["angle_scale"]):  # every bin of selected hits covers
        assert events == np.sum(bins == b)
        if events >= MIN_EVENTS_PER_BIN:
            in_bin = bins == b
            assert coverage(errors[in_bin], reco["reco_angle_sigma"][in_bin]) == pytest.approx(0.68, abs=1.5 / events)


def untrained_ta_stage_and_showers(tmp_path, showers: int, seed: int, **settings) -> tuple[EnergyDirection, Path]:
    """A small untrained TA SD energy-direction stage with a core head (``settings``
    added) and a file of ``showers`` simulated showers."""
    ta_sd = detectors.get("ta-sd")
    path = tmp_path / "showers.parquet"
    write_events(path, event_table(**simulate_showers(showers, seed=seed).columns()), "ta-sd")
    torch.manual_seed(0)
    model = EnergyDirection(len(ta_sd.feature_names), ta_sd.relative_features, hidden=16, layers=2, min_hits=3,
                            core=True, **settings).eval()
    return model, path


def test_fiducial_calibration_scales_showers_inside_and_outside_the_cuts_apart(tmp_path):
    ta_sd = detectors.get("ta-sd")
    model, path = untrained_ta_stage_and_showers(tmp_path, 300, 3, fiducial=True)
    graphs = load_graphs(path, 100, model, TruthHitScore())
    measured = model.calibrate_on(graphs)
    assert all(len(model.config[name]) == 2 * N_HIT_BINS for name in ("angle_scale", "energy_scale", "core_scale"))
    bins, inside = [], []
    with torch.inference_mode():
        for graph in graphs:
            columns, _, calibration_bin = model.estimates(graph)
            bins.append(calibration_bin)
            inside.append(ta_sd.fiducial(columns, configuration=default_configuration(ta_sd)))
    bins, inside = np.concatenate(bins), np.concatenate(inside)
    assert inside.any() and not inside.all()
    np.testing.assert_array_equal(bins >= N_HIT_BINS, inside)  # the upper bins are the fiducial showers
    assert measured["events_per_bin"]["core_scale"] == np.bincount(bins, minlength=2 * N_HIT_BINS).tolist()


def test_fiducial_calibration_needs_a_detector_with_fiducial_cuts(events_file):
    batch = next(read_events(events_file))
    inputs = StageInput(batch, DETECTOR, None, {"hit_score": np.ones(batch.n_hits, dtype=np.float32)})
    with pytest.raises(ValueError, match="no fiducial cut"):
        stage(fiducial=True).input_graph(inputs)


def test_scales_must_match_the_calibration_bins():
    with pytest.raises(ValueError, match="angle_scale needs 6 scales"):
        stage(fiducial=True, angle_scale=[1.0] * N_HIT_BINS)


def test_training_needs_the_truth_columns(events_file, tmp_path):
    stripped = tmp_path / "no_energy.parquet"
    write_events(stripped, pq.read_table(events_file).drop(["true_energy"]), "baikal-gvd")
    with pytest.raises(EventFormatError, match="true_energy"):
        load_graphs(stripped, 100, stage(), TruthHitScore())


def test_training_without_the_columns_the_stage_reads_is_refused(events_file):
    with pytest.raises(ValueError, match="hit_score"):
        load_graphs(events_file, 100, stage())


def test_training_on_a_nonphysical_truth_names_the_file_column_and_event(events_file, tmp_path):
    table = pq.read_table(events_file)
    energy = table.column("true_energy").to_numpy().copy()
    energy[7] = 0.0
    broken = tmp_path / "zero_energy.parquet"
    write_events(broken, table.set_column(table.column_names.index("true_energy"), "true_energy",
                                          pa.array(energy)), "baikal-gvd")
    event_id = table.column("event_id").to_numpy()[7]
    with pytest.raises(EventFormatError, match=f"zero_energy.parquet, column 'true_energy', event_id {event_id}"):
        load_graphs(broken, 100, stage(), TruthHitScore())


def test_events_left_without_kept_hits_get_nan(events_file):
    batch = next(read_events(events_file, batch_size=20))
    inputs = StageInput(batch, DETECTOR, None, {"hit_score": np.zeros(batch.n_hits, dtype=np.float32)})
    with torch.inference_mode():
        _, columns = stage(min_hits=0).outputs(inputs)
    assert all(np.all(np.isnan(values)) for values in columns.values())


def test_events_with_fewer_hits_than_min_hits_get_nan(events_file):
    """An event with fewer hits than the stage keeps at least (one counter, one module)
    has no direction, energy or core to give: NaN, not a calibrated, confident guess."""
    batch = next(read_events(events_file, batch_size=20))
    per_event = np.diff(batch.offsets)
    keep = np.ones(batch.n_hits, dtype=bool)
    for event, hits in ((0, 1), (1, 3)):  # event 0 keeps one hit, event 1 three
        keep[batch.offsets[event] + hits:batch.offsets[event + 1]] = False
    batch = batch.with_hits(keep)
    assert per_event[2:].min() >= 4
    inputs = StageInput(batch, DETECTOR, None, {"hit_score": np.ones(batch.n_hits, dtype=np.float32)})
    with torch.inference_mode():
        _, columns = stage(min_hits=4).outputs(inputs)
    assert all(np.all(np.isnan(values[:2])) and np.all(np.isfinite(values[2:])) for values in columns.values())


def test_a_single_ta_counter_gets_no_direction_energy_or_core(tmp_path):
    """The shipped TA SD chain gave one counter a direction within 4 deg (68 %) and a core:
    fewer counters than its stages' ``min_hits`` (3) now get NaN from every stage that
    estimates them (energy and direction, refit, combination)."""
    simulated = simulate_showers(4, seed=8)
    showers = event_table(**simulated.columns())
    first_counter = showers  # every per-counter list cut to its first counter
    for name in showers.schema.names:
        if pa.types.is_list(showers.schema.field(name).type):
            first_counter = first_counter.set_column(first_counter.schema.get_field_index(name), name,
                                                     pc.list_slice(showers[name], 0, 1))
    pipeline = Pipeline.shipped("ta-sd")
    estimated = [name for stage in ("energy_direction", "refit", "combination")
                 for name in pipeline.stages[stage].writes]
    for table, single in ((first_counter, True), (showers, False)):
        path = tmp_path / f"{single}.parquet"
        write_events(path, table, "ta-sd")
        output, _ = reconstruct_batch(pipeline, next(read_events(path, detector="ta-sd")))
        direction = output["reco_zenith"].to_numpy()
        assert np.all(np.isnan(direction)) if single else np.all(np.isfinite(direction))
        if single:
            assert all(np.all(np.isnan(output[name].to_numpy())) for name in estimated)


def test_event_inputs_zero_failed_fits_and_flag_them():
    features = np.array([[1.5, 1.2], [np.nan, np.nan], [0.5, np.inf]])
    inputs = EnergyDirection.event_inputs(features).numpy()
    np.testing.assert_allclose(inputs, [[1.5, 1.2, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]], rtol=1e-6)


def test_event_features_widen_the_readout_and_need_a_detector_that_has_them(events_file):
    model = EnergyDirection(len(DETECTOR.feature_names), DETECTOR.relative_features, hidden=8, layers=1,
                            event_features=2)
    assert model.head[0].in_features == 2 * 8 + 1 + 3 and model.config["event_features"] == 2
    batch = next(read_events(events_file))
    inputs = StageInput(batch, DETECTOR, None, {"hit_score": np.ones(batch.n_hits)})
    with pytest.raises(ValueError, match="no event features"):
        model.input_graph(inputs)


def test_track_like_events_are_calibrated_apart(events_file):
    grouped, plain = stage(track_like=0.5), stage()
    assert grouped.reads == ("hit_score", "hit_track_score") and plain.reads == ("hit_score",)
    measured = grouped.calibrate_on(load_graphs(events_file, 100, grouped, TruthHitScore()))
    counts = measured["events_per_bin"]
    assert 0 < measured["track_like_events"] < measured["events"]
    assert sum(counts["angle_scale_track"]) == measured["track_like_events"]
    assert sum(counts["angle_scale"]) == measured["events"] - measured["track_like_events"]
    assert grouped.config["angle_scale_track"] != [1.0] * N_HIT_BINS
