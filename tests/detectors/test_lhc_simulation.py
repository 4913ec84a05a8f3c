"""The LHC detector model on hand-made particles, and a small Pythia crossing sample."""

import numpy as np
import pytest

from graphreco.detectors.lhc_pf import response
from graphreco.detectors.lhc_pf.response import reconstruct, z0_resolution


def particles(rows, crossing=None):
    """rows: (interaction, pt, eta, phi, energy, pdg_id, charge, label)."""
    table = np.array(rows, dtype=np.float64)
    n = len(rows)
    return {"crossing": np.zeros(n, np.int64) if crossing is None else np.asarray(crossing),
            "interaction": table[:, 0].astype(np.int64), "pt": table[:, 1].astype(np.float32),
            "eta": table[:, 2].astype(np.float32), "phi": table[:, 3].astype(np.float32),
            "energy": table[:, 4].astype(np.float32), "pdg_id": table[:, 5].astype(np.int32),
            "charge": table[:, 6].astype(np.int8), "label": table[:, 7].astype(bool)}


def tracks_of(interaction, count, pt, label, phi0=0.0):
    return [(interaction, pt, 0.1 * k - 1.0, phi0 + 0.05 * k, pt * 1.2, 211, 1, label) for k in range(count)]


@pytest.fixture
def perfect_tracking(monkeypatch):
    monkeypatch.setattr(response, "TRACK_EFFICIENCY", {"hadron": 1.0, "muon": 1.0})


def test_two_separated_vertices_are_found_and_tracks_associated(perfect_tracking):
    rows = tracks_of(0, 6, 20.0, 1) + tracks_of(1, 6, 1.0, 0, phi0=2.0)
    out = reconstruct(np.random.default_rng(0), particles(rows), np.array([0.0, 3.0]), np.array([0, 2]), 1)
    assert out["npv"].tolist() == [2]
    charged = out["charge"] != 0
    assert np.all(out["pv_assoc"][charged & (out["true_label"] == 1)] == 1)
    assert np.all(out["pv_assoc"][charged & (out["true_label"] == 0)] == -1)
    pileup = charged & (out["true_label"] == 0)
    assert np.allclose(out["dz"][pileup], 3.0, atol=0.05)


def test_close_interactions_merge_into_one_vertex(perfect_tracking):
    rows = tracks_of(0, 6, 20.0, 1) + tracks_of(1, 6, 1.0, 0, phi0=2.0)
    gap = 0.5 * response.VERTEX_MERGE_DISTANCE
    out = reconstruct(np.random.default_rng(0), particles(rows), np.array([0.0, gap]), np.array([0, 2]), 1)
    assert out["npv"].tolist() == [1]
    assert np.all(out["pv_assoc"][out["charge"] != 0] == 1)  # the pile-up tracks ride on the leading vertex


def test_leading_vertex_is_the_hardest_not_the_busiest(perfect_tracking):
    rows = tracks_of(0, 40, 0.8, 0) + tracks_of(1, 5, 30.0, 1, phi0=1.0)
    out = reconstruct(np.random.default_rng(1), particles(rows), np.array([-2.0, 2.0]), np.array([0, 2]), 1)
    hard = (out["charge"] != 0) & (out["true_label"] == 1)
    assert np.all(out["pv_assoc"][hard] == 1)


