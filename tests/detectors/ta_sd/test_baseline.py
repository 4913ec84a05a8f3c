import numpy as np
import pytest

from graphreco.detectors import DetectorConfiguration
from graphreco.detectors.ta_sd import energy_table as energy_table_module
from graphreco.detectors.ta_sd.baseline import (
    CLEAN_DCHI2,
    REFIT_CLEAN_DCHI2,
    RESULT_COLUMNS,
    fit_showers,
    reconstruct_classically,
    refit_showers,
)
from graphreco.detectors.ta_sd.energy_table import BUILD_COMMAND, EnergyTable, fit_energy_table
from graphreco.detectors.ta_sd.shower import axis_vector, front_delay, front_spread, ldf_shape, shower_frame
from graphreco.detectors.ta_sd.simulation import simulate_events

COLUMNS = ("x", "y", "z", "t", "signal_upper", "signal_lower")


def grid(n=13, spacing=1200.0):
    """Counter positions (n*n, 3) on a square grid centred at the origin, flat ground."""
    g = (np.arange(n) - (n - 1) / 2) * spacing
    xx, yy = np.meshgrid(g, g, indexing="ij")
    return np.column_stack([xx.ravel(), yy.ravel(), np.zeros(xx.size)])


def grid_configuration(counters: np.ndarray) -> DetectorConfiguration:
    """Every counter of ``counters`` (K, 3) live."""
    return DetectorConfiguration("ta-sd", counters, None, np.ones(len(counters), dtype=bool), "test grid")


def showers(counters, cores, zeniths, azimuths, s800s, rng=None):
    """CSR hits of showers with shower.py's LDF and front (curvature 1): noise-free, or with
    TA's density fluctuations and Gaussian arrival times of the Linsley spread and 20 ns
    when ``rng`` is given. Counters above 0.3 VEM are hit."""
    offsets, parts = [0], {name: [] for name in COLUMNS}
    for (core_x, core_y), zenith, azimuth, s800 in zip(cores, zeniths, azimuths, s800s):
        x, y, z = counters.T
        r, t = shower_frame(x, y, z, core_x, core_y, zenith, azimuth)
        rho = s800 * ldf_shape(r, zenith)
        if rng is not None:
            rho = np.maximum(rho + rng.standard_normal(rho.size) * np.sqrt(0.56 * rho + 6.3e-3 * rho ** 2), 0.0)
        t = t + front_delay(r, rho) + 5000.0
        if rng is not None:
            t = t + rng.standard_normal(t.size) * np.hypot(20.0, front_spread(r, rho))
        hit = 3.0 * rho >= 0.3
        for name, values in zip(COLUMNS, (x, y, z, t, 3.0 * rho, 3.0 * rho)):
            parts[name].append(values[hit])
        offsets.append(offsets[-1] + int(hit.sum()))
    return np.array(offsets), {name: np.concatenate(values) for name, values in parts.items()}


def random_showers(n, seed, max_zenith_deg=50.0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1500.0, 1500.0, (n, 2)), np.arccos(rng.uniform(np.cos(np.radians(max_zenith_deg)), 1.0, n)),
            rng.uniform(0.0, 2 * np.pi, n), 10 ** rng.uniform(0.5, 1.5, n))


def angle_between(zenith_a, azimuth_a, zenith_b, azimuth_b):
    cosine = (axis_vector(zenith_a, azimuth_a) * axis_vector(zenith_b, azimuth_b)).sum(axis=-1)
    return np.arccos(np.clip(cosine, -1.0, 1.0))


def test_noise_free_showers_are_recovered():
    counters = grid()
    cores, zenith, azimuth, s800 = random_showers(80, seed=1)
    out = fit_showers(*showers(counters, cores, zenith, azimuth, s800), counters)
    assert np.all(out["fit_ok"][out["n_used"] >= 3] == 1)
    fitted = out["n_ldf"] >= 4  # more unsaturated counters than LDF parameters (the COG term rules below)
    assert fitted.mean() > 0.9
    error = angle_between(zenith, azimuth, out["reco_zenith"], out["reco_azimuth"])[fitted]
    assert np.degrees(error).max() < 0.5  # measured 0.05 deg
    assert np.hypot(out["reco_core_x"] - cores[:, 0], out["reco_core_y"] - cores[:, 1])[fitted].max() < 50.0  # 22 m
    assert np.abs(out["s800"] / s800 - 1.0)[fitted].max() < 0.05  # 3.6 %
    np.testing.assert_allclose(out["curvature"][out["n_used"] >= 6], 1.0, atol=0.02)


