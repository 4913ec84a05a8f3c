import json

import numpy as np
import pytest

from graphreco.cli import main
from graphreco.detectors.ta_sd.acceptance import trigger_efficiency
from graphreco.detectors.ta_sd.composition import IRON, PHOTON, PROTON, mean_xmax
from graphreco.detectors.ta_sd.fluctuations import sample_layers
from graphreco.detectors.ta_sd.s800 import ANCHOR_ZENITH, shower_size, vertical_s800
from graphreco.detectors.ta_sd.shower import SPEED_OF_LIGHT, axis_vector, ldf_shape
from graphreco.detectors.ta_sd.simulation import Conditions, simulate_events
from graphreco.detectors.ta_sd.trigger import LEVEL1_VEM, level2_trigger_times, passes
from graphreco.io import event_table, read_events, write_events


def test_level2_needs_three_adjacent_level1_counters_within_8_us():
    #                      column row  t      level-1
    counters = np.array([[[5, 5, 0.0, 1], [6, 5, 100.0, 1], [6, 6, 300.0, 1]],       # L: triggers
                         [[5, 5, 0.0, 1], [6, 5, 100.0, 1], [7, 5, 200.0, 1]],       # line: triggers
                         [[5, 5, 0.0, 1], [6, 6, 100.0, 1], [7, 7, 200.0, 1]],       # diagonal: no
                         [[5, 5, 0.0, 1], [6, 5, 100.0, 1], [8, 5, 200.0, 1]],       # gap: no
                         [[5, 5, 0.0, 1], [6, 5, 100.0, 1], [6, 6, 8100.0, 1]],      # 8.1 us apart: no
                         [[5, 5, 0.0, 1], [6, 5, 100.0, 1], [6, 6, 300.0, 0]]])      # not level-1: no
    flat = counters.reshape(-1, 4)
    times = level2_trigger_times(np.arange(0, 19, 3), flat[:, 0], flat[:, 1], flat[:, 2], flat[:, 3] > 0)
    np.testing.assert_allclose(times, [400.0 / 3, 100.0, np.inf, np.inf, np.inf, np.inf])


def test_s800_is_normalised_on_the_2021_event_and_composition_shifts_it():
    anchor = shower_size(np.array([309e18]), np.array([ANCHOR_ZENITH]),
                         mean_xmax(np.array([PROTON]), np.array([np.log10(309e18)])), np.array([1.0]))
    assert anchor["s800"][0] == pytest.approx(530.0)
    assert 20.0 < vertical_s800(1e19) < 35.0  # VEM/m^2 for a vertical 10^19 eV proton

    def s800(pdg, muons):
        return shower_size(np.array([1e19]), np.array([np.radians(35.0)]),
                           mean_xmax(np.array([pdg]), np.array([19.0])), np.array([muons]))

    proton, iron, photon = s800(PROTON, 1.0), s800(IRON, 1.4), s800(PHOTON, 0.15)
    assert iron["s800"][0] / proton["s800"][0] == pytest.approx(1.27 / 1.17, rel=0.01)  # TA's two energy tables
    assert photon["s800"][0] < proton["s800"][0]
    assert photon["slope_shift"][0] > 0 > iron["slope_shift"][0]  # photons steeper, iron flatter
    assert photon["curvature"][0] > 1 > iron["curvature"][0]


def test_layer_fluctuations_follow_the_ta_variance_model():
    rng = np.random.default_rng(1)
    for mean in (2.0, 50.0, 2000.0):
        upper, lower = sample_layers(rng, np.full(100_000, mean))
        average = 0.5 * (upper + lower)
        assert average.mean() == pytest.approx(mean, rel=0.01)
        # sigma_rho = 0.53 sqrt(2 rho + 0.15^2 rho^2) with rho = Q / 3 m^2
        expected = 9 * 0.53 ** 2 * (2 * mean / 3 + 0.15 ** 2 * (mean / 3) ** 2)
        assert average.var() == pytest.approx(expected, rel=0.05)
        assert 0.5 < np.corrcoef(upper, lower)[0, 1] < 1.0


@pytest.fixture(scope="module")
def events():
    return simulate_events(400, seed=11)


def _event_of_hit(events):
    return np.repeat(np.arange(events.event_id.size), np.diff(events.offsets))


def test_columns_and_dtypes_follow_the_event_format(events, tmp_path):
    hits, truth = events.hits, events.events
    for name in ("x", "y", "z", "t", "signal_upper", "signal_lower"):
        assert hits[name].dtype == np.float32 and np.all(np.isfinite(hits[name]))
    assert hits["channel"].dtype == np.int32 and hits["true_label"].dtype == np.int8
    for name in ("true_energy", "true_zenith", "true_azimuth", "true_core_x", "true_core_y", "true_xmax", "true_s800"):
        assert truth[name].dtype == np.float64
    assert truth["true_primary"].dtype == np.int32
    assert set(np.unique(truth["true_primary"])) == {PROTON, IRON, PHOTON}
    assert 1e9 <= truth["true_energy"].min() and truth["true_energy"].max() <= 10 ** 11.5  # GeV
    assert truth["true_zenith"].max() <= np.radians(60.0)
    assert hits["t"].min() >= 0.0 and hits["t"].max() < 64_000.0
    write_events(tmp_path / "ta.parquet", event_table(**events.columns()), "ta-sd")
    (batch,) = read_events(tmp_path / "ta.parquet")
    assert batch.detector == "ta-sd" and batch.n_events == 400
    np.testing.assert_array_equal(batch.offsets, events.offsets)
    np.testing.assert_array_equal(batch.hits["signal_upper"], hits["signal_upper"])
    np.testing.assert_array_equal(batch.events["true_primary"], truth["true_primary"])


