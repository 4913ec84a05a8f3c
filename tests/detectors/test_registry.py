import argparse
import inspect

import numpy as np
import pytest

from graphreco import detectors
from graphreco.detectors import Derived, OneHot, Scaled


def test_every_folder_is_a_detector():
    assert detectors.available() == ["baikal-gvd", "lhc-pf", "ta-sd"]
    for name in detectors.available():
        detector = detectors.get(name)
        assert detector.name == name
        assert len(detector.feature_names) == sum(f.width for f in detector.node_features)


def test_unknown_detector_names_the_known_ones():
    with pytest.raises(ValueError, match="known detectors: baikal-gvd, lhc-pf, ta-sd"):
        detectors.get("km3net")


def test_scaled_feature_centres_per_event_and_takes_logs():
    offsets = np.array([0, 2, 2, 5])
    t = np.array([10, 30, 0, 3, 6], dtype=np.float32)
    feature = Scaled("t", 10.0, centre="event_mean")
    np.testing.assert_allclose(feature.compute(offsets, {"t": t}, {})[:, 0], [-1, 1, -0.3, 0, 0.3], atol=1e-6)
    log = Scaled("q", 1.0, log10=True, floor=0.1)
    np.testing.assert_allclose(log.compute(offsets, {"q": np.array([0, 1, 10, 100, 0.01])}, {})[:, 0],
                               [-1, 0, 1, 2, -1],
                               atol=1e-6)


def test_nan_fill_clip_and_event_broadcast():
    offsets = np.array([0, 1, 3])
    dz = Scaled("dz", 10.0, fill_nan=0.0, clip=1.0)
    np.testing.assert_allclose(dz.compute(offsets, {"dz": np.array([np.nan, 5.0, -40.0])}, {})[:, 0], [0, 0.5, -1])
    asinh = Scaled("dz", 2.0, asinh_width=0.01, fill_nan=0.0)
    np.testing.assert_allclose(asinh.compute(offsets, {"dz": np.array([np.nan, 0.01, -0.02])}, {})[:, 0],
                               np.arcsinh([0.0, 1.0, -2.0]) / 2, rtol=1e-6)
    assert asinh.names() == ["asinh_dz"]
    npv = Scaled("npv", 100.0, per_event=True)
    np.testing.assert_allclose(npv.compute(offsets, {}, {"npv": np.array([50, 140])})[:, 0], [0.5, 1.4, 1.4])


def test_one_hot_by_absolute_value():
    onehot = OneHot("pdg_id", (211, 22), absolute=True)
    out = onehot.compute(np.array([0, 3]), {"pdg_id": np.array([-211, 22, 130])}, {})
    np.testing.assert_array_equal(out, [[1, 0], [0, 1], [0, 0]])


def test_derived_features_come_from_whole_events():
    offsets = np.array([0, 2, 5])
    per_event_rank = Derived(("rank",), lambda o, hits, events: np.concatenate(
        [np.argsort(np.argsort(hits["q"][a:b])) for a, b in zip(o[:-1], o[1:])]))
    out = per_event_rank.compute(offsets, {"q": np.array([5.0, 1.0, 3.0, 9.0, 0.0])}, {})
    assert out.dtype == np.float32 and per_event_rank.names() == ["rank"]
    np.testing.assert_array_equal(out[:, 0], [1, 0, 1, 2, 0])


GRAPH_INPUTS = {
    "baikal-gvd": ({c: np.linspace(0, 100, 6) for c in ("x", "y", "z", "t", "charge")}, {}),
    "ta-sd": ({"x": np.array([0, 1200, 2400, 0, 1200, 99999.]), "y": np.zeros(6), "z": np.zeros(6),
               "t": np.arange(6.0), "signal_upper": np.ones(6), "signal_lower": np.ones(6)}, {}),
    "lhc-pf": ({"pt": np.ones(6), "eta": np.array([0, 0.1, 0.2, 2, 2.1, 4]), "phi": np.array([3.1, -3.1, 0, 0, 0, 0]),
                "energy": np.ones(6), "charge": np.array([1, 0, 0, -1, 0, 1]),
                "pdg_id": np.array([211, 22, 130, -211, 22, 13]),
                "dz": np.array([0.1, np.nan, np.nan, 3, np.nan, -0.2]), "pv_assoc": np.array([1, 0, 0, -1, 0, 1])},
               {"npv": np.array([30, 60])}),
}
"""Two events of three hits for each detector: the hit and event columns of its node features."""


@pytest.mark.parametrize("name", detectors.available())
def test_default_graph_and_features_of_every_detector(name):
    if name not in GRAPH_INPUTS:
        pytest.fail(f"give GRAPH_INPUTS two events of {name} to build graphs and features from")
    hits, events = GRAPH_INPUTS[name]
    detector = detectors.get(name)
    offsets = np.array([0, 3, 6])
    edges = detector.build_edges(offsets, hits)
    assert edges.dtype == np.int64 and edges.shape[0] == 2 and edges.shape[1] > 0
    event_of = np.searchsorted(offsets, edges, side="right") - 1
    assert np.array_equal(event_of[0], event_of[1]) and np.all(np.diff(edges[1]) >= 0)
    x = detector.node_feature_matrix(offsets, hits, events)
    assert x.shape == (6, len(detector.feature_names)) and x.dtype == np.float32 and np.isfinite(x).all()


@pytest.mark.parametrize("name", detectors.available())
def test_every_simulator_takes_the_options_it_declares(name):
    detector = detectors.get(name)
    simulator = detector.simulator
    if simulator is None:
        return
    parser = argparse.ArgumentParser()
    dests = [parser.add_argument(option.flag, **option.settings).dest for option in simulator.options]
    assert all(option.settings.get("help") for option in simulator.options)
    defaults = vars(parser.parse_args([]))
    layout = {} if detector.default_configuration is None else {"configuration": None}  # a detector with sensors
    inspect.signature(simulator.simulate).bind(10, 0, **layout, **{dest: defaults[dest] for dest in dests})