def test_uncertainties_match_the_scatter_of_noisy_showers():
    counters = grid(15)
    cores, zenith, azimuth, s800 = random_showers(600, seed=2)
    out = fit_showers(*showers(counters, cores, zenith, azimuth, s800, rng=np.random.default_rng(3)), counters)
    large = (out["fit_ok"] == 1) & (out["n_used"] >= 8)
    assert large.sum() > 150
    error = angle_between(zenith, azimuth, out["reco_zenith"], out["reco_azimuth"])[large]
    assert np.degrees(np.median(error)) < 1.5  # measured 0.82 deg
    assert 0.5 < np.mean(error < out["reco_angle_sigma"][large]) < 0.85  # measured 0.62: the 68 % cone
    pull = np.log10(out["s800"] / s800)[large] / out["s800_sigma_log10"][large]
    assert abs(np.median(pull)) < 0.3 and 0.7 < np.std(pull) < 1.5  # measured 1.08
    assert abs(np.median(out["curvature"][large]) - 1.0) < 0.1


def test_pattern_recognition_drops_accidental_counters():
    counters = grid()
    cores, zenith, azimuth, s800 = random_showers(20, seed=4)
    offsets, hits = showers(counters, cores, zenith, azimuth, s800)
    clean = fit_showers(offsets, hits, counters)
    rng = np.random.default_rng(5)
    new_offsets, parts, injected = [0], {name: [] for name in COLUMNS}, []
    for e in range(len(offsets) - 1):
        event = {name: values[offsets[e]:offsets[e + 1]] for name, values in hits.items()}
        taken = np.hypot(counters[:, None, 0] - event["x"], counters[:, None, 1] - event["y"]).min(axis=1) < 1.0
        nearest = np.hypot(counters[:, None, 0] - event["x"], counters[:, None, 1] - event["y"])
        bright = np.argmax(event["signal_upper"])
        # a silent counter next to the brightest, 2.5 us off the front but within the causal
        # window of the brightest, an isolated one at a random time, and a 1 VEM random muon
        beside = np.flatnonzero(~taken)[np.argmin(nearest[~taken, bright])]
        r, plane = shower_frame(*counters[beside], *cores[e], zenith[e], azimuth[e])
        front = plane + front_delay(r, 5.0 / 3.0) + 5000.0  # as showers() makes it
        off_front = front + (-2500.0 if front > event["t"][bright] else 2500.0)
        far = np.flatnonzero(~taken)[np.argmax(nearest[~taken].min(axis=1))]
        muon = rng.choice(np.flatnonzero(~taken & (np.arange(len(counters)) != beside)
                                         & (np.arange(len(counters)) != far)))
        extra = {"x": counters[[beside, far, muon], 0], "y": counters[[beside, far, muon], 1], "z": np.zeros(3),
                 "t": np.array([off_front, rng.uniform(0.0, 64000.0), event["t"][bright] + 100.0]),
                 "signal_upper": np.array([5.0, 3.0, 1.0]), "signal_lower": np.array([5.0, 3.0, 1.0])}
        for name in COLUMNS:
            parts[name].append(np.concatenate([event[name], extra[name]]))
        injected.append(np.r_[np.zeros(len(event["x"]), bool), np.ones(3, bool)])
        new_offsets.append(new_offsets[-1] + len(event["x"]) + 3)
    noisy = fit_showers(np.array(new_offsets), {name: np.concatenate(v) for name, v in parts.items()}, counters)
    injected = np.concatenate(injected)
    assert noisy["hit_score"][injected].sum() == 0
    assert noisy["hit_score"][~injected].sum() == clean["hit_score"].sum()
    fitted = clean["fit_ok"] == 1
    change = angle_between(clean["reco_zenith"], clean["reco_azimuth"], noisy["reco_zenith"], noisy["reco_azimuth"])
    assert np.degrees(change[fitted]).max() < 0.1


