import numpy as np
import pytest

from graphreco.evaluate import precision_recall, roc_auc, roc_curve
from graphreco.evaluate.metrics import auc_error


def test_auc_of_perfect_random_and_inverted_scores():
    labels = np.array([0, 0, 1, 1])
    assert roc_auc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(labels, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert roc_auc(labels, np.full(4, 0.5)) == 0.5


def test_auc_matches_the_pair_counting_definition():
    rng = np.random.default_rng(0)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.random(300) + labels * 0.3, 1)  # ties on purpose
    pos, neg = scores[labels], scores[~labels]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert roc_auc(labels, scores) == pytest.approx(pairs)


def test_roc_curve_ends_at_one_and_precision_recall():
    fpr, tpr, _ = roc_curve(np.array([1, 0, 1]), np.array([0.9, 0.5, 0.1]))
    assert fpr[-1] == tpr[-1] == 1.0 and fpr[0] == tpr[0] == 0.0
    assert precision_recall(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0])) == (0.5, 0.5)


def test_unscored_entries_rank_below_every_scored_one():
    fpr, tpr, thresholds = roc_curve([1, 0, 1, 0], [0.9, np.nan, np.nan, 0.2])
    assert not np.isnan(thresholds).any() and thresholds[-1] == -np.inf
    assert fpr.tolist() == [0.0, 0.0, 0.5, 1.0] and tpr.tolist() == [0.0, 0.5, 0.5, 1.0]


def test_the_auc_error_of_a_random_score_is_the_mann_whitney_one():
    positives, negatives = 300, 500  # under no separation the AUC's variance is (n1 + n2 + 1) / (12 n1 n2)
    assert auc_error(0.5, positives, negatives) == pytest.approx(
        np.sqrt((positives + negatives + 1) / (12 * positives * negatives)), rel=0.01)
    assert auc_error(1.0, positives, negatives) == 0.0
