"""Train the shipped Baikal-GVD models from their recipe and measure them on held-out simulated events.

    python scripts/train_baikal.py [--quick] [--stages ...] [--epochs N] [--rescore | --recalibrate]
                                   [--data data/baikal-gvd] [--out DIR]

1. Simulates independent train, validation and test samples (different seeds) at the
   nominal conditions (40 kHz noise, 22 m absorption), plus test samples at doubled noise
   and 15 m absorption for the shifted-condition figures, a larger neutrino-rich sample
   for the energy and direction regression, and the validation sample's neutrino events
   on their own (the regression's calibration sample).
2. Trains the stages of ``detectors/baikal_gvd/artifacts/recipe.json`` on them, as
   ``graphreco train RECIPE --data DIR --out DIR [--stages ...] [--epochs N]`` does;
   ``--recalibrate`` instead fits the chosen stages' calibration again on their validation
   sample, weights kept; ``--rescore`` trains nothing.
3. Scores the chosen stages on the test samples beside the classical chain on the same
   events (hits: the causality cleaning; events: the up-going-track score, on a dedicated
   sample of 100,000 atmospheric-muon events for the rejection; directions: the
   chi-square track fit), writes the scores as each stage's metrics.json and prints them
   as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from recipe_command import parse_arguments, run_recipe, scored

from graphreco.detectors.baikal_gvd.baseline import causality_clean, reconstruct_classically
from graphreco.detectors.baikal_gvd.simulation import Conditions, simulate_events
from graphreco.evaluate import efficiency_at_rejection, precision_recall, rejection_at_efficiency, roc_auc
from graphreco.evaluate.neutrino_metrics import NEUTRINO_KINDS
from graphreco.evaluate.resolution import direction_report, energy_report, signal_hits
from graphreco.io import event_table, read_events, write_events
from graphreco.pipeline import Pipeline
from graphreco.train.config import upstream_of

RECIPE = Path(__file__).resolve().parents[1] / "detectors" / "baikal_gvd" / "artifacts" / "recipe.json"
MIX = {"numu_cc": 3.0, "nue_cc": 1.0, "nc": 1.0, "eas": 8.0}
"""Kinds before the trigger: muons trigger less often than cascades, so they are drawn more."""
REGRESSION_MIX = {"numu_cc": 4.0, "nue_cc": 1.0, "nc": 1.0, "eas": 1.0}
"""The regression learns mostly from neutrino tracks, where the angular target is set."""
NEUTRINO_MIX = {"numu_cc": 3.0, "nue_cc": 1.0, "nc": 1.0}
"""The posterior flow learns from neutrino events, held out from the regression's."""
SAMPLES = {  # name: (events, seed, conditions, mix)
    "train": (40_000, 101, Conditions(), MIX),
    "train_regression": (100_000, 707, Conditions(), REGRESSION_MIX),
    "validation": (5_000, 202, Conditions(), MIX),
    "test": (20_000, 303, Conditions(), MIX),
    "test_noise80khz": (10_000, 404, Conditions(noise_rate_hz=80e3), MIX),
    "test_absorption15m": (10_000, 505, Conditions(absorption_length=15.0), MIX),
    "test_eas": (100_000, 606, Conditions(), {"eas": 1.0}),
    "train_posterior": (160_000, 808, Conditions(), NEUTRINO_MIX),
    "validation_posterior": (5_000, 818, Conditions(), NEUTRINO_MIX),
}
"""``test_eas``: atmospheric-muon bundles alone, enough to measure rejections up to ~10^4."""
TEST_SAMPLES = ("test", "test_noise80khz", "test_absorption15m")


def sample_specs(scale: float) -> dict[str, dict]:
    """Every sample: events, seed, conditions and kind mix (``scale`` shrinks them)."""
    return {name: {"events": max(200, int(events * scale)), "seed": seed, "conditions": conditions, "mix": mix}
            for name, (events, seed, conditions, mix) in SAMPLES.items()}


