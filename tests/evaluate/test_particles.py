import numpy as np
import pytest

from graphreco.evaluate.metrics import efficiency_at_background, roc_auc, roc_curve
from graphreco.evaluate.particles import POPULATIONS, particle_report


def test_populations_select_what_they_say():
    pt = np.array([0.3, 0.7, 0.7, 1.5, 1.5, 3.0, 3.0])
    charge = np.array([0, 1, 0, -1, 0, 0, 1], dtype=np.int8)
    selected = {key: np.flatnonzero(population.select(pt, charge)).tolist() for key, population in POPULATIONS.items()}
    assert selected == {"all": [1, 2, 3, 4, 5, 6], "charged": [1, 3, 6], "neutral": [2, 4, 5],
                        "neutral_pt1": [4, 5], "neutral_pt2": [5]}


def _sample(n_signal: int, n_background: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = np.r_[np.ones(n_signal, dtype=np.int8), np.zeros(n_background, dtype=np.int8)]
    return labels, np.full(labels.size, 5.0), np.zeros(labels.size, dtype=np.int8)


def test_auc_of_a_perfect_an_uninformative_a_keep_or_drop_and_a_constant_score():
    labels, pt, charge = _sample(50, 200)
    perfect = labels + np.linspace(0.0, 0.5, labels.size)
    uninformative = np.tile(np.linspace(0.0, 1.0, 50), 5)   # the same scores in both classes
    constant = np.full(labels.size, 0.5)
    keep = np.r_[np.arange(50) < 40, np.arange(200) < 20].astype(float)  # keeps 80 % of signal, 10 % of pile-up
    report = particle_report(labels, pt, charge, {"perfect": perfect, "uninformative": uninformative,
                                                  "constant": constant, "keep": keep})
    methods = report["all"]["methods"]
    assert methods["perfect"]["auc"] == 1.0 and methods["uninformative"]["auc"] == 0.5
    assert methods["keep"]["auc"] == pytest.approx(0.5 + (0.8 - 0.1) / 2)  # one point joined to the corners
    assert methods["perfect"]["signal_efficiency_at_background_0.1"] == 1.0
    assert methods["uninformative"]["signal_efficiency_at_background_0.1"] == pytest.approx(0.1)
    assert roc_auc(labels, constant) == 0.5
    assert methods["constant"] == {"working_point": {"threshold": 0.5, "signal_efficiency": 1.0,
                                                     "background_efficiency": 1.0}}   # one value: no ROC figures
    assert report["all"]["candidates"] == 250 and report["all"]["signal_fraction"] == 0.2
    assert report["charged"]["candidates"] == 0 and "methods" not in report["charged"]


def test_efficiency_at_ten_and_one_percent_background_by_hand():
    background = np.arange(100) / 100                       # 0.00, 0.01, ..., 0.99
    signal = np.array([0.1, 0.3, 0.5, 0.7, 0.85, 0.905, 0.92, 0.95, 1.2, 1.5])
    labels = np.r_[np.ones(10, dtype=np.int8), np.zeros(100, dtype=np.int8)]
    report = particle_report(labels, np.full(110, 5.0), np.zeros(110, dtype=np.int8), {"s": np.r_[signal, background]})
    figures = report["all"]["methods"]["s"]
    # 10 %: score >= 0.90 keeps 10 background candidates and the 5 signal ones above 0.9;
    # 1 %: score > 0.98 keeps one (0.99) and the signal at 1.2 and 1.5.
    assert figures["signal_efficiency_at_background_0.1"] == pytest.approx(0.5)
    assert figures["signal_efficiency_at_background_0.01"] == pytest.approx(0.2)
    assert figures["working_point"] == {"threshold": 0.5, "signal_efficiency": 0.8, "background_efficiency": 0.5}


def test_interpolation_between_roc_points():
    fpr, tpr = np.array([0.0, 0.0, 0.2, 1.0]), np.array([0.0, 0.4, 0.8, 1.0])
    assert efficiency_at_background(fpr, tpr, [0.0, 0.1, 0.2, 0.6, 1.0]) == pytest.approx([0.4, 0.6, 0.8, 0.9, 1.0])
    # a tie between a signal and a background candidate at 0.8 is a diagonal step (0, .5) -> (.25, 1)
    fpr, tpr, _ = roc_curve(np.array([1, 1, 0, 0, 0, 0]), np.array([0.9, 0.8, 0.8, 0.3, 0.2, 0.1]))
    assert float(efficiency_at_background(fpr, tpr, 0.125)) == pytest.approx(0.75)
    assert float(efficiency_at_background(fpr, tpr, 0.25)) == 1.0


def test_too_few_background_candidates_give_no_efficiency():
    labels = np.r_[np.ones(5, dtype=np.int8), np.zeros(50, dtype=np.int8)]
    report = particle_report(labels, np.full(55, 5.0), np.zeros(55, dtype=np.int8), {"s": np.linspace(1, 0, 55)})
    figures = report["all"]["methods"]["s"]
    assert figures["signal_efficiency_at_background_0.1"] == 1.0
    assert figures["signal_efficiency_at_background_0.01"] is None


def test_binary_score_gives_its_working_point_and_the_auc_through_it():
    labels = np.r_[np.ones(4, dtype=np.int8), np.zeros(10, dtype=np.int8)]
    kept = np.r_[1, 1, 1, 0, 1, 1, np.zeros(8)].astype(np.float32)   # 3/4 signal, 2/10 pile-up
    report = particle_report(labels, np.full(14, 1.5), np.zeros(14, dtype=np.int8), {"chs": kept})
    chs = report["all"]["methods"]["chs"]
    assert chs["working_point"] == {"threshold": 0.5, "signal_efficiency": 0.75, "background_efficiency": 0.2}
    assert chs["auc"] == pytest.approx(0.5 + (0.75 - 0.2) / 2)


def test_scores_of_the_wrong_length_are_refused():
    labels, pt, charge = _sample(2, 2)
    with pytest.raises(ValueError, match="'gnn'"):
        particle_report(labels, pt, charge, {"gnn": np.zeros(3)})
