import numpy as np
import pytest

from graphreco.detectors.baikal_gvd.baseline import reconstruct_classically, refit_tracks
from graphreco.detectors.baikal_gvd.light import direction_vector
from graphreco.detectors.baikal_gvd.simulation import simulate_events


def angle_between(zenith_a, azimuth_a, zenith_b, azimuth_b):
    cosine = (direction_vector(zenith_a, azimuth_a) * direction_vector(zenith_b, azimuth_b)).sum(axis=1)
    return np.arccos(np.clip(cosine, -1.0, 1.0))


@pytest.fixture(scope="module")
def tracks():
    """Up-going muons at the nominal 40 kHz noise."""
    return simulate_events(400, seed=11, mix={"numu_cc": 1.0})


def test_track_fit_recovers_tracks_with_ten_signal_hits(tracks):
    ev = tracks
    out = reconstruct_classically(ev.offsets, ev.hits)
    signal = np.add.reduceat((ev.hits["true_label"] > 0).astype(int), ev.offsets[:-1])
    error = angle_between(ev.events["true_zenith"], ev.events["true_azimuth"],
                          out["reco_zenith"].astype(float), out["reco_azimuth"].astype(float))
    selected = signal >= 10
    fitted = selected & np.isfinite(error)
    assert fitted.sum() >= 0.8 * selected.sum() > 200
    assert np.degrees(np.median(error[fitted])) < 6.0  # measured 4.7 deg on 600 events
    upgoing = fitted & (out["reco_zenith"] > np.pi / 2)
    assert np.all(out["event_score"][upgoing] > 0) and np.all(out["event_score"][np.isnan(error)] == 0)


def test_cleaning_drops_noise_that_light_cannot_connect():
    # a local coincidence on one string, a third hit causally compatible 15 m above, and a
    # noise hit 3 us later on the same string: only the noise hit goes
    x = np.zeros(4)
    y = np.zeros(4)
    z = np.array([0.0, 15.0, 30.0, 45.0])
    t = np.array([100.0, 160.0, 230.0, 3100.0])
    q = np.array([5.0, 2.0, 1.0, 1.0])
    out = reconstruct_classically(np.array([0, 4]), {"x": x, "y": y, "z": z, "t": t, "charge": q})
    np.testing.assert_array_equal(out["hit_score"], [1, 1, 1, 0])
    assert np.isnan(out["reco_zenith"][0])  # too few hits for a track fit


def test_events_without_seeds_keep_nothing():
    out = reconstruct_classically(np.array([0, 3, 3]), {name: np.arange(3.0) * 500 for name in ("x", "y", "z", "t")}
                                  | {"charge": np.ones(3)})
    assert out["hit_score"].sum() == 0 and out["event_score"].tolist() == [0.0, 0.0]


def test_refit_from_a_nearby_start_on_signal_hits_converges_to_the_track(tracks):
    ev = tracks
    signal = ev.hits["true_label"] > 0
    keep_offsets = np.concatenate([[0], np.cumsum(np.add.reduceat(signal.astype(int), ev.offsets[:-1]))])
    hits = {name: values[signal] for name, values in ev.hits.items()}
    start_zenith = ev.events["true_zenith"] + np.radians(10.0)  # 10 degrees off
    fit = refit_tracks(keep_offsets, hits, start_zenith, ev.events["true_azimuth"])
    error = angle_between(ev.events["true_zenith"], ev.events["true_azimuth"], fit["reco_zenith"], fit["reco_azimuth"])
    enough = np.diff(keep_offsets) >= 10
    assert np.isfinite(error[enough]).mean() > 0.95
    assert np.degrees(np.nanmedian(error[enough])) < 3.0
    assert np.all(np.isnan(fit["reco_zenith"][np.diff(keep_offsets) < 6]))
