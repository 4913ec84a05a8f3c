"""Study (not shipped): can the standard fit's energy, corrected for composition with the
GNN's proton / iron / photon probabilities and combined with the GNN's energy, beat both?

    python scripts/study_ta_energy_combination.py VALIDATION.parquet VALIDATION-RECO.parquet \\
        TEST.parquet TEST-RECO.parquet [--refit]

The RECO files are ``graphreco reconstruct --detector ta-sd`` outputs of the truth files
(scripts/train_ta_sd.py writes data/ta-sd/validation.parquet and test.parquet) by a chain
whose energy is the GNN's own, as in session 6 (the shipped chain now combines: its
energy-direction stage's ``combine``, which this study led to). The fit
is the standard reconstruction, or with ``--refit`` the fit on the counters the GNN kept
(``hit_score >= 0.5``, the refit the chain runs for the direction) with the same energy
table; the standard fit's resolution is printed as ``standard`` either way. On the
validation showers that pass the issue's cuts, for each true primary, the offset of the
fit's log10 E from the truth is fitted as a quadratic in log10 E_fit and
sec(zenith_fit); a shower's correction is those offsets averaged with its ``reco_p_*``.
The weight of the GNN in the average is then chosen per bin of the GNN's energy, also
on validation. ``stacked`` fits instead, in one least-squares regression on validation,
the fit's offset from the truth as those per-primary quadratics and the difference GNN -
fit (per primary, and times log10 E_fit and sec(zenith_fit)), all weighted by the
probabilities: 20 coefficients. Prints JSON: per bin of true energy on the test showers,
the resolution (half the 16-84 % interval of log10 E_reco - log10 E_true) of the
standard fit, the fit combined, the GNN, the corrected fit, the average and the stacked
estimate, and the last two against the standard fit.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pyarrow.parquet as pq

from graphreco.detectors import DetectorConfiguration
from graphreco.detectors.ta_sd.baseline import fit_showers, reconstruct_classically
from graphreco.detectors.ta_sd.composition import IRON, PHOTON, PROTON
from graphreco.detectors.ta_sd.detector import DETECTOR
from graphreco.detectors.ta_sd.energy_table import load_shipped_table
from graphreco.detectors.ta_sd.geometry import distance_to_edge
from graphreco.evaluate.shower_metrics import ENERGY_BIN_EDGES, EV_PER_GEV, selected
from graphreco.io import read_events

PRIMARIES = {PROTON: "reco_p_proton", IRON: "reco_p_iron", PHOTON: "reco_p_photon"}
"""Each simulated primary (its ``true_primary`` code) and the GNN's probability column for it."""


def showers(truth: str, reco: str, refit: bool) -> dict[str, np.ndarray]:
    """Per shower: truth, the cuts, the GNN's outputs, the standard fit's energy
    (``standard``) and the energy and zenith of the fit combined (``fit``, ``fit_zenith``:
    the standard fit's, or with ``refit`` the fit on the GNN's counters; log10 eV, rad)."""
    table = pq.read_table(reco)
    row_of = {event: row for row, event in enumerate(table.column("event_id").to_pylist())}
    gnn = {name: table.column(name).to_numpy() for name in ("reco_log10_energy", *PRIMARIES.values())}
    hit_scores = table.column("hit_score").to_pylist() if refit else None
    pieces: dict[str, list[np.ndarray]] = {}
    for batch in read_events(truth):
        rows = np.array([row_of[event] for event in batch.event_id])
        sizes = np.diff(batch.offsets)
        standard = reconstruct_classically(batch.offsets, batch.hits, batch.configuration)
        fit = _refit(batch.offsets, batch.hits, [hit_scores[row] for row in rows], batch.configuration) \
            if refit else standard
        columns = {
            **{name: batch.events[name] for name in ("true_energy", "true_zenith", "true_primary")},
            "shower_counters": np.bincount(np.repeat(np.arange(sizes.size), sizes), batch.hits["true_label"] == 1,
                                           minlength=sizes.size),
            "edge_distance": distance_to_edge(batch.events["true_core_x"], batch.events["true_core_y"],
                                              batch.configuration),
            "true": np.log10(batch.events["true_energy"]) + EV_PER_GEV,
            "gnn": gnn["reco_log10_energy"][rows] + EV_PER_GEV,
            "standard": standard["reco_log10_energy"] + EV_PER_GEV,
            "fit": fit["reco_log10_energy"] + EV_PER_GEV,
            "fit_zenith": fit["reco_zenith"],
            **{name: gnn[name][rows] for name in PRIMARIES.values()},
        }
        for name, values in columns.items():
            pieces.setdefault(name, []).append(values)
    c = {name: np.concatenate(values) for name, values in pieces.items()}
    c["selected"] = (selected(c, DETECTOR.shower_cuts)  # the cuts, on the truth
                     & np.isfinite(c["fit"]) & np.isfinite(c["standard"]))
    return c