def test_degenerate_events_give_nan_without_errors():
    counters = grid(7)
    line = np.arange(5) * 1200.0
    events = [  # (x, y, t, signal)
        (np.array([]), np.array([]), np.array([]), np.array([])),
        (np.array([0.0]), np.array([0.0]), np.array([0.0]), np.array([50.0])),
        (line[:2], np.zeros(2), line[:2] / 0.6, np.array([30.0, 20.0])),
        (line[:3], np.zeros(3), line[:3] / 0.6, np.array([30.0, 20.0, 10.0])),
        (line, line, line / 0.5, np.full(5, 10.0)),  # a diagonal line
        (np.array([0.0, 1200.0, 0.0]), np.array([0.0, 0.0, 1200.0]), np.zeros(3), np.full(3, 1.0)),  # below floor
    ]
    offsets = np.cumsum([0] + [len(event[0]) for event in events])
    hits = {"x": np.concatenate([e[0] for e in events]), "y": np.concatenate([e[1] for e in events]),
            "t": np.concatenate([e[2] for e in events]), "signal_upper": np.concatenate([e[3] for e in events])}
    hits["z"] = np.zeros_like(hits["x"])
    hits["signal_lower"] = hits["signal_upper"]
    out = fit_showers(offsets, hits, counters)
    assert np.all(out["fit_ok"] == 0) and np.all(np.isnan(out["reco_zenith"])) and np.all(np.isnan(out["s800"]))
    assert out["hit_score"].sum() == 0


@pytest.mark.parametrize("azimuth", [0.0, np.pi / 2, 4.0])
def test_azimuth_is_where_the_shower_comes_from(azimuth):
    counters = grid()
    offsets, hits = showers(counters, [(100.0, -200.0)], [np.radians(35.0)], [azimuth], [20.0])
    towards_source = hits["x"] * np.cos(azimuth) + hits["y"] * np.sin(azimuth)
    assert np.corrcoef(towards_source, hits["t"])[0, 1] < -0.9  # counters nearer the source fire first
    out = fit_showers(offsets, hits, counters)
    assert abs(np.angle(np.exp(1j * (out["reco_azimuth"][0] - azimuth)))) < np.radians(0.5)
    assert abs(out["reco_zenith"][0] - np.radians(35.0)) < np.radians(0.5)


def toy_table_data(n, seed):
    """S800 ~ E^0.95 attenuated with sec(zenith), 20 % scatter."""
    rng = np.random.default_rng(seed)
    log_e = rng.uniform(9.0, 11.0, n)
    zenith = np.arccos(rng.uniform(0.5, 1.0, n))
    log_s = 0.95 * (log_e - 10.0) + 1.4 - 0.6 * (1.0 / np.cos(zenith) - 1.0) + rng.normal(0.0, 0.08, n)
    return 10 ** log_s, zenith, log_e


def test_energy_table_round_trip(tmp_path):
    s800, zenith, log_e = toy_table_data(4000, seed=6)
    table = fit_energy_table(s800, zenith, log_e, np.full(s800.size, 0.05), description="toy")
    assert "bins of sec(zenith)" in repr(table)
    estimate, sigma = table.log10_energy(s800, zenith, 0.05)
    assert abs(np.mean(estimate - log_e)) < 0.01
    assert np.std(estimate - log_e) == pytest.approx(np.median(np.sqrt(table.rms ** 2)), rel=0.15)
    assert np.all(sigma > 0) and np.median(sigma) == pytest.approx(np.std(estimate - log_e), rel=0.2)
    table.save(tmp_path / "table.json")
    loaded = EnergyTable.load(tmp_path / "table.json")
    np.testing.assert_allclose(loaded.log10_energy(s800, zenith, 0.05), (estimate, sigma))
    assert loaded.description == "toy"
    missing = table.log10_energy(np.array([0.0, np.nan, 10.0]), np.array([0.1, 0.1, np.nan]))
    assert np.all(np.isnan(missing[0])) and np.all(np.isnan(missing[1]))


def test_reconstruction_needs_an_energy_table(tmp_path, monkeypatch):
    counters = grid()
    offsets, hits = showers(counters, [(0.0, 0.0)], [0.3], [1.0], [10.0])
    monkeypatch.setattr(energy_table_module, "SHIPPED_TABLE", tmp_path / "missing.json")
    with pytest.raises(FileNotFoundError, match=BUILD_COMMAND):
        reconstruct_classically(offsets, hits, grid_configuration(counters))
    table = fit_energy_table(*toy_table_data(400, seed=7))
    out = reconstruct_classically(offsets, hits, grid_configuration(counters), energy_table=table)
    expected = {"reco_zenith", "reco_azimuth", "reco_core_x", "reco_core_y", "reco_angle_sigma", "s800",
                "reco_log10_energy", "reco_log10_energy_sigma", "hit_score"} | set(RESULT_COLUMNS)
    assert set(out) == expected and all(values.dtype == np.float32 for values in out.values())
    assert out["fit_ok"][0] == 1 and np.isfinite(out["reco_log10_energy"][0]) and out["reco_log10_energy_sigma"][0] > 0