def test_acceptance_tracks_calorimeters_and_thresholds(perfect_tracking):
    rows = [(0, 5.0, 0.0, 0.0, 5.0, 211, 1, 1),    # tracked pion
            (0, 5.0, 2.8, 1.0, 41.2, 211, 1, 1),   # charged outside the tracker: a calorimeter cluster
            (0, 5.0, 2.8, -1.0, 41.2, 13, -1, 1),  # muon outside the tracker: lost
            (0, 0.5, 0.5, 2.0, 0.56, 211, 1, 1),   # soft pion, still tracked (pT >= 0.3 GeV)
            (0, 0.2, 0.5, 2.5, 0.23, 211, 1, 1),   # too soft to track or reach the calorimeter: lost
            (0, 10.0, 0.0, -2.0, 10.0, 22, 0, 1),  # photon
            (0, 0.1, 0.0, -2.5, 0.1, 22, 0, 1),    # photon below the ECAL threshold
            (0, 20.0, 4.0, 0.5, 546.0, 130, 0, 1),  # neutral hadron in HF
            (0, 1.0, 5.5, 0.0, 122.0, 22, 0, 1)]   # beyond the forward calorimeter
    rows += tracks_of(0, 4, 3.0, 1, phi0=-3.0)
    out = reconstruct(np.random.default_rng(2), particles(rows), np.array([0.0]), np.array([0, 1]), 1)
    tracks = out["charge"] != 0
    assert tracks.sum() == 2 + 4
    assert sorted(out["pdg_id"][~tracks].tolist()) == [22, 130, 130]
    assert np.all(np.isnan(out["dz"][~tracks])) and np.all(out["pv_assoc"][~tracks] == 0)
    assert np.all(np.abs(out["eta"]) < response.FORWARD_ETA)


def test_merged_cluster_takes_the_majority_label(perfect_tracking):
    rows = [(0, 30.0, 0.01, 0.01, 30.0, 130, 0, 1), (1, 10.0, 0.02, 0.02, 10.0, 130, 0, 0),
            (1, 30.0, 1.01, 0.01, 30.0, 130, 0, 0), (0, 10.0, 1.02, 0.02, 10.0, 130, 0, 1)]
    rows += tracks_of(0, 4, 3.0, 1, phi0=-3.0) + tracks_of(1, 4, 3.0, 0, phi0=2.0)
    out = reconstruct(np.random.default_rng(3), particles(rows), np.array([0.0, 5.0]), np.array([0, 2]), 1)
    neutral = out["charge"] == 0
    assert neutral.sum() == 2
    labels = dict(zip(np.round(out["eta"][neutral]).astype(int).tolist(), out["true_label"][neutral].tolist()))
    assert labels == {0: 1, 1: 0}


def test_crossings_do_not_mix(perfect_tracking):
    rows = tracks_of(0, 5, 10.0, 1) + tracks_of(1, 5, 10.0, 1)
    crossing = np.array([0] * 5 + [1] * 5)
    out = reconstruct(np.random.default_rng(4), particles(rows, crossing), np.array([1.0, 1.01]),
                      np.array([0, 1, 2]), 2)
    assert out["npv"].tolist() == [1, 1]
    assert np.all(out["pv_assoc"] == 1)


def test_z0_resolution_grows_forward_and_at_low_pt():
    assert z0_resolution(np.array([1.0]), np.array([0.0]))[0] == pytest.approx(0.0102, rel=0.01)
    assert z0_resolution(np.array([1.0]), np.array([2.4]))[0] > 10 * z0_resolution(np.array([1.0]), np.array([0.0]))[0]
    assert z0_resolution(np.array([100.0]), np.array([0.0]))[0] < 0.003


def test_pythia_crossings_carry_the_format_and_truth(tmp_path):
    pytest.importorskip("pythia8mc")
    from graphreco.detectors.lhc_pf.simulation import simulate_events
    from graphreco.io import event_table, read_events, write_events

    simulated = simulate_events(4, seed=3, mean_pileup=10, pool_size=30, cache=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["minbias-30-seed4.npz", "znunu_jet-4-seed3.npz"]
    counts = np.diff(simulated.offsets)
    assert np.all(counts > 50)
    hits = simulated.hits
    assert np.all((hits["phi"] >= -np.pi) & (hits["phi"] < np.pi))
    assert set(np.unique(hits["true_label"]).tolist()) == {0, 1}
    assert np.all(np.isnan(hits["dz"][hits["charge"] == 0]))
    assert np.all(simulated.events["npv"] >= 1)
    write_events(tmp_path / "lhc.parquet", event_table(**simulated.columns()), "lhc-pf")
    batch = next(iter(read_events(tmp_path / "lhc.parquet")))
    assert batch.detector == "lhc-pf" and batch.n_hits == simulated.offsets[-1]
    again = simulate_events(4, seed=3, mean_pileup=10, pool_size=30, cache=tmp_path)
    assert np.array_equal(again.hits["pt"], hits["pt"])
