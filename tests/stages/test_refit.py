from dataclasses import replace

import numpy as np
import pytest
import torch

from graphreco import detectors
from graphreco.detectors.baikal_gvd.simulation import simulate_events
from graphreco.evaluate.resolution import angular_error
from graphreco.io import event_table, read_events, write_events
from graphreco.pipeline import Pipeline
from graphreco.stages import EnergyDirection, Refit, StageInput
from graphreco.stages.calibration import N_HIT_BINS
from graphreco.train.loop import load_graphs

DETECTOR = detectors.get("baikal-gvd")


class NetworkOnTruthScores:
    """An upstream 'pipeline': hit scores from the truth, then an untrained network's
    direction (``energy_direction``), so the test needs no artifact."""

    def __init__(self):
        torch.manual_seed(0)
        network = EnergyDirection(len(DETECTOR.feature_names), DETECTOR.relative_features, hidden=16, layers=2,
                                  track_like=0.5).eval()
        self.network = Pipeline(DETECTOR, {"energy_direction": network})

    def run(self, inputs: StageInput) -> dict:
        label = inputs.batch.hits["true_label"]
        inputs.hit_columns["hit_score"] = (label > 0).astype(np.float32)
        inputs.hit_columns["hit_track_score"] = (label == 1).astype(np.float32)
        return self.network.run(inputs)


@pytest.fixture(scope="module")
def events_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("refit") / "events.parquet"
    write_events(path, event_table(**simulate_events(200, seed=5).columns()), "baikal-gvd")
    return path


def test_the_refit_fits_track_like_events_only_and_calibrates_their_cone(events_file):
    refit, upstream = Refit(track_like=0.5), NetworkOnTruthScores()
    assert refit.reads == ("hit_score", "hit_track_score", "reco_zenith", "reco_azimuth", "reco_angle_sigma")
    assert refit.writes == ("reco_zenith", "reco_azimuth", "reco_angle_sigma") and not refit.trained
    measured = refit.calibrate_on(load_graphs(events_file, 200, refit, upstream))
    assert measured["refitted_events"] > 0 and refit.config["refit_scale"] == measured["refit_scale"]
    assert len(measured["refit_scale"]) == N_HIT_BINS
    batch = next(read_events(events_file, batch_size=200))
    inputs = StageInput(batch, DETECTOR, None)
    network = upstream.run(inputs)
    with torch.inference_mode():
        columns, refitted, _ = refit.estimates(refit.input_graph(inputs))
        _, written = refit.outputs(inputs)
    kind = batch.events["true_kind"].astype(str)
    assert refitted[kind == "numu_cc"].mean() > 0.5 and not refitted[np.isin(kind, ("nue_cc", "nc"))].any()
    for name in ("reco_zenith", "reco_azimuth", "reco_angle_sigma"):  # the others keep the network's
        np.testing.assert_array_equal(written[name][~refitted], network[name][~refitted])
    error = angular_error(batch.events, columns)
    before = angular_error(batch.events, network)
    assert np.degrees(np.median(error[refitted])) < np.degrees(np.median(before[refitted]))


def test_a_detector_without_a_fit_cannot_be_refitted(events_file):
    lhc = detectors.get("lhc-pf")
    batch = next(read_events(events_file, batch_size=5))
    with pytest.raises(ValueError, match="no direction fit"):
        Refit().refit(replace(batch, detector=lhc.name), np.ones(5, dtype=bool), np.zeros(5), np.zeros(5))
