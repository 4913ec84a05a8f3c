"""A CMS-like detector response: generated particles of a bunch crossing become
particle-flow candidates with tracks, vertices and calorimeter clusters.

Parameters and sources (CMS: JINST 3 (2008) S08004, "the CMS experiment"; tracker
performance JINST 9 (2014) P10009; particle flow JINST 12 (2017) P10003):

- Tracking covers |eta| < 2.5 in a 3.8 T field. Tracks are found for charged particles
  with pT >= 0.3 GeV with an efficiency of 90 % for hadrons and electrons (nuclear
  interactions and bremsstrahlung in the tracker material) and 99 % for muons
  (P10009, Figs. 19-21). pT resolution 1 % + 0.015 % per GeV in quadrature (P10009 Fig. 26).
- Track z0 resolution sqrt(20 um^2 + (100 um GeV / pT)^2) * cosh(eta)^1.5: ~100 um at
  1 GeV central, ~1.3 mm at 1 GeV near |eta| = 2.4, ~30 um at high pT (P10009 Fig. 17,
  fitted shape).
- Vertices: interactions closer than 0.5 mm in z are not resolved and merge (the
  vertex finder's separation power, P10009 section 6.1); a vertex is reconstructed when
  it has at least 4 tracks (the ``ndof >= 4`` of CMS's good-vertex selection); its z is
  the error-weighted mean of its tracks. The leading vertex is the one with the largest
  sum of squared track-jet pT plus squared track missing pT (the CMS Run 2 choice, with
  track jets approximated by 0.4 x 0.4 cells in eta-phi). Every track is associated to
  the nearest reconstructed vertex in z, or left unassociated when farther than 5 of its
  own z0 resolutions from all of them.
- Charged particles without a track (outside the tracker, below threshold but with
  pT >= 0.75 GeV so that they reach the calorimeter at r = 1.29 m, or lost by the
  inefficiency) deposit in the calorimeters as neutral particles do; muons without a
  track are lost.
- Calorimeters: ECAL |eta| < 3.0, cells of 0.0174 (eta and phi), sigma/E =
  2.8 %/sqrt(E) + 12 %/E + 0.3 % (S08004 test beam); photons and electrons deposit there.
  HCAL |eta| < 3.0, towers of 0.087, sigma/E = 85 %/sqrt(E) + 7.4 % (S08004 combined
  ECAL+HCAL pion test beam); hadrons deposit there. HF 3.0 <= |eta| < 5.0, towers of
  0.175, sigma/E = 280 %/sqrt(E) + 11 % (hadrons) and 198 %/sqrt(E) + 9 % (EM) (S08004).
  Deposits in one cell merge into one cluster at their energy-weighted direction; a
  cluster becomes a candidate above 0.5 GeV (ECAL), 1 GeV (HCAL) or 4 GeV (HF) of
  measured energy (of the order of the PF cluster thresholds of P10003 Table 2).
- PF classes: tracks give charged hadrons (+-211), electrons (+-11) or muons (+-13);
  clusters give photons (22) from ECAL or EM-like HF deposits, neutral hadrons (130)
  from HCAL or hadronic HF deposits.
- Truth: a track belongs to its particle's interaction; a cluster carries the label of
  the interaction that gave it more than half of its true energy.

Units: GeV, rad, cm.
"""

from __future__ import annotations

import numba
import numpy as np

TRACKER_ETA = 2.5
TRACK_MIN_PT = 0.3
REACHES_CALORIMETER_PT = 0.75
TRACK_EFFICIENCY = {"hadron": 0.90, "muon": 0.99}
TRACK_PT_RESOLUTION = (0.01, 1.5e-4)
"""Constant and per-GeV terms of sigma(pT)/pT."""
Z0_RESOLUTION = (0.002, 0.010)
"""cm and cm GeV: constant and 1/pT terms of the track z0 resolution at eta = 0."""
Z0_ETA_POWER = 1.5
VERTEX_MERGE_DISTANCE = 0.05
VERTEX_MIN_TRACKS = 4
TRACK_JET_CELL = 0.4
UNASSOCIATED_PULL = 5.0
CALORIMETER_ETA = 3.0
FORWARD_ETA = 5.0
ECAL_CELL, HCAL_CELL, HF_CELL = 0.0174, 0.087, 0.175
ECAL_RESOLUTION = (0.028, 0.12, 0.003)
"""Stochastic (sqrt GeV), noise (GeV) and constant terms of sigma(E)/E."""
HCAL_RESOLUTION = (0.85, 0.0, 0.074)
HF_HADRON_RESOLUTION = (2.80, 0.0, 0.11)
HF_EM_RESOLUTION = (1.98, 0.0, 0.09)
CLUSTER_THRESHOLD = {"ecal": 0.5, "hcal": 1.0, "hf": 4.0}
MASS = {11: 0.000511, 13: 0.10566, 211: 0.13957}
EM_PARTICLES = (11, 22)
LEPTONS = (11, 13)