def simulate_samples(folder: Path, specs: dict[str, dict]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, spec in specs.items():
        path = folder / f"{name}.parquet"
        if not path.exists():
            simulated = simulate_events(spec["events"], seed=spec["seed"], mix=spec["mix"],
                                        conditions=spec["conditions"])
            write_events(path, event_table(**simulated.columns()), "baikal-gvd")
        paths[name] = path
    return paths


def neutrino_subset(source: Path, target: Path) -> Path:
    """The neutrino events of an event file, written to ``target`` (once)."""
    if not target.exists():
        table = pq.read_table(source)
        keep = np.isin(np.asarray(table.column("true_kind").to_pylist()), NEUTRINO_KINDS)
        write_events(target, table.filter(pa.array(keep)), "baikal-gvd")
    return target


def run_pipeline(pipeline: Pipeline, path: Path, batch_size: int = 2048):
    """Yield (batch, per-hit columns, per-event columns) of the pipeline over a file."""
    for batch in read_events(path, batch_size=batch_size):
        hits, events = pipeline.reconstruct(batch)
        yield batch, hits, events


def score_events(pipeline: Pipeline, test: Path, background: Path) -> dict:
    """numu CC efficiency against atmospheric-muon rejection: the GNN's event score, the
    classical up-going-track score, and (when the pipeline reconstructs directions) the
    GNN's event score of the events reconstructed up-going (zenith > 90 deg; else 0)."""
    def scores(path):
        columns = {"gnn": [], "upgoing_track_fit": [], "gnn_and_reconstructed_upgoing": [], "kind": []}
        for batch, _, events in run_pipeline(pipeline, path):
            columns["gnn"].append(events["event_score"])
            columns["upgoing_track_fit"].append(reconstruct_classically(batch.offsets, batch.hits)["event_score"])
            if "reco_zenith" in events:
                columns["gnn_and_reconstructed_upgoing"].append(
                    np.where(events["reco_zenith"] > np.pi / 2, events["event_score"], 0.0))
            columns["kind"].append(batch.events["true_kind"].astype(str))
        return {name: np.concatenate(values) for name, values in columns.items() if values}

    test_scores, eas_scores = scores(test), scores(background)
    numu = test_scores["kind"] == "numu_cc"
    result = {"numu_cc_events": int(numu.sum()), "eas_events": int(eas_scores["kind"].size)}
    for name in (name for name in test_scores if name != "kind"):
        signal, eas = test_scores[name][numu], eas_scores[name]
        result[name] = {"rejection_at_efficiency": [rejection_at_efficiency(signal, eas, e) for e in (0.5, 0.7, 0.9)],
                        "efficiency_at_rejection": [efficiency_at_rejection(signal, eas, r) for r in (1e3, 1e4)],
                        "auc_numu_vs_eas": round(roc_auc(np.r_[np.ones(signal.size), np.zeros(eas.size)],
                                                         np.r_[signal, eas]), 5)}
    return result


def threshold_at_precision(labels: np.ndarray, scores: np.ndarray, precision: float) -> float:
    """Lowest score threshold whose selection reaches ``precision`` on this sample."""
    order = np.argsort(-scores)
    cumulative = np.cumsum(labels[order]) / np.arange(1, labels.size + 1)
    reached = np.flatnonzero(cumulative >= precision)
    return float(scores[order][reached[-1]]) if reached.size else 1.0


def hit_columns(pipeline: Pipeline, path: Path) -> dict[str, np.ndarray]:
    """Per-hit truth, GNN score, causality cleaning and event kind over a file."""
    columns = {name: [] for name in ("signal", "gnn", "cleaning", "kind")}
    for batch, hits, _ in run_pipeline(pipeline, path, batch_size=512):
        kept = np.zeros(batch.n_hits, dtype=np.bool_)
        causality_clean(batch.offsets.astype(np.int64), *(np.asarray(batch.hits[c], dtype=np.float64)
                                                          for c in ("x", "y", "z", "t", "charge")), kept)
        for name, values in (("signal", batch.hits["true_label"] > 0), ("gnn", hits["hit_score"]), ("cleaning", kept),
                             ("kind", np.repeat(batch.events["true_kind"].astype(str), batch.hits_per_event))):
            columns[name].append(values)
    return {name: np.concatenate(values) for name, values in columns.items()}


def score_hits(pipeline: Pipeline, paths: dict[str, Path]) -> dict:
    """Hit-selection metrics of the GNN and the causality cleaning on the test samples;
    the 99 %-precision operating point is fixed on the validation sample's neutrino events."""
    validation = hit_columns(pipeline, paths["validation"])
    neutrino = np.isin(validation["kind"], NEUTRINO_KINDS)
    threshold = threshold_at_precision(validation["signal"][neutrino], validation["gnn"][neutrino], 0.99)
    result = {"threshold_99_precision_on_validation": round(threshold, 5)}
    for sample in TEST_SAMPLES:
        c = hit_columns(pipeline, paths[sample])
        result[sample] = {}
        for population, mask in (("neutrino", np.isin(c["kind"], NEUTRINO_KINDS)), ("numu_cc", c["kind"] == "numu_cc"),
                                 ("eas", c["kind"] == "eas")):
            y, s = c["signal"][mask], c["gnn"][mask]
            metrics = {"hits": int(y.size), "signal_fraction": round(float(y.mean()), 4),
                       "gnn": {"auc": round(roc_auc(y, s), 5)},
                       "causality_cleaning": dict(zip(("precision", "recall"),
                                                      (round(v, 4) for v in precision_recall(y, c["cleaning"][mask]))))}
            for name, cut in (("at_0.5", 0.5), ("at_validation_threshold", threshold)):
                metrics["gnn"][name] = dict(zip(("precision", "recall"),
                                                (round(v, 4) for v in precision_recall(y, s >= cut))))
            result[sample][population] = metrics
    return result


def score_energy_direction(pipeline: Pipeline, paths: dict[str, Path]) -> dict:
    """Angular and energy resolution with coverage of ``pipeline``'s last stage (the
    network's estimate for ``energy_direction``, the refitted one for ``refit``), and the
    chi-square track fit of the classical chain on the same events, per test sample."""
    result = {}
    for sample in TEST_SAMPLES:
        truth, gnn, classical = {}, [], []
        for batch, _, events in run_pipeline(pipeline, paths[sample]):
            signal = signal_hits(batch.offsets, batch.hits["true_label"])
            for name, values in (("kind", batch.events["true_kind"].astype(str)), ("signal_hits", signal),
                                 *((name, batch.events[name])
                                   for name in ("true_zenith", "true_azimuth", "true_energy"))):
                truth.setdefault(name, []).append(values)
            gnn.append(events)
            fit = reconstruct_classically(batch.offsets, batch.hits)
            classical.append({name: fit[name] for name in ("reco_zenith", "reco_azimuth", "reco_angle_sigma")})
        truth = {name: np.concatenate(values) for name, values in truth.items()}
        gnn = {name: np.concatenate([e[name] for e in gnn]) for name in gnn[0]}
        classical = {name: np.concatenate([e[name] for e in classical]) for name in classical[0]}
        result[sample] = {}
        for kind in ("numu_cc", "nue_cc", "nc"):
            mask = truth["kind"] == kind
            subset = {name: values[mask] for name, values in truth.items()}
            entry = {"direction": {"gnn": direction_report(subset, {k: v[mask] for k, v in gnn.items()})},
                     "energy": energy_report(subset, {k: v[mask] for k, v in gnn.items()})}
            if kind == "numu_cc":
                entry["direction"]["chi2_track_fit"] = direction_report(subset,
                                                                        {k: v[mask] for k, v in classical.items()})
            result[sample][kind] = entry
    return result


def score(name: str, pipeline: Pipeline, full: Pipeline, paths: dict[str, Path]) -> dict:
    """Held-out figures of stage ``name`` run by ``pipeline`` (it and its upstream);
    ``full`` (every stage) adds the selection that uses reconstructed directions."""
    if name == "hit_selection":
        return score_hits(pipeline, paths)
    if name == "background_suppression":
        return {"test": score_events(pipeline, paths["test"], paths["test_eas"])}
    metrics = score_energy_direction(pipeline, paths)
    if "background_suppression" in full.stages:
        metrics["upgoing_selection"] = score_events(full, paths["test"], paths["test_eas"])
    return metrics


def main() -> None:
    args = parse_arguments(__doc__.splitlines()[0], RECIPE, Path("data/baikal-gvd"), quick_epochs=2, threads=2)
    specs = sample_specs(0.05 if args.quick else 1.0)
    paths = simulate_samples(args.data, specs)
    paths["validation_neutrino"] = neutrino_subset(paths["validation"], args.data / "validation_neutrino.parquet")
    run_recipe(args, {name: {**spec, "conditions": vars(spec["conditions"])} for name, spec in specs.items()})
    full = Pipeline.load(args.out)
    report = {}
    for name in filter(lambda stage: scored(args, stage), full.stages):
        earlier = list(full.stages)[:list(full.stages).index(name)]
        model = full.stages[name]
        upstream = upstream_of(model, Pipeline(full.detector, {stage: full.stages[stage] for stage in earlier}))
        report[name] = score(name, Pipeline(full.detector, {**upstream.stages, name: model}), full, paths)
        (args.out / name / "metrics.json").write_text(json.dumps(report[name], indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
