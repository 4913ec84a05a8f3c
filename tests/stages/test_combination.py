import numpy as np
import pytest
import torch

from graphreco import detectors
from graphreco.detectors.ta_sd.composition import IRON, PHOTON, PROTON
from graphreco.detectors.ta_sd.energy_combination import COLUMNS as PROBABILITY_COLUMNS
from graphreco.detectors.ta_sd.energy_combination import N_FEATURES as COMBINATION_FEATURES
from graphreco.detectors.ta_sd.energy_combination import combination_features
from graphreco.detectors.ta_sd.simulation import simulate_events
from graphreco.io import event_table, write_events
from graphreco.pipeline import Pipeline
from graphreco.stages import Combination, EnergyDirection, Refit, StageInput
from graphreco.statistics import coverage
from graphreco.train.loop import load_graphs

TA = detectors.get("ta-sd")


class UpstreamOnTruth:
    """An upstream 'pipeline' without artifacts: hit scores and 'composition
    probabilities' that know the truth, an untrained network's energy, direction and core
    (``energy_direction``), then the standard fit (``refit``)."""

    def __init__(self):
        torch.manual_seed(0)
        network = EnergyDirection(len(TA.feature_names), TA.relative_features, hidden=16, layers=2, min_hits=3,
                                  core=True).eval()
        self.stages = Pipeline(TA, {"energy_direction": network, "refit": Refit(min_hits=3, fit_columns=True)})

    def run(self, inputs: StageInput) -> dict:
        inputs.hit_columns["hit_score"] = (inputs.batch.hits["true_label"] > 0).astype(np.float32)
        primary = np.asarray(inputs.batch.events["true_primary"])
        for column, code in zip(PROBABILITY_COLUMNS, (PROTON, IRON, PHOTON)):
            inputs.event_columns[column] = (primary == code).astype(np.float32)
        return self.stages.run(inputs)


@pytest.fixture(scope="module")
def showers_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("combination") / "showers.parquet"
    write_events(path, event_table(**simulate_events(600, seed=4).columns()), "ta-sd")
    return path


def estimates(model: Combination, graphs) -> tuple[dict, np.ndarray]:
    with torch.inference_mode():
        columns = [model.estimates(graph)[0] for graph in graphs]
    truth = np.concatenate([graph.graph.targets["true_log10_energy"].numpy() for graph in graphs])
    return {name: np.concatenate([c[name] for c in columns]) for name in columns[0]}, truth


def test_the_combined_energy_beats_the_network_alone_and_is_calibrated(showers_file):
    """The energy is the refit's corrected with the probabilities and the network's
    estimate (weights and a scale of their own fitted on the calibration sample); an
    untrained network's energy is no use, the fit's corrected one is."""
    model = Combination(min_hits=3, energy=True, combination_columns=PROBABILITY_COLUMNS)
    assert set(PROBABILITY_COLUMNS) <= set(model.reads) and not model.trained
    assert model.writes == ("reco_log10_energy", "reco_log10_energy_sigma")
    upstream = UpstreamOnTruth()
    graphs = load_graphs(showers_file, 200, model, upstream)
    measured = model.calibrate_on(graphs)
    assert len(measured["combination"]) == COMBINATION_FEATURES and measured["combination_events"] > 100
    reco, truth = estimates(model, graphs)
    network = np.concatenate([graph.values["reco_log10_energy"] for graph in graphs])
    combined = np.isfinite(reco["fit_log10_energy"])
    error = (reco["reco_log10_energy"] - truth)[combined]
    assert np.std(error) < 0.5 * np.std((network - truth)[combined])
    assert abs(coverage(error, reco["reco_log10_energy_sigma"][combined]) - 0.6827) < 0.03


def test_the_core_leans_on_the_fit_where_the_network_knows_nothing(showers_file):
    """The core is a weighted mean of the network's and the refit's, the weight chosen on
    the calibration sample: an untrained network's core is no use, so the weight goes to
    the fit and the core is the fit's."""
    model = Combination(min_hits=3, core=True)
    graphs = load_graphs(showers_file, 200, model, UpstreamOnTruth())
    measured = model.calibrate_on(graphs)
    distances = measured["core_q68_by_refit_weight"]
    assert measured["core_refit_weight"] == 1.0 and distances[-1] < 0.3 * distances[0]
    reco, _ = estimates(model, graphs)
    core = np.stack([reco["reco_core_x"], reco["reco_core_y"]], axis=1)
    with_fit = np.all(np.isfinite(reco["fit_core"]), axis=1)
    assert with_fit.mean() > 0.9
    assert np.array_equal(core[with_fit], reco["fit_core"][with_fit])
    with pytest.raises(ValueError, match="combines the energy, the core or both"):
        Combination()


def test_the_combination_keeps_the_networks_energy_where_the_fit_is_far_off():
    """A fit energy more than ``combine_within`` decades from the network's is a failed
    fit (a core outside the array): those showers, those without a fit energy and those
    below ``combine_from`` keep the network's own."""
    model = Combination(energy=True, combination_columns=PROBABILITY_COLUMNS, combine_from=9.3, combine_within=0.5)
    fit = np.array([10.0, 10.0, 10.0, np.nan, 9.2])
    network = np.array([10.4, 9.6, 10.6, 10.0, 9.2])
    assert model.combines(fit, network).tolist() == [True, True, False, False, False]


def test_combination_features_and_weights_agree_in_length():
    """One row per shower of COMBINATION_FEATURES columns; where the network agrees with
    the fit the difference terms vanish, and the inverse-variance term follows the two sigmas."""
    def features(network_energy, fit_sigma, network_sigma):
        return combination_features(np.array([10.0]), np.array([fit_sigma]), np.array([0.5]),
                                    np.array([network_energy]), np.array([network_sigma]),
                                    np.array([[1.0, 0.0, 0.0]]), np.array([12]))[0]
    agreeing = features(10.0, 0.15, 0.10)
    assert agreeing.shape == (COMBINATION_FEATURES,)
    assert np.all(agreeing[15:20] == 0) and agreeing[20] == 0 and agreeing[-1] == 0  # ln(0.15 / 0.15)
    assert features(10.1, 0.2, 0.1)[20] > features(10.1, 0.1, 0.2)[20] > 0  # d w: more weight to the sharper one
    assert TA.energy_combination.n_features == COMBINATION_FEATURES
    stage = Combination(energy=True, combination_columns=PROBABILITY_COLUMNS, combination=[0.0] * 20)
    with pytest.raises(ValueError, match=f"{COMBINATION_FEATURES} weights"):
        stage.energy_combination(TA)
    with pytest.raises(ValueError, match="combination_columns"):
        Combination(energy=True)
