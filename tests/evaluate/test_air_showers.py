"""The air-shower comparison: quality cuts, core figures and the per-energy-bin report."""

import numpy as np
import pytest

from graphreco import detectors
from graphreco.evaluate.plotting import draw_roc, pyplot
from graphreco.evaluate.shower_metrics import composition_report, core_report, selected, shower_figures
from graphreco.evaluate.shower_plots import COLOURS, draw_shower_comparison

CUTS = detectors.get("ta-sd").shower_cuts
PRIMARIES = dict(detectors.get("ta-sd").primaries)


def _columns(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    truth = {"true_energy": 10 ** rng.uniform(9.5, 11.0, n), "true_zenith": rng.uniform(0, np.radians(44), n),
             "true_azimuth": rng.uniform(0, 2 * np.pi, n), "true_core_x": rng.uniform(-5e3, 5e3, n),
             "true_core_y": rng.uniform(-5e3, 5e3, n), "shower_counters": np.full(n, 8),
             "edge_distance": np.full(n, 3000.0)}
    gnn = {"gnn_reco_zenith": truth["true_zenith"], "gnn_reco_azimuth": truth["true_azimuth"],
           "gnn_reco_angle_sigma": np.full(n, 0.01), "gnn_reco_log10_energy": np.log10(truth["true_energy"]) + 0.05,
           "gnn_reco_log10_energy_sigma": np.full(n, 0.1), "gnn_reco_core_x": truth["true_core_x"] + 30.0,
           "gnn_reco_core_y": truth["true_core_y"] + 40.0, "gnn_reco_core_sigma": np.full(n, 60.0)}
    return truth | gnn


def test_cuts_drop_inclined_small_edge_and_out_of_range_events():
    c = _columns(6, np.random.default_rng(0))
    c["true_energy"][:] = 10 ** 10.0  # 10^19 eV
    c["true_zenith"][1] = np.radians(50)
    c["shower_counters"][2] = 4
    c["edge_distance"][3] = 1100.0
    c["true_energy"][4] = 10 ** 11.1  # 10^20.1 eV: above the range
    assert selected(c, CUTS).tolist() == [True, False, False, False, False, True]


def test_core_distance_and_coverage():
    truth = {"true_core_x": np.zeros(4), "true_core_y": np.zeros(4)}
    reco = {"reco_core_x": np.array([30.0, 0.0, 100.0, np.nan]), "reco_core_y": np.array([40.0, 10.0, 0.0, 0.0]),
            "reco_core_sigma": np.array([60.0, 5.0, 150.0, 10.0])}
    report = core_report(truth, reco)
    assert report["reconstructed_fraction"] == 0.75 and report["median_m"] == 50.0
    assert report["coverage_68_circle"] == pytest.approx(2 / 3, abs=1e-4)


def test_a_method_with_known_errors_reports_them_in_every_energy_bin():
    report = shower_figures(_columns(3000, np.random.default_rng(1)), CUTS)
    assert report["summary"]["gnn"]["core_coverage"] == 1.0 and report["summary"]["gnn"]["angle_q68_deg"] == 0.0
    gnn = report["methods"]["gnn"]
    assert set(gnn) == {"all", "18.5-19", "19-19.5", "19.5-20"} and "baseline" not in report["methods"]
    assert report["selection"]["selected"] == sum(gnn[b]["direction"]["events"]
                                                  for b in ("18.5-19", "19-19.5", "19.5-20"))
    for figures in gnn.values():
        assert figures["direction"]["q68_deg"] == pytest.approx(0.0, abs=1e-3)
        assert figures["energy"]["bias_log10"] == pytest.approx(0.05, abs=1e-6)
        assert figures["energy"]["coverage_1_sigma"] == 1.0
        assert figures["core"]["median_m"] == pytest.approx(50.0) and figures["core"]["coverage_68_circle"] == 1.0


def _counters(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """60 shower and 40 accidental counters; a GNN score that separates them fairly and a
    standard fit that keeps 45 of the shower counters and 2 accidentals."""
    signal = np.r_[np.ones(60, bool), np.zeros(40, bool)]
    gnn = np.where(signal, 0.7, 0.3) + rng.normal(0.0, 0.2, signal.size)
    baseline = np.r_[np.ones(45), np.zeros(15), np.ones(2), np.zeros(38)].astype(np.float32)
    return signal, {"gnn": gnn, "baseline": baseline}


def test_the_counters_roc_is_drawn_with_the_standard_fit_as_a_point(tmp_path):
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(2)
    signal, scores = _counters(rng)
    written = draw_shower_comparison(_columns(300, rng), tmp_path, signal, scores, CUTS, PRIMARIES)
    assert [path.name for path in written] == ["resolution_vs_energy.png", "coverage_vs_energy.png", "pulls.png",
                                               "counters_roc.png"]
    assert written[-1].stat().st_size > 1000
    figure, axis = pyplot().subplots()
    draw_roc(axis, signal, {"GNN": scores["gnn"], "standard fit": scores["baseline"]}, COLOURS,
             dict.fromkeys(COLOURS, "o"), "accidental counters kept", "shower counters kept", "", min_background=1e-2)
    curve, point = axis.lines
    pyplot().close(figure)
    assert curve.get_label().startswith("GNN (AUC 0.9") and point.get_label() == "standard fit"
    assert point.get_xdata() == pytest.approx([2 / 40]) and point.get_ydata() == pytest.approx([45 / 60])
    assert axis.get_xlim() == pytest.approx((1e-2, 1.0))


def test_without_accidentals_there_is_no_counters_roc(tmp_path):
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(3)
    signal, scores = _counters(rng)
    written = draw_shower_comparison(_columns(300, rng), tmp_path, signal[:60], {n: s[:60] for n, s in scores.items()},
                                     CUTS, PRIMARIES)
    assert "counters_roc.png" not in [path.name for path in written]


def test_composition_figures_and_roc(tmp_path):
    """Proton and iron told apart perfectly, photons from hadrons not at all: AUCs 1 and
    0.5, the confusion matrix shows it, and the ROC figure is drawn."""
    rng = np.random.default_rng(2)
    c = _columns(3000, rng)
    c["true_primary"] = rng.choice(np.array([2212, 1000260560, 22]), c["true_energy"].size)
    proton, iron = c["true_primary"] == 2212, c["true_primary"] == 1000260560
    c["gnn_reco_p_photon"] = rng.uniform(0.0, 0.3, proton.size)
    c["gnn_reco_p_proton"] = np.where(proton, 0.6, 0.1) + np.where(~(proton | iron),
                                                                   rng.uniform(0, 0.5, proton.size), 0)
    c["gnn_reco_p_iron"] = 1.0 - c["gnn_reco_p_photon"] - c["gnn_reco_p_proton"]
    report = composition_report(c, selected(c, CUTS), PRIMARIES)
    assert report["auc_proton_vs_iron"] == 1.0 and report["auc_photon_vs_hadron"] == pytest.approx(0.5, abs=0.05)
    assert report["confusion"]["proton"]["proton"] == 1.0 and report["confusion"]["iron"]["iron"] == 1.0
    assert report["confusion"]["photon"]["photon"] == 0.0
    assert sum(report["events"].values()) == selected(c, CUTS).sum()
    assert set(report["photon_efficiency_at_hadron_contamination"]) == {"0.01", "0.001"}
    signal, scores = _counters(rng)
    written = draw_shower_comparison(c, tmp_path, signal, scores, CUTS, PRIMARIES)
    assert tmp_path / "composition_roc.png" in written