def z0_resolution(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Track z0 resolution (cm) at transverse momentum ``pt`` (GeV) and ``eta``."""
    constant, multiple_scattering = Z0_RESOLUTION
    return np.hypot(constant, multiple_scattering / pt) * np.cosh(eta) ** Z0_ETA_POWER


def _relative_resolution(energy: np.ndarray, terms: tuple[float, float, float]) -> np.ndarray:
    stochastic, noise, constant = terms
    return np.sqrt(stochastic ** 2 / energy + (noise / energy) ** 2 + constant ** 2)


@numba.njit(cache=True)
def _merge_interactions(interaction_offsets, interaction_z, merge_distance):
    """Per crossing, interactions sorted in z join one unresolved vertex while the gap to
    the previous one is below ``merge_distance``. Returns a vertex id per interaction,
    unique over all crossings and increasing with the crossing."""
    vertex = np.empty(interaction_z.size, np.int64)
    n_vertices = 0
    for c in range(interaction_offsets.size - 1):
        first, last = interaction_offsets[c], interaction_offsets[c + 1]
        order = np.argsort(interaction_z[first:last])
        for k in range(order.size):
            if k == 0 or interaction_z[first + order[k]] - interaction_z[first + order[k - 1]] >= merge_distance:
                n_vertices += 1
            vertex[first + order[k]] = n_vertices - 1
    return vertex


@numba.njit(cache=True)
def _associate(track_offsets, track_z, track_sigma, vertex_offsets, vertex_z, leading, unassociated_pull):
    """Each track to the nearest vertex of its crossing in z: 1 if that is the leading
    vertex, -1 another one, 0 none within ``unassociated_pull`` resolutions; and the
    track's dz (cm) to the leading vertex (NaN without vertices)."""
    dz = np.full(track_z.size, np.nan, np.float32)
    association = np.zeros(track_z.size, np.int8)
    for c in range(track_offsets.size - 1):
        v0, v1 = vertex_offsets[c], vertex_offsets[c + 1]
        if v1 == v0:
            continue
        for t in range(track_offsets[c], track_offsets[c + 1]):
            nearest, distance = v0, np.inf
            for v in range(v0, v1):
                d = abs(track_z[t] - vertex_z[v])
                if d < distance:
                    nearest, distance = v, d
            dz[t] = track_z[t] - vertex_z[leading[c]]
            if distance <= unassociated_pull * track_sigma[t]:
                association[t] = 1 if nearest == leading[c] else -1
    return dz, association


def _vertex_score(vertex: np.ndarray, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, n_vertices: int) -> np.ndarray:
    """Sum of squared pT of track jets plus the squared track missing pT, per vertex (GeV^2):
    the CMS leading-vertex ranking, with jets approximated by the tracks' vector sums in
    cells of 0.4 x 0.4 in (eta, phi)."""
    px, py = pt * np.cos(phi), pt * np.sin(phi)
    key = vertex.astype(np.int64) << 16 | _cell_index(eta, phi, TRACK_JET_CELL) & 0xFFFF
    unique, jet = np.unique(key, return_inverse=True)
    jet_pt2 = np.bincount(jet, px, unique.size) ** 2 + np.bincount(jet, py, unique.size) ** 2
    missing2 = np.bincount(vertex, px, n_vertices) ** 2 + np.bincount(vertex, py, n_vertices) ** 2
    return np.bincount(unique >> 16, jet_pt2, n_vertices) + missing2


def _reconstruct_vertices(track_crossing, track_interaction, track_z, track_sigma, track_pt, track_eta, track_phi,
                          interaction_offsets, interaction_z, n_crossings):
    """Vertices of each crossing from its tracks: returns per track (dz to the leading
    vertex in cm, association 1 / -1 / 0) and per crossing the number of vertices."""
    vertex_of_interaction = _merge_interactions(interaction_offsets, interaction_z, VERTEX_MERGE_DISTANCE)
    n_groups = int(vertex_of_interaction.max()) + 1 if vertex_of_interaction.size else 0
    group = vertex_of_interaction[track_interaction]
    weight = 1.0 / track_sigma.astype(np.float64) ** 2
    found = np.bincount(group, minlength=n_groups) >= VERTEX_MIN_TRACKS
    z = np.bincount(group, weight * track_z, n_groups) / np.maximum(np.bincount(group, weight, n_groups), 1e-300)
    score = _vertex_score(group, track_pt, track_eta, track_phi, n_groups)
    group_crossing = np.zeros(n_groups, np.int64)
    group_crossing[vertex_of_interaction] = np.repeat(np.arange(n_crossings), np.diff(interaction_offsets))
    kept = np.flatnonzero(found)
    vertex_offsets = np.searchsorted(group_crossing[kept], np.arange(n_crossings + 1))
    leading = np.zeros(n_crossings, np.int64)
    for c in range(n_crossings):
        if vertex_offsets[c + 1] > vertex_offsets[c]:
            leading[c] = vertex_offsets[c] + np.argmax(score[kept[vertex_offsets[c]:vertex_offsets[c + 1]]])
    track_offsets = np.searchsorted(track_crossing, np.arange(n_crossings + 1))
    dz, association = _associate(track_offsets, track_z, track_sigma, vertex_offsets, z[kept], leading,
                                 UNASSOCIATED_PULL)
    return dz, association, np.diff(vertex_offsets).astype(np.int32)


def _cell_index(eta: np.ndarray, phi: np.ndarray, cell: float) -> np.ndarray:
    n_phi = int(round(2 * np.pi / cell))
    eta_bin = np.floor(eta / cell).astype(np.int64) + 10_000
    phi_bin = np.floor((phi + np.pi) / (2 * np.pi) * n_phi).astype(np.int64) % n_phi
    return eta_bin * n_phi + phi_bin


def _clusters(rng, crossing, eta, phi, energy, label, em, cell, threshold, em_resolution, hadron_resolution):
    """Merge deposits per (crossing, calorimeter cell) at their energy-weighted direction;
    a cluster is EM-like (photon) when EM particles gave most of its energy; smear it
    with that class's resolution and keep it above ``threshold`` (GeV)."""
    key = (crossing.astype(np.int64) << 32) | _cell_index(eta, phi, cell)
    unique, cluster = np.unique(key, return_inverse=True)

    def total(values):
        return np.bincount(cluster, values, unique.size)

    true_energy = total(energy)
    is_em = total(energy * em) > 0.5 * true_energy
    resolution = np.where(is_em, _relative_resolution(true_energy, em_resolution),
                          _relative_resolution(true_energy, hadron_resolution))
    measured = true_energy * (1 + rng.normal(size=unique.size) * resolution)
    keep = measured > threshold
    return {"crossing": (unique >> 32)[keep], "eta": (total(energy * eta) / true_energy)[keep],
            "phi": np.arctan2(total(energy * np.sin(phi)), total(energy * np.cos(phi)))[keep],
            "energy": measured[keep], "pdg_id": np.where(is_em, 22, 130)[keep].astype(np.int32),
            "label": (total(energy * label) > 0.5 * true_energy)[keep]}


def reconstruct(rng: np.random.Generator, particles: dict[str, np.ndarray], interaction_z: np.ndarray,
                interaction_offsets: np.ndarray, n_crossings: int) -> dict[str, np.ndarray]:
    """PF candidates of ``n_crossings`` bunch crossings.

    ``particles``: per generated particle ``crossing``, ``interaction`` (global index into
    ``interaction_z``, cm), ``pt``, ``eta``, ``phi``, ``energy``, ``pdg_id``, ``charge``,
    ``label`` (1 leading interaction), sorted by crossing; ``interaction_offsets``
    (n_crossings + 1) delimit each crossing's interactions. Returns per candidate the
    event-format columns plus ``crossing`` and ``true_label``, sorted by crossing, and
    ``npv`` per crossing.
    """
    p = particles
    absolute_id = np.abs(p["pdg_id"])
    visible = np.abs(p["eta"]) < FORWARD_ETA
    charged = (p["charge"] != 0) & visible
    muon = absolute_id == 13
    efficiency = np.where(muon, TRACK_EFFICIENCY["muon"], TRACK_EFFICIENCY["hadron"])
    tracked = charged & (np.abs(p["eta"]) < TRACKER_ETA) & (p["pt"] >= TRACK_MIN_PT) \
        & (rng.random(p["pt"].size) < efficiency)
    to_calorimeter = visible & ~tracked & ~muon & ((p["charge"] == 0) | (np.abs(p["eta"]) >= TRACKER_ETA)
                                                   | (p["pt"] >= REACHES_CALORIMETER_PT))

    t = np.flatnonzero(tracked)
    pt_resolution = np.hypot(TRACK_PT_RESOLUTION[0], TRACK_PT_RESOLUTION[1] * p["pt"][t])
    pt = p["pt"][t] * (1 + rng.normal(size=t.size) * pt_resolution)
    sigma_z = z0_resolution(p["pt"][t], p["eta"][t])
    track_z = interaction_z[p["interaction"][t]] + rng.normal(size=t.size) * sigma_z
    dz, association, npv = _reconstruct_vertices(p["crossing"][t], p["interaction"][t], track_z, sigma_z, pt,
                                                  p["eta"][t], p["phi"][t], interaction_offsets, interaction_z,
                                                  n_crossings)
    track_class = np.where(np.isin(absolute_id[t], LEPTONS), absolute_id[t], 211)
    mass = np.select([track_class == 11, track_class == 13], [MASS[11], MASS[13]], MASS[211])
    tracks = {"crossing": p["crossing"][t], "pt": pt, "eta": p["eta"][t], "phi": p["phi"][t],
              "energy": np.sqrt((pt * np.cosh(p["eta"][t])) ** 2 + mass ** 2),
              "charge": p["charge"][t], "pdg_id": (track_class * p["charge"][t]).astype(np.int32),
              "dz": dz, "pv_assoc": association, "true_label": p["label"][t]}

    c = np.flatnonzero(to_calorimeter)
    eta, phi, energy, label = p["eta"][c], p["phi"][c], p["energy"][c], p["label"][c]
    em = np.isin(absolute_id[c], EM_PARTICLES)
    central = np.abs(eta) < CALORIMETER_ETA
    pieces = [tracks]
    for mask, cell, threshold, em_resolution, hadron_resolution in (
            (central & em, ECAL_CELL, CLUSTER_THRESHOLD["ecal"], ECAL_RESOLUTION, ECAL_RESOLUTION),
            (central & ~em, HCAL_CELL, CLUSTER_THRESHOLD["hcal"], HCAL_RESOLUTION, HCAL_RESOLUTION),
            (~central, HF_CELL, CLUSTER_THRESHOLD["hf"], HF_EM_RESOLUTION, HF_HADRON_RESOLUTION)):
        k = np.flatnonzero(mask)
        clusters = _clusters(rng, p["crossing"][c][k], eta[k], phi[k], energy[k], label[k], em[k], cell, threshold,
                             em_resolution, hadron_resolution)
        n = clusters["eta"].size
        pieces.append({"crossing": clusters["crossing"], "pt": clusters["energy"] / np.cosh(clusters["eta"]),
                       "eta": clusters["eta"], "phi": clusters["phi"], "energy": clusters["energy"],
                       "charge": np.zeros(n, np.int8), "pdg_id": clusters["pdg_id"],
                       "dz": np.full(n, np.nan, np.float32), "pv_assoc": np.zeros(n, np.int8),
                       "true_label": clusters["label"]})
    candidates = {name: np.concatenate([piece[name] for piece in pieces]) for name in pieces[0]}
    order = np.argsort(candidates["crossing"], kind="stable")
    candidates = {name: values[order] for name, values in candidates.items()}
    candidates["npv"] = npv
    return candidates
