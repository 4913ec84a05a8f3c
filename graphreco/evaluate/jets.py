"""Physics objects after pile-up mitigation: anti-kT jets and missing transverse momentum.

Each method weights the candidates (what its four-momentum is multiplied by). A candidate
of weight w is the four-vector

    px = w pT cos(phi),  py = w pT sin(phi),  pz = w pT sinh(eta),  E = w * energy

(its PF energy, so a candidate keeps its own mass), recombined with the E scheme.
The reference is the same made of the leading-interaction candidates alone
(``true_label == 1``, weight 1): perfect pile-up removal with the same detector response.

Jets: anti-kT R = 0.4 (fastjet). Every reference jet with pT > 30 GeV and |eta| < 2.5 is
matched to the nearest reconstructed jet of its event within Delta R < 0.2 (nearest, not
exclusive: two such reference jets are more than 0.4 apart, so one reconstructed jet
cannot be within 0.2 of both). Reported: the matching efficiency, the pT response
pT_reco / pT_ref (median; resolution = half the 16-84 % range over the median), the mass
difference m_reco - m_ref in GeV (median and half the 16-84 % range; a difference rather
than a ratio, because the reference masses of 30 GeV jets reach down to a few GeV), and
fakes: reconstructed jets above 30 GeV with no reference jet (pT > the clustering
threshold) within Delta R < 0.2, per event, in |eta| < 2.5 and anywhere. The matching
efficiency, response and resolution are also given per bin of reference-jet pT
(``REFERENCE_PT_BIN_EDGES``).

Clustering uses the awkward interface of the scikit-hep ``fastjet`` package (many events in
one call), faster than a list of PseudoJets per event (one core, fastjet 3.5): 89 against
35 crossings/s at ~7,700 candidates (PU 140), 59 against 37 at 10,000.

Missing transverse momentum: MET = -(sum of w pT (cos phi, sin phi)) per event; the
resolution is half the 16-84 % range of the x and y components of MET_reco - MET_ref
pooled, and the bias the mean of |MET_reco| - |MET_ref| (GeV), with its standard error.

Statistical errors (``_error`` entries): binomial for the matching efficiency, order
statistics for the median response, the bootstrap (over jets; for MET over events) for
the resolutions.
"""

from __future__ import annotations

import numpy as np

from ..console import stdout_to_stderr
from ..extras import require
from ..statistics import bootstrap_error, half_width, quantile_error
from .measured import fraction, measured

JET_RADIUS = 0.4
REFERENCE_MIN_PT = 30.0
"""GeV: reference jets that are matched, and reconstructed jets that can be fakes."""
REFERENCE_MAX_ABS_ETA = 2.5
MATCH_RADIUS = 0.2
CLUSTER_MIN_PT = 5.0
"""GeV: jets below are not kept (a matched jet can still have a response down to 1/6)."""
MEMBERSHIP_MIN_PT = 20.0
"""GeV: leading-interaction jets whose candidates ``jet_membership`` marks (below the
matched jets' 30 GeV, so that jets near the threshold count on both sides)."""
CHUNK_EVENTS = 256
"""Events handed to fastjet in one call (bounds the memory of the awkward arrays)."""
RESPONSE_BIN_EDGES = np.linspace(0.0, 2.5, 51)
"""Bins of the pT-response histogram in the report; values outside go to the end bins."""
REFERENCE_PT_BIN_EDGES = (REFERENCE_MIN_PT, 40.0, 50.0, 70.0, 100.0, 150.0, 250.0, 1000.0)
"""GeV: bins of reference-jet pT of the figures versus pT; jets above the last edge are in none."""
JET_FIELDS = ("event", "pt", "eta", "phi", "mass")


def _events(offsets: np.ndarray) -> np.ndarray:
    sizes = np.diff(offsets)
    return np.repeat(np.arange(sizes.size), sizes)


