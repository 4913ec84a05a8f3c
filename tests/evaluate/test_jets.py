import numpy as np
import pytest

pytest.importorskip("fastjet")

from graphreco.evaluate.jets import (
    REFERENCE_PT_BIN_EDGES,
    clustered_jets,
    jet_membership,
    jet_report,
    missing_momentum,
    nearest_jets,
)
from graphreco.evaluate.pileup_plots import draw_pileup_comparison


def _massless(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    return np.asarray(pt) * np.cosh(eta)


def test_two_separated_particles_are_two_jets_with_their_pt():
    pt, eta, phi = np.array([50.0, 40.0]), np.array([0.5, -1.0]), np.array([0.2, 0.2 - np.pi + 0.1])
    jets = clustered_jets(np.array([0, 2]), pt, eta, phi, _massless(pt, eta), np.ones(2))
    assert jets["event"].tolist() == [0, 0]
    assert jets["pt"] == pytest.approx([50.0, 40.0]) and jets["eta"] == pytest.approx([0.5, -1.0])
    assert jets["phi"] == pytest.approx(phi) and jets["mass"] == pytest.approx([0.0, 0.0], abs=1e-5)


def test_weights_scale_and_zero_weights_remove():
    offsets = np.array([0, 2, 3, 3])           # third event empty
    pt, eta, phi = np.array([50.0, 40.0, 30.0]), np.array([0.0, 2.0, 0.0]), np.array([0.0, 2.0, 1.0])
    jets = clustered_jets(offsets, pt, eta, phi, _massless(pt, eta), np.array([1.0, 0.0, 0.5]))
    assert jets["event"].tolist() == [0, 1] and jets["pt"] == pytest.approx([50.0, 15.0])


def test_close_particles_merge_into_one_massive_jet():
    pt, eta, phi = np.array([20.0, 20.0]), np.array([0.1, -0.1]), np.zeros(2)
    jets = clustered_jets(np.array([0, 2]), pt, eta, phi, _massless(pt, eta), np.ones(2))
    # two massless 20 GeV particles at Delta eta = 0.2: m^2 = 2 pT1 pT2 (cosh(0.2) - 1)
    assert jets["pt"] == pytest.approx([40.0]) and jets["mass"] == pytest.approx([np.sqrt(800 * (np.cosh(0.2) - 1))])


def test_membership_marks_candidates_of_either_interaction_near_a_leading_jet():
    # event 0: a 50 GeV leading jet at (0, 0) and a 25 GeV one at (0, 2); a pile-up
    # candidate inside the first, one far away; event 1: only a 10 GeV leading candidate
    offsets = np.array([0, 5, 6])
    pt = np.array([50.0, 25.0, 3.0, 3.0, 1.0, 10.0])
    eta = np.array([0.0, 0.0, 0.1, -2.0, 0.05, 0.0])
    phi = np.array([0.0, 2.0, 0.2, -2.0, 1.95, 0.0])
    labels = np.array([1, 1, 0, 0, 0, 1])
    member = jet_membership(offsets, pt, eta, phi, _massless(pt, eta), labels)
    assert member.tolist() == [0, 1, 0, -1, 1, -1]
    assert member.dtype == np.int32


def test_nearest_jet_within_the_match_radius():
    reference = {"event": np.array([0, 0, 1]), "eta": np.array([0.0, 2.0, 0.0]), "phi": np.array([3.1, 0.0, 0.0])}
    reco = {"event": np.array([0, 0, 0, 1]), "eta": np.array([0.1, 0.0, 2.3, 0.0]),
            "phi": np.array([-3.1, 3.0, 0.0, 1.0])}
    # event 0: jet 0 at Delta R = hypot(0.1, 0.083) (across the phi wrap), jet 1 at 0.1 -> jet 1;
    # the second reference jet's neighbour is 0.3 away; event 1's is 1.0 away
    assert nearest_jets(reference, reco).tolist() == [1, -1, -1]


def test_missing_momentum_of_one_particle_is_its_pt_opposite():
    met = missing_momentum(np.array([0, 1, 1]), np.array([10.0]), np.array([np.pi / 2]), np.ones(1))
    assert met == pytest.approx(np.array([[0.0, -10.0], [0.0, 0.0]]), abs=1e-12)


def _event(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Two hard jets of the leading interaction and a soft spray of pile-up."""
    hard_eta, hard_phi = np.array([0.5, -1.0]), np.array([1.0, -2.0])
    pt = np.r_[np.full(10, 6.0), np.full(8, 5.0), rng.uniform(0.5, 2.0, 200)]
    eta = np.r_[hard_eta[0] + rng.normal(0, 0.05, 10), hard_eta[1] + rng.normal(0, 0.05, 8),
                rng.uniform(-2.5, 2.5, 200)]
    phi = np.r_[hard_phi[0] + rng.normal(0, 0.05, 10), hard_phi[1] + rng.normal(0, 0.05, 8),
                rng.uniform(-np.pi, np.pi, 200)]
    return {"pt": pt, "eta": eta, "phi": phi, "energy": _massless(pt, eta),
            "true_label": np.r_[np.ones(18), np.zeros(200)].astype(np.int8), "charge": np.zeros(218, dtype=np.int8)}


def _events(n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    events = [_event(rng) for _ in range(n)]
    offsets = np.r_[0, np.cumsum([e["pt"].size for e in events])]
    return offsets, {name: np.concatenate([e[name] for e in events]) for name in events[0]}


def test_reference_matched_to_itself_has_response_one_and_no_spread():
    offsets, c = _events(4)
    truth = c["true_label"].astype(np.float64)
    report = jet_report(offsets, c["pt"], c["eta"], c["phi"], c["energy"], c["true_label"],
                        {"ideal": truth, "everything": np.ones(truth.size)})
    assert report["events"] == 4 and report["reference"]["jets"] == 8     # a 60 and a 40 GeV jet per event
    ideal = report["methods"]["ideal"]
    assert ideal["jets"]["matched"] == 8 and ideal["jets"]["matching_efficiency"] == 1.0
    assert ideal["jets"]["response_median"] == 1.0 and ideal["jets"]["response_resolution"] == 0.0
    assert ideal["jets"]["mass_resolution_gev"] == 0.0 and ideal["jets"]["fakes"] == 0
    assert ideal["met"] == {"events": 4, "resolution_gev": 0.0, "resolution_gev_error": 0.0, "bias_gev": 0.0,
                            "bias_error_gev": 0.0}
    assert sum(ideal["jets"]["response_counts"]) == 8
    everything = report["methods"]["everything"]
    assert everything["jets"]["response_median"] > 1.0 and everything["met"]["resolution_gev"] > 0.0


def test_plots_are_written(tmp_path):
    offsets, c = _events(3)
    rng = np.random.default_rng(0)
    scores = {"gnn": np.clip(c["true_label"] * 0.5 + rng.random(c["pt"].size) * 0.6, 0, 1),
              "chs": (c["pt"] > 1.0).astype(np.float32)}
    jets = jet_report(offsets, c["pt"], c["eta"], c["phi"], c["energy"], c["true_label"], scores)
    written = draw_pileup_comparison(c["true_label"], c["pt"], c["charge"], scores, jets, tmp_path / "plots")
    assert [path.name for path in written] == ["pileup_roc.png", "jet_response.png"]
    assert all(path.stat().st_size > 1000 for path in written)


def test_response_per_reference_pt_bin_adds_up_to_the_jets_and_is_drawn(tmp_path):
    offsets, c = _events(12)
    truth = c["true_label"].astype(np.float64)
    weights = {"ideal": truth, "everything": np.ones(truth.size)}
    report = jet_report(offsets, c["pt"], c["eta"], c["phi"], c["energy"], c["true_label"], weights)
    edges = report["reference_pt_bin_edges_gev"]
    assert edges == list(REFERENCE_PT_BIN_EDGES) and edges[0] == 30.0
    for method in report["methods"].values():
        bins = method["jets_vs_pt"]
        assert list(bins) == [f"{low:g}-{high:g}" for low, high in zip(edges[:-1], edges[1:])]
        assert sum(figures["matched"] for figures in bins.values()) == method["jets"]["matched"] == 24
        # the 40 GeV jet (eight 5 GeV candidates, not quite collinear) falls just below 40, the 60 GeV one in 50-70
        assert {label: figures["matched"] for label, figures in bins.items() if figures["matched"]} == \
            {"30-40": 12, "50-70": 12}
        assert bins["40-50"] == {"matched": 0, "matching_efficiency": None}
    ideal, everything = report["methods"]["ideal"]["jets_vs_pt"], report["methods"]["everything"]["jets_vs_pt"]
    assert all(ideal[label]["response_median"] == 1.0 and ideal[label]["response_resolution"] == 0.0
               for label in ("30-40", "50-70"))
    assert everything["30-40"]["response_median"] > everything["50-70"]["response_median"] > 1.0  # pile-up adds pT
    written = draw_pileup_comparison(c["true_label"], c["pt"], c["charge"], weights, report, tmp_path)
    assert [path.name for path in written] == ["pileup_roc.png", "jet_response.png", "jet_response_vs_pt.png"]
    assert written[-1].stat().st_size > 1000
