"""Guards on the headline figure of each shipped pipeline (``Pipeline.shipped``), measured
on a small simulated sample beside the detector's classical reconstruction.

The docs state the figures on large held-out samples; here a fixed seed makes each
figure a fixed number, and each threshold sits between what the shipped model reaches on
that sample (with margin for numerical noise across platforms) and what an untrained or
degraded model reaches. The figures measured on these samples are in each docstring.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graphreco.detectors.lhc_pf.baseline import charged_hadron_subtraction
from graphreco.evaluate.metrics import precision_recall, roc_auc
from graphreco.io import EventBatch, read_events
from graphreco.pipeline import Pipeline
from graphreco.statistics import opening_angle, unit_vectors

Columns = dict[str, np.ndarray]


def reconstructed(detector: str, path: Path) -> tuple[EventBatch, Columns, Columns]:
    """The events of ``path`` (one batch) and the shipped pipeline's per-hit and per-event columns."""
    batch = next(read_events(path, detector, batch_size=1 << 20))
    hits, events = Pipeline.shipped(detector).reconstruct(batch)
    return batch, hits, events


def beside_the_baseline(detector: str, path: Path) -> tuple[EventBatch, Columns, Columns, Columns]:
    """``reconstructed`` and the detector's classical reconstruction of the same events."""
    batch, hits, events = reconstructed(detector, path)
    return batch, hits, events, Pipeline.shipped(detector).detector.baseline(
        batch.offsets, batch.hits, configuration=batch.configuration)


def angular_errors_deg(events: Columns, columns: Columns) -> np.ndarray:
    """Angle (deg) between the true (``events``) and the reconstructed (``columns``)
    direction per event, shape (n_events,), NaN where there is no reconstruction."""
    truth = unit_vectors(events["true_zenith"], events["true_azimuth"])
    return np.degrees(opening_angle(truth, unit_vectors(columns["reco_zenith"], columns["reco_azimuth"])))


def half_central_68(values: np.ndarray) -> float:
    """Half the 16-84 % interval of ``values`` (NaN ignored): a Gaussian's sigma."""
    low, high = np.nanquantile(values, [0.16, 0.84])
    return float(high - low) / 2


@pytest.fixture(scope="module")
def baikal_gvd(simulated_file):
    """numu CC windows (through-going muons from below) at the nominal 40 kHz noise."""
    return beside_the_baseline("baikal-gvd", simulated_file("baikal-gvd", 120, 101, mix={"numu_cc": 1.0}))


@pytest.fixture(scope="module")
def ta_sd(simulated_file):
    """Showers inside the docs' cuts by construction: 10^18.5-10^20 eV, zenith < 45 deg,
    cores at least 1,200 m inside the array's edge."""
    return beside_the_baseline("ta-sd", simulated_file("ta-sd", 120, 102, log10_energy_range=(18.5, 20.0),
                                                 max_zenith_deg=45.0, core_margin=-1200.0))


def test_baikal_gvd_hit_selection_keeps_precision_and_recall(baikal_gvd):
    """docs/baikal-gvd.md: precision 99.00 %, recall 97.46 % over neutrino events of all
    kinds (target >= 99 % and >= 97 %); the classical cleaning 0.894 / 0.747 on numu CC.

    Measured here on numu CC alone (fainter than cascades, so a larger share of noise
    hits): 0.956 / 0.966 at score >= 0.5, the classical cleaning 0.875 / 0.741.
    Guards: precision >= 0.93 and recall >= 0.94, about 2.5 points below the shipped
    figures and far above the classical cleaning and an untrained selection (whose
    precision is near the signal fraction of the hits)."""
    batch, hits, _, _ = baikal_gvd
    signal = batch.hits["true_label"] > 0
    precision, recall = precision_recall(signal, hits["hit_score"] >= 0.5)
    assert precision >= 0.93 and recall >= 0.94, (precision, recall)


def test_baikal_gvd_direction_beats_the_chi_square_fit(baikal_gvd):
    """docs/baikal-gvd.md: numu CC with >= 10 signal hits, median angular error 3.25 deg
    and 68 % quantile 9.1 deg; the chi-square fit fits 88 % of them with median 5.21 deg
    and 68 % quantile 21.7 deg over the fitted ones.

    Measured here on 78 such tracks: median 3.44 deg, 68 % quantile 8.2 deg; the fit
    fits 83 %, median 3.27 deg over those (on 78 tracks the two medians differ by less
    than their noise), 7.9 deg and 37.8 deg counting an unfitted track as a miss
    (180 deg). Guards: median <= 5 deg, 68 % quantile <= 15 deg, and both at most 0.7
    times the fit's with misses counted (the docs' target: 30 % below the fit); a
    direction head that is untrained or broken misses by tens of degrees."""
    batch, _, events, baseline = baikal_gvd
    signal_hits = np.add.reduceat((batch.hits["true_label"] > 0).astype(np.int64), batch.offsets[:-1])
    tracks = signal_hits >= 10
    gnn, fit = (np.nan_to_num(angular_errors_deg(batch.events, columns)[tracks], nan=180.0)
                for columns in (events, baseline))
    assert tracks.sum() >= 60
    assert np.median(gnn) <= min(5.0, 0.7 * np.median(fit))
    assert np.quantile(gnn, 0.68) <= min(15.0, 0.7 * np.quantile(fit, 0.68))


