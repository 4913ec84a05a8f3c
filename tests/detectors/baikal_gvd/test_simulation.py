import math

import numpy as np
import pytest

from graphreco.detectors.baikal_gvd import water
from graphreco.detectors.baikal_gvd.light import SIN_CHERENKOV, TAN_CHERENKOV, direction_vector
from graphreco.detectors.baikal_gvd.muons import muon_range, sample_bundle_multiplicity
from graphreco.detectors.baikal_gvd.simulation import Conditions, simulate_events
from graphreco.detectors.baikal_gvd.trigger import trigger_times
from graphreco.io import event_table, read_events, write_events


def test_water_constants_match_the_published_values():
    assert 41.0 < math.degrees(water.CHERENKOV_ANGLE) < 42.5
    assert water.GROUP_VELOCITY == pytest.approx(0.2188, abs=1e-3)  # m/ns, group index 1.37


def test_muon_range_matches_the_pdg_tables():
    # PDG muon tables for water: CSDA range 42 m at 10 GeV, ~2.5 km at 1 TeV
    assert muon_range(np.array([10.0]))[0] == pytest.approx(38, rel=0.15)
    assert muon_range(np.array([1000.0]))[0] == pytest.approx(2450, rel=0.05)


def test_bundles_are_mostly_single_muons():
    m = sample_bundle_multiplicity(np.random.default_rng(0), 100_000)
    assert 0.6 < np.mean(m == 1) < 0.8 and m.max() > 5


def test_trigger_needs_neighbours_in_time_and_charge():
    #                 string module  t      q
    pulses = np.array([[0, 5, 100.0, 5.0], [0, 6, 180.0, 2.0],     # event 0: triggers at 100
                       [0, 5, 100.0, 5.0], [0, 7, 120.0, 9.0],     # event 1: not neighbours
                       [0, 5, 100.0, 5.0], [0, 6, 250.0, 9.0],     # event 2: too far in time
                       [0, 5, 100.0, 4.0], [1, 6, 110.0, 9.0],     # event 3: other string
                       [2, 3, 300.0, 1.6], [2, 2, 260.0, 4.6]])    # event 4: triggers at 260
    offsets = np.arange(0, 11, 2)
    times = trigger_times(offsets, pulses[:, 0], pulses[:, 1], pulses[:, 2], pulses[:, 3])
    np.testing.assert_array_equal(times, [100.0, np.inf, np.inf, np.inf, 260.0])


@pytest.fixture(scope="module")
def muons():
    return simulate_events(400, seed=7, mix={"numu_cc": 1.0}, conditions=Conditions(noise_rate_hz=0.0))


def test_muon_light_arrives_at_the_cherenkov_time(muons):
    sizes = np.diff(muons.offsets)
    event = np.repeat(np.arange(sizes.size), sizes)
    h, e = muons.hits, muons.events
    motion = direction_vector(e["true_zenith"], e["true_azimuth"])[event]
    start = np.column_stack([e["true_x"], e["true_y"], e["true_z"]])[event]
    v = np.column_stack([h["x"], h["y"], h["z"]]) - start
    along = (v * motion).sum(axis=1)
    d = np.linalg.norm(v - along[:, None] * motion, axis=1)
    expected = e["true_t"][event] + (along - d / TAN_CHERENKOV) / water.SPEED_OF_LIGHT \
        + d / SIN_CHERENKOV / water.GROUP_VELOCITY
    residual = (h["t"] - expected)[h["true_label"] == 1]
    # direct light: a peak at zero as wide as the jitter (1.7 ns), a scattering tail of a few
    # ns, and later light from the stochastic losses of energetic muons
    assert -1.0 < np.median(residual) < 4.0
    assert np.mean(np.abs(residual) < 5.0) > 0.5 and np.mean(residual > -6.0) > 0.97


def test_every_hit_is_signal_without_noise_and_events_trigger(muons):
    assert np.all(muons.hits["true_label"] == 1)
    assert np.all(np.diff(muons.offsets) >= 2)
    assert set(muons.events["true_kind"]) == {"numu_cc"} and np.all(muons.events["true_zenith"] > np.pi / 2)


def test_same_seed_same_events():
    a, b = (simulate_events(50, seed=3) for _ in range(2))
    np.testing.assert_array_equal(a.offsets, b.offsets)
    for name in a.hits:
        np.testing.assert_array_equal(a.hits[name], b.hits[name])


def test_shifted_conditions_change_what_they_should():
    base = simulate_events(300, seed=5, mix={"eas": 1.0})
    noisy = simulate_events(300, seed=5, mix={"eas": 1.0}, conditions=Conditions(noise_rate_hz=80e3))
    murky = simulate_events(300, seed=5, mix={"nue_cc": 1.0}, conditions=Conditions(absorption_length=15.0))
    clear = simulate_events(300, seed=5, mix={"nue_cc": 1.0})

    def noise_hits(ev):
        return np.sum(ev.hits["true_label"] == 0) / ev.event_id.size

    def signal_hits(ev):
        return np.sum(ev.hits["true_label"] > 0) / ev.event_id.size

    assert noise_hits(noisy) == pytest.approx(2 * noise_hits(base), rel=0.1)
    assert signal_hits(murky) < 0.8 * signal_hits(clear)
    assert 0.75 < noise_hits(base) / (noise_hits(base) + signal_hits(base)) < 0.95  # atmospheric muons


def test_simulated_events_pass_the_reader(tmp_path):
    events = simulate_events(100, seed=2)
    write_events(tmp_path / "sim.parquet", event_table(**events.columns()), "baikal-gvd")
    (batch,) = read_events(tmp_path / "sim.parquet")
    assert batch.n_events == 100 and batch.hits["t"].min() >= 0 and batch.hits["t"].max() < 5000
    assert set(batch.events["true_kind"]) <= {"numu_cc", "nue_cc", "nc", "eas"}
