"""The TA SD fits and cuts on the detector configuration in use: another survey frame,
dead counters, the array edge."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from graphreco import detectors
from graphreco.cli import main
from graphreco.detectors.ta_sd.baseline import reconstruct_classically
from graphreco.detectors.ta_sd.geometry import design_outline, distance_to_edge, distance_to_polygon, edge_polygon
from graphreco.detectors.ta_sd.simulation import simulate_events
from graphreco.io import read_events
from graphreco.io.configuration import default_configuration, sensor_index

TA = detectors.get("ta-sd")


def _core_errors(path) -> tuple[np.ndarray, np.ndarray]:
    """Core error (m) of the standard fit on every fitted event of a file read with its
    configuration, and of the same fit against the shipped default layout."""
    errors, against_default = [], []
    for batch in read_events(path):
        for configuration, out in ((batch.configuration, errors), (default_configuration(TA), against_default)):
            fit = TA.baseline(batch.offsets, batch.hits, configuration=configuration)
            ok = fit["fit_ok"] == 1.0
            out.append(np.hypot(fit["reco_core_x"] - batch.events["true_core_x"],
                                fit["reco_core_y"] - batch.events["true_core_y"])[ok])
    return np.concatenate(errors), np.concatenate(against_default)


def test_a_shifted_array_with_dead_counters_is_fitted_on_its_own_configuration(tmp_path, capsys):
    nominal, moved = tmp_path / "nominal.parquet", tmp_path / "moved.parquet"
    assert main(["simulate", "ta-sd", "--events", "300", "--seed", "5", "-o", str(nominal)]) == 0
    assert main(["simulate", "ta-sd", "--events", "300", "--seed", "5", "--origin-shift", "600", "0",
                 "--dead-fraction", "0.03", "-o", str(moved)]) == 0
    capsys.readouterr()
    batch = next(read_events(moved))
    assert batch.configuration.source == str(tmp_path / "moved.geometry.parquet")
    assert (~batch.configuration.live).sum() == 15  # 3 % of 507
    index = sensor_index(batch.configuration, batch.hits["x"], batch.hits["y"], batch.hits["z"])
    assert (index >= 0).all() and batch.configuration.live[index].all()
    on_nominal, _ = _core_errors(nominal)
    on_own, on_default = _core_errors(moved)
    assert np.median(on_own) < 1.25 * np.median(on_nominal) + 10.0
    assert np.median(on_default) > 3.0 * np.median(on_own)  # the hard-wired layout's fit was ~600 m off


def test_dead_counters_are_neither_hits_nor_silent():
    simulated = simulate_events(10, seed=3, log10_energy_range=(19.0, 19.5), max_zenith_deg=40.0)
    layout = default_configuration(TA)
    everything = reconstruct_classically(simulated.offsets, simulated.hits, layout)
    ok = everything["fit_ok"] == 1.0
    assert ok.sum() > 5 and everything["n_zero"][ok].min() > 0
    for event in np.flatnonzero(ok):  # every counter the event did not hit dead: no silent one is left
        lo, hi = simulated.offsets[event], simulated.offsets[event + 1]
        hits = {name: values[lo:hi] for name, values in simulated.hits.items()}
        hit = np.zeros(layout.n_sensors, dtype=bool)
        hit[sensor_index(layout, hits["x"], hits["y"], hits["z"])] = True
        alone = reconstruct_classically(np.array([0, hi - lo]), hits, replace(layout, live=hit))
        assert alone["n_zero"][0] == 0


def test_the_fits_need_a_configuration():
    simulated = simulate_events(5, seed=1)
    with pytest.raises(ValueError, match="configuration"):
        reconstruct_classically(simulated.offsets, simulated.hits, None)


def test_the_edge_is_the_hull_of_the_live_counters():
    layout = default_configuration(TA)
    hull = edge_polygon(layout)
    # the design outline plus the one counter outside it, (19, 2)
    assert len(hull) == len(design_outline()) + 1
    x, y = np.meshgrid(np.linspace(-20e3, 20e3, 41), np.linspace(-20e3, 20e3, 41))
    difference = distance_to_edge(x, y, layout) - distance_to_polygon(x, y, design_outline())
    assert difference.min() > -1e-6 and difference.max() < 135.0  # it holds (19, 2), 130 m out of the outline
    shifted = replace(layout, position=layout.position + np.array([600.0, -300.0, 0.0]))
    np.testing.assert_allclose(distance_to_edge(x + 600.0, y - 300.0, shifted), distance_to_edge(x, y, layout),
                               atol=1e-6)
    west = np.argmin(layout.position[:, 0])
    dead_west = replace(layout, live=layout.position[:, 0] > layout.position[west, 0])
    assert distance_to_edge(layout.position[west, 0] + 1300.0, 0.0, dead_west) \
        < distance_to_edge(layout.position[west, 0] + 1300.0, 0.0, layout)


def test_survey_scatter_moves_the_counters_and_the_default_options_change_nothing():
    from graphreco.detectors.ta_sd.simulation import SIMULATION_OPTIONS, simulate_from_options

    defaults = {option.flag.lstrip("-").replace("-", "_"): option.settings["default"] for option in SIMULATION_OPTIONS}
    layout = default_configuration(TA)
    plain = simulate_from_options(30, 4, layout, **defaults)
    direct = simulate_events(30, seed=4)
    for name in plain.hits:
        np.testing.assert_array_equal(plain.hits[name], direct.hits[name])
    assert plain.configuration is layout
    surveyed = simulate_from_options(30, 4, layout, **(defaults | {"survey_scatter": 20.0}))
    moved = np.linalg.norm(surveyed.configuration.position - layout.position, axis=1)
    assert 20.0 < np.median(moved) < 45.0  # a 3-D Gaussian of 20 m per axis: median 31 m
    index = sensor_index(surveyed.configuration, surveyed.hits["x"], surveyed.hits["y"], surveyed.hits["z"])
    assert (index >= 0).all()
    np.testing.assert_array_equal(surveyed.hits["channel"], surveyed.configuration.channel[index])