def test_ta_sd_angle_and_energy_beat_the_standard_fit(ta_sd):
    """docs/ta-sd.md, selected test showers: 68 % angular error 1.03 deg against the
    standard fit's 1.13 deg (-9 %); log10 E resolution (half the 16-84 % interval) 0.089
    against 0.137 (-35 %; target -20 %).

    Measured here on 120 showers: angle 1.07 against 1.18 deg (-9 %), energy 0.087
    against 0.142 (-39 %), median log10 E residual +0.009, every shower reconstructed.
    Guards: angle <= 1.4 deg and not above the fit's (the refit starts from the GNN; a
    broken start or refit loses that), energy resolution <= 0.12 and <= 0.8 times the
    fit's (the docs' target), |bias| <= 0.05 (an untrained head is off by decades)."""
    batch, _, events, baseline = ta_sd
    log10_energy = np.log10(batch.events["true_energy"])
    angle, resolution, bias = {}, {}, {}
    for name, columns in (("gnn", events), ("fit", baseline)):
        assert np.isfinite(columns["reco_log10_energy"]).mean() >= 0.98, name
        angle[name] = np.nanquantile(angular_errors_deg(batch.events, columns), 0.68)
        resolution[name] = half_central_68(columns["reco_log10_energy"] - log10_energy)
        bias[name] = np.nanmedian(columns["reco_log10_energy"] - log10_energy)
    assert angle["gnn"] <= min(1.4, angle["fit"])
    assert resolution["gnn"] <= min(0.12, 0.8 * resolution["fit"])
    assert abs(bias["gnn"]) <= 0.05


def test_lhc_pf_gnn_separates_pileup_better_than_puppi(simulated_file):
    """docs/lhc-pf.md (Z -> nu nu + jet, 140 pile-up, 600 crossings): AUC over all
    candidates 0.809 against PUPPI's 0.708, neutrals above 1 GeV 0.784 against 0.622;
    CHS keeps or drops (no ROC) and trails PUPPI in every physics figure.

    Measured here on 6 crossings (a pool of 100 minimum-bias interactions, reused turned
    and reflected): all candidates 0.758 against 0.651, neutrals above 1 GeV 0.740
    against 0.610. Guards: AUC >= 0.70 overall and >= 0.68 for the neutrals, each at
    least 0.05 above PUPPI's (an untrained network sits near 0.5; one that only copies
    PUPPI's weight, a node feature, reaches PUPPI's)."""
    pytest.importorskip("pythia8mc")
    batch, hits, _ = reconstructed("lhc-pf", simulated_file("lhc-pf", 6, 103, mean_pileup=140.0, pool_size=100))
    detector = Pipeline.shipped("lhc-pf").detector
    features = detector.node_feature_matrix(batch.offsets, batch.hits, batch.events)
    puppi = features[:, detector.feature_names.index("puppi_weight")]
    leading = batch.hits["true_label"] == 1
    neutral = (batch.hits["charge"] == 0) & (batch.hits["pt"] > 1.0)
    for population, floor in ((np.ones_like(leading), 0.70), (neutral, 0.68)):
        gnn_auc = roc_auc(leading[population], hits["hit_score"][population])
        puppi_auc = roc_auc(leading[population], puppi[population])
        assert gnn_auc >= max(floor, puppi_auc + 0.05), (gnn_auc, puppi_auc)


def test_lhc_pf_charged_candidates_rank_within_their_vertex_association(simulated_file):
    """The network's own charged ranking fell 0.014 in AUC below CHS on an independent
    sample: the hit score now lies within the bounds of the vertex association (charged
    candidates CHS keeps at 0.5 or above, those it drops below), so the network only
    orders candidates within what the tracker knows, and the charged AUC is CHS's or
    better on any sample where the network's order within each class beats chance."""
    pytest.importorskip("pythia8mc")
    batch, hits, _ = reconstructed("lhc-pf", simulated_file("lhc-pf", 6, 103, mean_pileup=140.0, pool_size=100))
    chs = charged_hadron_subtraction(batch.offsets, batch.hits)
    charged = (batch.hits["charge"] != 0) & (batch.hits["pt"] > 0.5)
    score = hits["hit_score"]
    assert (score[charged & (chs > 0)] >= 0.5).all() and (score[charged & (chs == 0)] <= 0.5).all()
    leading = batch.hits["true_label"] == 1
    assert roc_auc(leading[charged], score[charged]) >= roc_auc(leading[charged], chs[charged])
