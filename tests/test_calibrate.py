"""``graphreco calibrate``: the energy scale and uncertainties of a shipped pipeline fixed
on labelled reference events of a shifted condition, no network weight changed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from graphreco.cli import EXIT_BAD_INPUT, EXIT_USAGE, main
from graphreco.detectors.baikal_gvd.simulation import Conditions as BaikalConditions
from graphreco.detectors.ta_sd.simulation import Conditions
from graphreco.io import read_events
from graphreco.pipeline import Pipeline
from graphreco.stages.calibration import MIN_REFERENCE_EVENTS, TooFewReferenceEvents
from graphreco.train.calibrate import calibrate

UNDER_CALIBRATED = Conditions(calibration_scale=0.8)
"""Signals reported 20 % low: every energy reconstructed too low, as in a detector whose
VEM calibration differs from the simulation the pipeline was trained on."""


@pytest.fixture(scope="module")
def calibrated(simulated_file, tmp_path_factory) -> tuple[Path, dict]:
    """The shipped TA SD pipeline calibrated on 300 reference showers reported 20 % low."""
    reference = simulated_file("ta-sd", 300, 611, conditions=UNDER_CALIBRATED)
    out = tmp_path_factory.mktemp("calibrated") / "pipeline"
    return out, calibrate([reference], out, detector="ta-sd", log=lambda line: None)


def test_calibration_fixes_the_energy_scale_and_keeps_every_network_weight(calibrated, simulated_file):
    out, record = calibrated
    shipped, pipeline = Pipeline.shipped("ta-sd"), Pipeline.load(out)
    assert list(pipeline.stages) == [*(name for name in shipped.stages if name != "posterior"), "energy_scale",
                                     "posterior"]  # the posterior, run on request, stays about the final estimate
    for name, stage in shipped.stages.items():
        for key, tensor in stage.state_dict().items():
            assert torch.equal(tensor, pipeline.stages[name].state_dict()[key]), (name, key)
    (offset,) = pipeline.stages["energy_scale"].config["log10_offset"]
    assert 0.04 < offset < 0.16  # log10(1/0.8) = 0.097, less where the fit's saturation model absorbs some
    assert record["before"]["energy"]["log10_bias"] < -0.04
    assert abs(record["after_in_sample"]["energy"]["log10_bias"]) < 1e-6
    assert abs(record["after_in_sample"]["energy"]["coverage_1sigma"] - 0.68) < 0.03
    assert json.loads((out / "calibration.json").read_text())["stages"]["energy_scale"]["log10_offset"] == [offset]

    batch = next(read_events(simulated_file("ta-sd", 40, 612, conditions=UNDER_CALIBRATED), batch_size=40))
    before, after = shipped.reconstruct(batch)[1], pipeline.reconstruct(batch)[1]
    assert np.isfinite(before["reco_log10_energy"]).sum() > 10
    np.testing.assert_allclose(after["reco_log10_energy"], before["reco_log10_energy"] + offset, atol=1e-5)
    np.testing.assert_array_equal(after["reco_zenith"], before["reco_zenith"])


def test_a_calibrated_pipeline_calibrates_again_from_its_own_folder(calibrated, simulated_file, tmp_path):
    out, _ = calibrated
    again = calibrate([simulated_file("ta-sd", 300, 611, conditions=UNDER_CALIBRATED)], tmp_path / "again",
                      pipeline=out, log=lambda line: None)
    assert list(Pipeline.load(tmp_path / "again").stages).count("energy_scale") == 1
    np.testing.assert_allclose(again["stages"]["energy_scale"]["log10_offset"], json.loads(
        (out / "calibration.json").read_text())["stages"]["energy_scale"]["log10_offset"], atol=1e-9)


def test_too_few_reference_events_are_refused_and_nothing_is_written(simulated_file, tmp_path, capsys):
    few = simulated_file("ta-sd", MIN_REFERENCE_EVENTS // 2, 613)
    assert main(["calibrate", "--detector", "ta-sd", "--reference", str(few), "-o", str(tmp_path / "out")]) \
        == EXIT_BAD_INPUT
    assert f"at least {MIN_REFERENCE_EVENTS}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_folder_is_never_overwritten(simulated_file, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("kept")
    code = main(["calibrate", "--detector", "ta-sd", "--reference", str(simulated_file("ta-sd", 20, 5)),
                 "-o", str(tmp_path / "out")])
    assert code == EXIT_USAGE and "overwrites nothing" in capsys.readouterr().err
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["mine.txt"]


def test_reference_events_without_truth_are_refused_naming_the_column(simulated_file, tmp_path, capsys):
    import pyarrow.parquet as pq

    source = simulated_file("ta-sd", 150, 614)
    table = pq.read_table(source)
    unlabelled = tmp_path / "unlabelled.parquet"
    pq.write_table(table.drop([name for name in table.column_names if name.startswith("true_")]), unlabelled)
    code = main(["calibrate", "--detector", "ta-sd", "--reference", str(unlabelled), "-o", str(tmp_path / "out")])
    assert code == EXIT_BAD_INPUT and "true_" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


CLEAR_WATER = BaikalConditions(absorption_length=30.0)
"""Water clearer than the training's 22 m: more light, every energy read high, cascades
more than muons."""


def test_baikal_tracks_and_cascades_get_their_own_energy_scale(simulated_file, tmp_path):
    reference = simulated_file("baikal-gvd", 500, 621, mix={"numu_cc": 1.0, "nue_cc": 1.0}, conditions=CLEAR_WATER)
    record = calibrate([reference], tmp_path / "baikal", detector="baikal-gvd", log=lambda line: None)
    scale = record["stages"]["energy_scale"]
    assert scale["classes"] == ["cascade-like", "track-like"] and scale["classes_from_all_events"] == []
    assert min(scale["events_per_class"]) >= MIN_REFERENCE_EVENTS
    cascade, track = scale["log10_offset"]
    assert cascade < 0 and track < 0 and abs(cascade - track) > 0.05  # read high, and by different amounts

    shipped, pipeline = Pipeline.shipped("baikal-gvd"), Pipeline.load(tmp_path / "baikal")
    batch = next(read_events(simulated_file("baikal-gvd", 60, 622, mix={"numu_cc": 1.0, "nue_cc": 1.0},
                                            conditions=CLEAR_WATER), batch_size=60))
    before, after = shipped.reconstruct(batch)[1], pipeline.reconstruct(batch)[1]
    shift = after["reco_log10_energy"] - before["reco_log10_energy"]
    finite = np.isfinite(shift)
    assert finite.sum() > 30
    assert np.all(np.isclose(shift[finite], cascade, atol=1e-5) | np.isclose(shift[finite], track, atol=1e-5))


def test_a_class_with_too_few_reference_events_takes_the_values_of_all(simulated_file, tmp_path):
    muons_only = simulated_file("baikal-gvd", 200, 623, mix={"numu_cc": 1.0})
    record = calibrate([muons_only], tmp_path / "baikal", detector="baikal-gvd", log=lambda line: None)
    scale = record["stages"]["energy_scale"]
    weak = [name for name, count in zip(scale["classes"], scale["events_per_class"], strict=True)
            if count < MIN_REFERENCE_EVENTS]
    assert weak and scale["classes_from_all_events"] == weak
    for name in weak:
        assert scale["log10_offset"][scale["classes"].index(name)] == pytest.approx(-scale["bias_before"])


def test_calibrate_adapts_the_hit_selection_to_unlabelled_events_of_a_noisier_condition(simulated_file, tmp_path):
    reference = simulated_file("baikal-gvd", 300, 641)
    noisy = simulated_file("baikal-gvd", 300, 642, conditions=BaikalConditions(noise_rate_hz=80e3))
    record = calibrate([reference], tmp_path / "adapted", detector="baikal-gvd", unlabelled=[noisy],
                       log=lambda line: None)
    adaptation = record["stages"]["hit_selection"]["adaptation"]
    assert adaptation["noise_fraction_unlabelled"] > adaptation["noise_fraction_labelled"] + 0.05
    loaded = Pipeline.load(tmp_path / "adapted").stages["hit_selection"]
    assert loaded.config["noise_odds_ratio"] == adaptation["noise_odds_ratio"]
    assert "noise_odds_ratio" not in Pipeline.shipped("baikal-gvd").stages["hit_selection"].config


def test_a_working_point_keeps_the_chosen_fraction_of_the_reference_signal(simulated_file, tmp_path):
    reference = simulated_file("baikal-gvd", 300, 651, mix={"numu_cc": 3.0, "nue_cc": 1.0, "eas": 2.0})
    record = calibrate([reference], tmp_path / "wp", detector="baikal-gvd", efficiency=0.7, log=lambda line: None)
    point = record["stages"]["background_suppression"]["working_point"]
    assert point["signal_events"] >= MIN_REFERENCE_EVENTS and point["background_events"] > 0
    assert abs(point["signal_passing"] - 0.7) < 0.01 and 0.0 < point["event_score_threshold"] < 1.0
    assert Pipeline.load(tmp_path / "wp").stages["background_suppression"].config["working_point"] == point


def test_a_working_point_at_a_rejection_lets_that_fraction_of_the_background_through(simulated_file, tmp_path):
    reference = simulated_file("baikal-gvd", 300, 651, mix={"numu_cc": 3.0, "nue_cc": 1.0, "eas": 2.0})
    record = calibrate([reference], tmp_path / "wpr", detector="baikal-gvd", rejection=2, log=lambda line: None)
    point = record["stages"]["background_suppression"]["working_point"]
    assert point["background_rejection"] == 2 and point["background_events"] >= 20
    assert point["background_passing"] <= point["background_events"] // 2
    assert 0.0 < point["signal_passing"] <= 1.0
    with pytest.raises(TooFewReferenceEvents, match="needs at least 1000000 background"):
        calibrate([reference], tmp_path / "refused", detector="baikal-gvd", rejection=1e5, log=lambda line: None)
    assert not (tmp_path / "refused").exists()
