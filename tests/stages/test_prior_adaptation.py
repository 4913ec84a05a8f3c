"""The hit selection adapted to the noise fraction of unlabelled events of a noisier
condition (a prior shift): found from the scores alone, and the precision recovered."""

import numpy as np
import pyarrow.parquet as pq

from graphreco.detectors.baikal_gvd.simulation import Conditions
from graphreco.pipeline import Pipeline
from graphreco.train.loop import load_graphs

NOISY = Conditions(noise_rate_hz=80e3)


def _precision_recall(stage, graphs) -> tuple[float, float]:
    import torch

    with torch.inference_mode():
        score = np.concatenate([stage.scores(stage(g.graph.x, g.graph.edge_index))["hit_score"] for g in graphs])
    signal = np.concatenate([g.graph.targets["true_label"].numpy() > 0 for g in graphs])
    kept = score >= 0.5
    return float(np.mean(signal[kept])), float(np.mean(kept[signal]))


def test_the_noise_fraction_of_a_noisier_condition_is_found_and_precision_recovered(simulated_file):
    stage = Pipeline.shipped("baikal-gvd").stages["hit_selection"]
    labelled = load_graphs([simulated_file("baikal-gvd", 300, 641)], 128, stage)
    noisy_file = simulated_file("baikal-gvd", 300, 642, conditions=NOISY)
    unlabelled = load_graphs([noisy_file], 128, stage, labelled=False)
    truth_of_noisy = load_graphs([noisy_file], 128, stage)
    true_noise = float(np.mean(np.concatenate(pq.read_table(noisy_file, columns=["true_label"])
                                              .column("true_label").to_numpy(zero_copy_only=False)) == 0))
    before = _precision_recall(stage, truth_of_noisy)
    record = stage.adapt_on(labelled, unlabelled)
    assert abs(record["noise_fraction_unlabelled"] - true_noise) < 0.01
    assert record["noise_fraction_unlabelled"] > record["noise_fraction_labelled"] + 0.05
    assert stage.config["noise_odds_ratio"] == record["noise_odds_ratio"] > 1.5
    after = _precision_recall(stage, truth_of_noisy)
    assert after[0] > before[0] + 0.01 and after[1] > 0.95