def delta_phi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a - b wrapped into [-pi, pi) (rad)."""
    return (np.asarray(a) - np.asarray(b) + np.pi) % (2 * np.pi) - np.pi


def clustered_jets(offsets: np.ndarray, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, energy: np.ndarray,
                   weight: np.ndarray, radius: float = JET_RADIUS,
                   min_pt: float = CLUSTER_MIN_PT) -> dict[str, np.ndarray]:
    """Anti-kT jets of radius ``radius`` with pT > ``min_pt`` (GeV) in each event of CSR
    ``offsets``, from the candidates weighted by ``weight`` (zero weights left out; pT,
    energy in GeV, phi in rad). Returns arrays per jet, ordered by event then falling pT:
    ``event`` (index into the events of ``offsets``), ``pt`` (GeV), ``eta``, ``phi``
    (rad, [-pi, pi)), ``mass`` (GeV; 0 where the four-vector is space-like)."""
    ak = require("awkward", "lhc", "jet clustering")
    fastjet = require("fastjet", "lhc", "jet clustering")
    weight = np.asarray(weight, dtype=np.float64)
    kept = weight > 0
    events = _events(offsets)[kept]
    counts = np.bincount(events, minlength=len(offsets) - 1)
    w, pt_w = weight[kept], weight[kept] * np.asarray(pt, dtype=np.float64)[kept]
    phi_k, eta_k = np.asarray(phi, dtype=np.float64)[kept], np.asarray(eta, dtype=np.float64)[kept]
    momenta = {"px": pt_w * np.cos(phi_k), "py": pt_w * np.sin(phi_k), "pz": pt_w * np.sinh(eta_k),
               "E": w * np.asarray(energy, dtype=np.float64)[kept]}
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, radius)
    starts = np.concatenate([[0], np.cumsum(counts)])
    event, columns = [np.zeros(0, dtype=np.int64)], {name: [np.zeros(0)] for name in momenta}
    for first in range(0, counts.size, CHUNK_EVENTS):
        last = min(first + CHUNK_EVENTS, counts.size)
        chunk = slice(starts[first], starts[last])
        candidates = ak.unflatten(ak.zip({name: values[chunk] for name, values in momenta.items()}), counts[first:last])
        with stdout_to_stderr():  # FastJet prints its banner on stdout, where the summary or record goes
            jets = fastjet.ClusterSequence(candidates, definition).inclusive_jets(min_pt)
        event.append(np.repeat(np.arange(first, last), ak.to_numpy(ak.num(jets))))
        for name in momenta:
            columns[name].append(ak.to_numpy(ak.flatten(jets[name])).astype(np.float64))
    event = np.concatenate(event)
    px, py, pz, e = (np.concatenate(columns[name]) for name in ("px", "py", "pz", "E"))
    jet_pt = np.hypot(px, py)
    order = np.lexsort((-jet_pt, event))
    jets = {"event": event, "pt": jet_pt, "eta": np.arcsinh(pz / np.maximum(jet_pt, 1e-12)),
            "phi": delta_phi(np.arctan2(py, px), 0.0),
            "mass": np.sqrt(np.maximum(e ** 2 - px ** 2 - py ** 2 - pz ** 2, 0.0))}
    return {name: values[order] for name, values in jets.items()}


def nearest_jets(reference: dict[str, np.ndarray], reco: dict[str, np.ndarray],
                 max_distance: float = MATCH_RADIUS) -> np.ndarray:
    """For each jet of ``reference``, the index of the nearest jet of ``reco`` in the same
    event within Delta R < ``max_distance``, or -1 (both as from ``clustered_jets``:
    ``reco`` ordered by event)."""
    n_events = int(max(reference["event"].max(initial=-1), reco["event"].max(initial=-1))) + 1
    reco_starts = np.searchsorted(reco["event"], np.arange(n_events + 1))
    reco_counts = np.diff(reco_starts)[reference["event"]]
    left = np.repeat(np.arange(reference["event"].size), reco_counts)
    right = (np.arange(left.size) - np.repeat(np.cumsum(reco_counts) - reco_counts, reco_counts)
             + np.repeat(reco_starts[reference["event"]], reco_counts))
    distance = np.hypot(reference["eta"][left] - reco["eta"][right],
                        delta_phi(reference["phi"][left], reco["phi"][right]))
    close = distance < max_distance
    left, right, distance = left[close], right[close], distance[close]
    order = np.lexsort((distance, left))
    first = np.unique(left[order], return_index=True)[1]
    match = np.full(reference["event"].size, -1, dtype=np.int64)
    match[left[order][first]] = right[order][first]
    return match


def jet_membership(offsets: np.ndarray, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, energy: np.ndarray,
                   true_label: np.ndarray, min_pt: float = MEMBERSHIP_MIN_PT) -> np.ndarray:
    """For every candidate, the index (within its event, in falling pT) of the nearest
    leading-interaction anti-kT jet with pT > ``min_pt`` GeV whose axis is closer than the
    jet radius, or -1: the candidates, of either interaction, that would enter that jet."""
    reference = clustered_jets(offsets, pt, eta, phi, energy, (np.asarray(true_label) == 1).astype(np.float64),
                               min_pt=min_pt)
    events = _events(offsets)
    member = np.full(events.size, -1, dtype=np.int32)
    if not reference["pt"].size:
        return member
    starts = np.searchsorted(reference["event"], np.arange(len(offsets)))
    nearest = np.full(events.size, np.inf)
    for rank in range(int(np.diff(starts).max())):
        jet = starts[events] + rank
        has = jet < starts[events + 1]
        jet = np.minimum(jet, reference["pt"].size - 1)
        distance = np.hypot(np.asarray(eta) - reference["eta"][jet], delta_phi(phi, reference["phi"][jet]))
        closer = has & (distance < JET_RADIUS) & (distance < nearest)
        member[closer], nearest[closer] = rank, distance[closer]
    return member


def missing_momentum(offsets: np.ndarray, pt: np.ndarray, phi: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(n_events, 2) missing transverse momentum -sum w pT (cos phi, sin phi) per event (GeV)."""
    events, n_events = _events(offsets), len(offsets) - 1
    pt_w = np.asarray(weight, dtype=np.float64) * np.asarray(pt, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    return -np.stack([np.bincount(events, pt_w * np.cos(phi), minlength=n_events),
                      np.bincount(events, pt_w * np.sin(phi), minlength=n_events)], axis=1)


def _selected(jets: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[mask] for name, values in jets.items()}


def _response(reference: dict[str, np.ndarray], reco: dict[str, np.ndarray], match: np.ndarray) -> np.ndarray:
    """pT_reco / pT_ref of the reference jets that ``match`` (``nearest_jets``) pairs with a
    reconstructed jet, in their order."""
    found = match >= 0
    return reco["pt"][match[found]] / reference["pt"][found]


def _matching_figures(found: np.ndarray, response: np.ndarray) -> dict:
    """``matched``, ``matching_efficiency`` (None without reference jets) and, with matched
    jets, ``response_median`` and ``response_resolution``, from whether each reference jet
    was ``found`` and the ``response`` of those found."""
    figures = {"matched": int(found.sum()),
               **(fraction("matching_efficiency", float(found.mean()), found.size, 5) if found.size
                  else {"matching_efficiency": None})}
    if found.any():
        figures |= {**measured("response_median", float(np.median(response)), quantile_error(response, 0.5), 4),
                    **measured("response_resolution", _relative_width(response),
                               bootstrap_error(_relative_width, response), 4)}
    return figures


def _relative_width(response: np.ndarray) -> float:
    """Half the central 68 % of the ``response`` over its median."""
    return half_width(response) / float(np.median(response))


def _figures_vs_pt(reference: dict[str, np.ndarray], reco: dict[str, np.ndarray], match: np.ndarray) -> dict:
    """``_matching_figures`` of the reference jets in each bin of ``REFERENCE_PT_BIN_EDGES``
    (labelled ``"low-high"``, GeV)."""
    found = match >= 0
    response = _response(reference, reco, match)
    edges = np.asarray(REFERENCE_PT_BIN_EDGES)
    which = np.digitize(reference["pt"], edges) - 1
    return {f"{low:g}-{high:g}": _matching_figures(found[which == b], response[(which == b)[found]])
            for b, (low, high) in enumerate(zip(edges[:-1], edges[1:]))}


def _jet_figures(reference: dict[str, np.ndarray], everything: dict[str, np.ndarray],
                 reco: dict[str, np.ndarray], match: np.ndarray, n_events: int) -> dict:
    found = match >= 0
    response = _response(reference, reco, match)
    mass_difference = reco["mass"][match[found]] - reference["mass"][found]
    figures = _matching_figures(found, response)
    if found.any():
        figures |= {"mass_difference_median_gev": round(float(np.median(mass_difference)), 3),
                    **measured("mass_resolution_gev", half_width(mass_difference),
                               bootstrap_error(half_width, mass_difference), 3)}
    figures["response_counts"] = np.histogram(np.clip(response, RESPONSE_BIN_EDGES[0], RESPONSE_BIN_EDGES[-1]),
                                              RESPONSE_BIN_EDGES)[0].tolist()
    hard = _selected(reco, reco["pt"] > REFERENCE_MIN_PT)
    lonely = nearest_jets(hard, everything) < 0
    central = int((lonely & (np.abs(hard["eta"]) < REFERENCE_MAX_ABS_ETA)).sum())
    figures.update(fakes=central, fakes_per_event=round(central / max(n_events, 1), 4),
                   fakes_anywhere=int(lonely.sum()),
                   fakes_anywhere_per_event=round(int(lonely.sum()) / max(n_events, 1), 4))
    return figures


def _pooled_width(difference: np.ndarray) -> float:
    """Half the central 68 % of both components of (n_events, 2) MET differences, pooled."""
    return half_width(difference.ravel())


def _met_figures(reference: np.ndarray, reco: np.ndarray) -> dict:
    if not reference.shape[0]:
        return {"events": 0}
    bias = np.linalg.norm(reco, axis=1) - np.linalg.norm(reference, axis=1)
    difference = reco - reference
    return {"events": int(reference.shape[0]),
            **measured("resolution_gev", _pooled_width(difference), bootstrap_error(_pooled_width, difference), 3),
            "bias_gev": round(float(bias.mean()), 3),
            "bias_error_gev": round(float(bias.std(ddof=1) / np.sqrt(bias.size)), 3) if bias.size > 1 else None}


def jet_report(offsets: np.ndarray, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, energy: np.ndarray,
               true_label: np.ndarray, weights: dict[str, np.ndarray], min_pt: float = CLUSTER_MIN_PT) -> dict:
    """Jets and MET of each method (``weights``: one weight per candidate) against the
    leading-interaction reference (see the module docstring). Returns ``events``,
    ``reference`` (``jets``: selected reference jets, ``jets_per_event``, ``selection``,
    ``met_mean_gev``), ``response_bin_edges`` and, per method under ``methods``:
    ``jets`` (``matched``, ``matching_efficiency``, ``response_median``,
    ``response_resolution``, ``mass_difference_median_gev``, ``mass_resolution_gev``,
    ``response_counts`` (histogram on ``response_bin_edges``, end bins take the
    overflow), ``fakes``, ``fakes_per_event`` (|eta| < 2.5), ``fakes_anywhere``,
    ``fakes_anywhere_per_event``), ``met`` (``events``, ``resolution_gev``,
    ``bias_gev``, ``bias_error_gev``) and ``jets_vs_pt``: per bin of
    ``reference_pt_bin_edges_gev`` (reference-jet pT, labelled ``"low-high"``), its
    ``matched``, ``matching_efficiency``, ``response_median`` and ``response_resolution``.
    Momenta in GeV; ``min_pt`` the clustering threshold."""
    n_events = len(offsets) - 1
    truth = (np.asarray(true_label) == 1).astype(np.float64)
    everything = clustered_jets(offsets, pt, eta, phi, energy, truth, min_pt=min_pt)
    reference = _selected(everything, (everything["pt"] > REFERENCE_MIN_PT)
                          & (np.abs(everything["eta"]) < REFERENCE_MAX_ABS_ETA))
    reference_met = missing_momentum(offsets, pt, phi, truth)
    report = {"events": n_events,
              "reference": {"selection": f"anti-kT R = {JET_RADIUS}, pT > {REFERENCE_MIN_PT:g} GeV, "
                                         f"|eta| < {REFERENCE_MAX_ABS_ETA}, leading-interaction candidates",
                            "jets": int(reference["pt"].size),
                            "jets_per_event": round(reference["pt"].size / max(n_events, 1), 4),
                            "met_mean_gev": round(float(np.linalg.norm(reference_met, axis=1).mean()), 3)
                            if n_events else None},
              "response_bin_edges": [round(float(edge), 4) for edge in RESPONSE_BIN_EDGES],
              "reference_pt_bin_edges_gev": list(REFERENCE_PT_BIN_EDGES),
              "methods": {}}
    for name, weight in weights.items():
        if np.shape(weight) != np.shape(pt):
            raise ValueError(f"weight {name!r} has shape {np.shape(weight)}, expected one per candidate {np.shape(pt)}")
        reco = clustered_jets(offsets, pt, eta, phi, energy, weight, min_pt=min_pt)
        match = nearest_jets(reference, reco)
        report["methods"][name] = {"jets": _jet_figures(reference, everything, reco, match, n_events),
                                   "met": _met_figures(reference_met, missing_momentum(offsets, pt, phi, weight)),
                                   "jets_vs_pt": _figures_vs_pt(reference, reco, match)}
    return report