def test_simulated_events_are_reconstructed():
    simulated = simulate_events(300, seed=8)
    out = fit_showers(simulated.offsets, simulated.hits, simulated.configuration.live_positions)
    label, kept = simulated.hits["true_label"], out["hit_score"] == 1
    assert np.mean(out["fit_ok"]) > 0.95
    assert kept[label == 0].mean() < 0.005 and kept[label == 1].mean() > 0.6  # measured 0.09 % and 71 %
    events = simulated.events
    error = angle_between(events["true_zenith"], events["true_azimuth"], out["reco_zenith"], out["reco_azimuth"])
    good = (out["fit_ok"] == 1) & (out["n_used"] >= 5)
    assert np.degrees(np.median(error[good])) < 1.5  # measured 0.74 deg
    assert np.median(np.abs(np.log10(out["s800"] / events["true_s800"]))[good]) < 0.1  # measured 0.065


def test_the_refit_cleans_at_4_sigma_because_tas_cut_drops_true_counters():
    """On the true shower counters, where the front model is exact, TA's chi2 cut of 4
    still removes ~5 % of them and loses precision; the refit's 16 keeps nearly all and
    measures the direction better (seed 9: 68 % angle 1.42 -> 1.33 deg)."""
    simulated = simulate_events(400, seed=9)
    shower = simulated.hits["true_label"] == 1
    n_events = simulated.offsets.size - 1
    sizes = np.bincount(np.repeat(np.arange(n_events), np.diff(simulated.offsets)), shower, minlength=n_events)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    hits = {name: values[shower] for name, values in simulated.hits.items()}
    events = simulated.events
    kept, error = {}, {}
    for cut in (CLEAN_DCHI2, REFIT_CLEAN_DCHI2):
        fit = fit_showers(offsets, hits, simulated.configuration.live_positions, preselected=True, clean_dchi2=cut)
        kept[cut] = fit["hit_score"].mean()
        error[cut] = angle_between(events["true_zenith"], events["true_azimuth"],
                                   fit["reco_zenith"], fit["reco_azimuth"])
    assert kept[CLEAN_DCHI2] < 0.96 and kept[REFIT_CLEAN_DCHI2] > 0.99  # measured 0.949, 0.996
    both = np.isfinite(error[CLEAN_DCHI2]) & np.isfinite(error[REFIT_CLEAN_DCHI2]) & (sizes >= 5)
    ta, refit = error[CLEAN_DCHI2][both], error[REFIT_CLEAN_DCHI2][both]
    assert np.percentile(refit, 68) < 0.97 * np.percentile(ta, 68)
    assert np.sum(refit < ta) > 1.3 * np.sum(refit > ta)  # measured 93 events better, 59 worse


def test_refit_on_a_given_selection_uses_every_counter_handed_over():
    simulated = simulate_events(200, seed=9)
    shower = simulated.hits["true_label"] == 1  # a perfect selection, below the 1.4 VEM floor too
    sizes = np.bincount(np.repeat(np.arange(200), np.diff(simulated.offsets)), shower, minlength=200)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    hits = {name: values[shower] for name, values in simulated.hits.items()}
    events = simulated.events
    refit = refit_showers(offsets, hits, events["true_zenith"], events["true_azimuth"], simulated.configuration)
    assert set(refit) == {"reco_zenith", "reco_azimuth", "fit_cone", "log10_energy", "log10_energy_sigma",
                          "reco_core_x", "reco_core_y"}
    done = np.isfinite(refit["reco_zenith"])
    assert done.mean() > 0.95
    assert np.all(np.isfinite(refit["fit_cone"][done]) & (refit["fit_cone"][done] > 0))
    error = angle_between(events["true_zenith"], events["true_azimuth"], refit["reco_zenith"], refit["reco_azimuth"])
    assert np.degrees(np.median(error[done & (sizes >= 5)])) < 1.5
    kept = fit_showers(offsets, hits, simulated.configuration.live_positions, preselected=True)["hit_score"]
    assert kept.mean() > 0.9  # the pattern recognition's floor would keep ~71 %
    with pytest.raises(ValueError, match="start directions"):
        refit_showers(offsets, hits, events["true_zenith"][:5], events["true_azimuth"][:5], simulated.configuration)