def test_every_event_passes_the_trigger_and_has_both_labels(events):
    hits = events.hits
    level1 = passes(hits["signal_upper"], hits["signal_lower"], LEVEL1_VEM)
    times = level2_trigger_times(events.offsets, hits["channel"] // 100, hits["channel"] % 100, hits["t"], level1)
    assert np.all(np.isfinite(times))
    # the trigger time sits in the middle of the +-32 us readout window
    assert np.all(np.abs(times - 32_000.0) < 1.0)
    labels = hits["true_label"]
    assert set(np.unique(labels)) == {0, 1}
    per_event = np.bincount(_event_of_hit(events), labels == 0)
    assert 15.0 < per_event.mean() < 30.0  # ~22 random muons per 64 us window
    noise_t = hits["t"][labels == 0]
    assert np.histogram(noise_t, bins=4, range=(0, 64_000))[0].min() > 0.2 * noise_t.size
    assert np.median(hits["signal_upper"][labels == 0]) == pytest.approx(1.2, abs=0.4)  # ~1 VEM muons


def test_signal_near_800_m_scales_with_energy(events):
    hits, truth = events.hits, events.events
    event = _event_of_hit(events)
    shower = hits["true_label"] == 1
    axis = axis_vector(truth["true_zenith"], truth["true_azimuth"])[event]
    d = np.column_stack([hits["x"] - truth["true_core_x"][event], hits["y"] - truth["true_core_y"][event], hits["z"]])
    r = np.sqrt(np.maximum((d * d).sum(axis=1) - (d * axis).sum(axis=1) ** 2, 0.0))
    unsaturated = hits["signal_upper"] < 300.0
    near = shower & unsaturated & (r > 500.0) & (r < 1200.0) & (truth["true_zenith"][event] < np.radians(45.0))
    rho = 0.5 * (hits["signal_upper"] + hits["signal_lower"]) / 3.0
    s800 = (rho / ldf_shape(r, truth["true_zenith"][event]))[near]
    log10_energy = np.log10(truth["true_energy"][event][near])
    slope = np.polyfit(log10_energy, np.log10(s800), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.15)  # S800 ~ E^1


def test_times_follow_the_plane_front_of_the_true_direction():
    events = simulate_events(30, seed=3, log10_energy_range=(19.5, 20.0), max_zenith_deg=45.0)
    errors = []
    for e in range(30):
        hit = slice(events.offsets[e], events.offsets[e + 1])
        h = {name: values[hit] for name, values in events.hits.items()}
        use = (h["true_label"] == 1) & (h["signal_upper"] > 5.0)
        x, y, z, t = (h[name][use].astype(np.float64) for name in ("x", "y", "z", "t"))
        nz = 1.0
        for _ in range(3):  # t = t0 - (n . r) / c, with n_z from the last iteration
            design = np.column_stack([np.ones_like(x), -x / SPEED_OF_LIGHT, -y / SPEED_OF_LIGHT])
            t0, nx, ny = np.linalg.lstsq(design, t + nz * z / SPEED_OF_LIGHT, rcond=None)[0]
            nz = np.sqrt(max(1.0 - nx * nx - ny * ny, 0.0))
        fitted = np.array([nx, ny, nz]) / np.linalg.norm([nx, ny, nz])
        true = axis_vector(events.events["true_zenith"][e], events.events["true_azimuth"][e])
        errors.append(np.degrees(np.arccos(np.clip(fitted @ true, -1.0, 1.0))))
    assert np.median(errors) < 3.0


def test_fiducial_trigger_efficiency_rises_to_one_by_10_19_ev():
    assert trigger_efficiency((18.0, 18.25), n_thrown=512) < 0.7
    assert trigger_efficiency((19.0, 19.25), n_thrown=512) > 0.99


def test_same_seed_same_events():
    a, b = (simulate_events(60, seed=5) for _ in range(2))
    np.testing.assert_array_equal(a.offsets, b.offsets)
    for name in a.hits:
        np.testing.assert_array_equal(a.hits[name], b.hits[name])
    for name in a.events:
        np.testing.assert_array_equal(a.events[name], b.events[name])


def test_shifted_conditions_change_what_they_should():
    base = simulate_events(150, seed=9, primaries=("proton",))
    noisy = simulate_events(150, seed=9, primaries=("proton",), conditions=Conditions(accidental_rate_scale=2.0))
    bright = simulate_events(150, seed=9, primaries=("proton",), conditions=Conditions(calibration_scale=1.1))

    def accidentals(ev):
        return np.sum(ev.hits["true_label"] == 0) / ev.event_id.size

    assert accidentals(noisy) == pytest.approx(2 * accidentals(base), rel=0.1)
    np.testing.assert_allclose(bright.hits["signal_upper"], 1.1 * base.hits["signal_upper"], rtol=1e-5)
    with pytest.raises(ValueError, match="unknown primaries"):
        simulate_events(5, primaries=("neutrino",))


def test_simulate_command_writes_a_readable_file(tmp_path, capsys):
    out = tmp_path / "ta.parquet"
    assert main(["simulate", "ta-sd", "--events", "120", "--seed", "2", "--primaries", "proton", "iron",
                 "-o", str(out), "--json", "-"]) == 0
    simulated = json.loads(capsys.readouterr().out)
    assert simulated["events"] == 120 and 0.2 < simulated["signal_hit_fraction"] < 0.8
    (batch,) = read_events(out)
    assert set(np.unique(batch.events["true_primary"])) == {PROTON, IRON}
    assert main(["graphs", str(out), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"] == simulated["hits"]