def _refit(offsets: np.ndarray, hits: dict[str, np.ndarray], scores: list[list[float]],
           configuration: DetectorConfiguration) -> dict[str, np.ndarray]:
    """The fit on the counters with ``hit_score >= 0.5`` (silent counters from
    ``configuration``): log10 E (GeV, from the shipped energy table) and zenith (rad),
    NaN where it failed."""
    keep = np.concatenate([np.asarray(event, dtype=float) for event in scores]) >= 0.5
    event_of_hit = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    kept_offsets = np.concatenate([[0], np.cumsum(np.bincount(event_of_hit[keep], minlength=offsets.size - 1))])
    fit = fit_showers(kept_offsets, {name: values[keep] for name, values in hits.items()},
                      configuration.live_positions, preselected=True)
    log10_energy, _ = load_shipped_table().log10_energy(fit["s800"], fit["reco_zenith"], fit["s800_sigma_log10"])
    ok = fit["fit_ok"] == 1.0
    return {"reco_log10_energy": np.where(ok, log10_energy, np.nan),
            "reco_zenith": np.where(ok, fit["reco_zenith"], np.nan)}


def regressors(c: dict[str, np.ndarray]) -> np.ndarray:
    """Quadratic terms in log10 E_fit - 19 and sec(zenith_fit) - 1.3."""
    energy, sec = c["fit"] - 19.0, 1.0 / np.cos(c["fit_zenith"]) - 1.3
    return np.stack([np.ones_like(energy), energy, sec, energy * sec, sec * sec], axis=1)


def stacked_regressors(c: dict[str, np.ndarray]) -> np.ndarray:
    """``regressors`` and the difference GNN - fit per primary (times its probability),
    and that difference times log10 E_fit and sec(zenith_fit)."""
    base = regressors(c)
    probabilities = np.stack([c[column] for column in PRIMARIES.values()], axis=1)
    difference = (c["gnn"] - c["fit"])[:, None]
    return np.concatenate([base * probabilities[:, [k]] for k in range(len(PRIMARIES))]
                          + [difference * probabilities, difference * base[:, 1:3]], axis=1)


def resolution(residual: np.ndarray) -> float:
    low, high = np.percentile(residual, [16, 84])
    return round(float(high - low) / 2, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("validation", "validation_reco", "test", "test_reco"):
        parser.add_argument(name)
    parser.add_argument("--refit", action="store_true", help="combine the fit on the GNN's counters")
    args = parser.parse_args()
    validation, test = (showers(truth, reco, args.refit) for truth, reco in
                        ((args.validation, args.validation_reco), (args.test, args.test_reco)))
    coefficients = {}
    for code in PRIMARIES:
        chosen = validation["selected"] & (validation["true_primary"] == code)
        offset = validation["true"][chosen] - validation["fit"][chosen]
        design = regressors({name: values[chosen] for name, values in validation.items()})
        coefficients[code] = np.linalg.lstsq(design, offset, rcond=None)[0]
    for c in (validation, test):
        design = regressors(c)
        c["corrected"] = c["fit"] + sum(c[column] * (design @ coefficients[code]) for code, column in PRIMARIES.items())
    edges = np.asarray(ENERGY_BIN_EDGES)
    weights = []  # of the GNN, per bin of its energy: least squares on validation
    for low, high in zip(edges[:-1], edges[1:]):
        chosen = validation["selected"] & (validation["gnn"] >= low) & (validation["gnn"] < high)
        gnn, fit = (validation[name][chosen] - validation["true"][chosen] for name in ("gnn", "corrected"))
        weights.append(float(np.clip(np.sum(fit * (fit - gnn)) / np.sum((fit - gnn) ** 2), 0.0, 1.0)))
    weight = np.asarray(weights)[np.clip(np.searchsorted(edges, test["gnn"], side="right") - 1, 0, len(weights) - 1)]
    test["average"] = weight * test["gnn"] + (1 - weight) * test["corrected"]
    chosen = validation["selected"]
    stacked = np.linalg.lstsq(stacked_regressors({name: values[chosen] for name, values in validation.items()}),
                              (validation["true"] - validation["fit"])[chosen], rcond=None)[0]
    test["stacked"] = test["fit"] + stacked_regressors(test) @ stacked
    report = {"gnn_weights_per_bin": [round(w, 3) for w in weights], "bins": {}}
    for low, high in zip(edges[:-1], edges[1:]):
        chosen = test["selected"] & (test["true"] >= low) & (test["true"] < high)
        figures = {name: resolution(test[name][chosen] - test["true"][chosen])
                   for name in ("standard", "fit", "gnn", "corrected", "average", "stacked")}
        figures |= {f"{name}_vs_standard": round(figures[name] / figures["standard"] - 1, 3)
                    for name in ("average", "stacked")}
        report["bins"][f"{low}-{high}"] = {"showers": int(chosen.sum()), **figures}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
