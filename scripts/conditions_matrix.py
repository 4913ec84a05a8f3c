"""The conditions matrix: the shipped pipeline beside the classical method on shifted conditions.

    python scripts/conditions_matrix.py DETECTOR [--events N] [--conditions NAME ...]
                                        [--data DIR] [--json FILE]

For each condition of DETECTOR in ``scripts/conditions.json`` (nominal first; each with
the ``graphreco simulate`` options that make it and the source of its value) it simulates
an independent test sample with ``graphreco simulate DETECTOR`` (the command is kept in
the JSON), reconstructs it with the shipped pipeline (as
``graphreco reconstruct`` does) and scores it with the detector's evaluation (as
``graphreco evaluate`` does), classical method included. It prints one table, a row per
condition, of the figures that matter for the detector's evaluation kind, the pipeline's
beside the classical method's, with the coverage of the uncertainties; the full
evaluations go to ``--json``. Samples are kept in ``--data`` and reused when present.

The matrix is our proxy for data the models never saw: none of these samples is trained
on, and the shifted conditions lie outside the nominal condition the shipped models were
trained at.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from graphreco import detectors
from graphreco.evaluate import evaluate_files
from graphreco.pipeline import Pipeline
from graphreco.run.file import reconstruct_file

CONDITIONS = json.loads(Path(__file__).with_name("conditions.json").read_text())["detectors"]
"""Per detector: ``events`` (default per condition), ``sample`` (``graphreco simulate``
options of every sample) and ``conditions``, each with its ``options`` and ``source``."""
SEED = 7001
"""Seeds of the test samples: SEED + the condition's row (never a training seed, which
the training scripts take from 101 to 1404)."""


def _native(value):
    """A numpy scalar of an evaluation as the Python number JSON writes."""
    return value.item()


def neutrino_figures(evaluation: dict) -> dict[str, tuple]:
    """Headline figures of a ``neutrino_events`` evaluation: (pipeline, classical) each."""
    hits = evaluation["hits"]
    events = evaluation["events_numu_cc_vs_eas"]

    def passing(method: str):
        point = next(p for p in events[method]["rejection_at_efficiency"] if p["efficiency"] == 0.7)
        return f"{point['background_passing']}/{point['background_events']}"
    numu = evaluation["direction"]["numu_cc"]
    return {"hit precision": (hits["gnn"]["precision"], hits["baseline"]["precision"]),
            "hit recall": (hits["gnn"]["recall"], hits["baseline"]["recall"]),
            "EAS passing at 70 % numu": (passing("gnn"), passing("baseline")),
            "numu >=10 hits median deg": (numu["gnn"]["by_signal_hits"][">=10"]["median_deg"],
                                          numu["baseline"]["by_signal_hits"][">=10"]["median_deg"]),
            "numu cone coverage": (numu["gnn"]["coverage_68_cone"], numu["baseline"]["coverage_68_cone"]),
            "numu energy coverage": (evaluation["energy"]["numu_cc"]["gnn"]["coverage_1_sigma"], None)}


def shower_figures(evaluation: dict) -> dict[str, tuple]:
    """Headline figures of an ``air_showers`` evaluation: (pipeline, classical) each."""
    gnn, fit = evaluation["summary"]["gnn"], evaluation["summary"]["baseline"]
    return {"showers": (evaluation["selection"]["selected"], evaluation["selection"]["selected"]),
            "angle q68 deg": (gnn["angle_q68_deg"], fit["angle_q68_deg"]),
            "log10 E half-width": (gnn["log10_energy_resolution"], fit["log10_energy_resolution"]),
            "core q68 m": (gnn["core_q68_m"], fit["core_q68_m"]),
            "angle coverage": (gnn["angle_coverage"], fit["angle_coverage"]),
            "energy coverage": (gnn["energy_coverage"], fit["energy_coverage"])}


def pileup_figures(evaluation: dict) -> dict[str, tuple]:
    """Headline figures of a ``pileup`` evaluation: the GNN beside the best classical
    score (by AUC among those with one) for each group of candidates."""
    figures = {}
    for group, label in (("all", "AUC all pT>0.5"), ("neutral_pt1", "AUC neutral pT>1"), ("charged", "AUC charged")):
        methods = evaluation["particles"][group]["methods"]
        classical = {name: m["auc"] for name, m in methods.items() if name != "gnn" and m.get("auc") is not None}
        best = max(classical, key=classical.get) if classical else None
        figures[label] = (methods["gnn"].get("auc"), f"{classical[best]:.3f} {best}" if best else None)
    return figures


FIGURES: dict[str, Callable[[dict], dict[str, tuple]]] = {
    "neutrino_events": neutrino_figures, "air_showers": shower_figures, "pileup": pileup_figures}
"""Evaluation kind -> its headline figures."""


def simulate(name: str, options: dict[str, str], events: int, seed: int, path: Path) -> list[str]:
    """Write a sample with ``graphreco simulate NAME`` and ``options`` (flag -> value) to
    ``path`` unless it exists; returns the command."""
    command = ["graphreco", "simulate", name, "--events", str(events), "--seed", str(seed), "-o", str(path),
               *[part for flag, value in options.items() for part in (flag, *value.split())]]
    if not path.exists():
        executable = Path(sys.executable).with_name("graphreco")
        subprocess.run([str(executable), *command[1:]], check=True, stdout=subprocess.DEVNULL)
    return command


def score(pipeline: Pipeline, path: Path) -> dict:
    """The detector's evaluation of ``pipeline`` (and the classical method) on ``path``."""
    with tempfile.TemporaryDirectory() as folder:
        reco = Path(folder) / "reco.parquet"
        reconstruct_file(pipeline, path, reco)
        return evaluate_files(path, reco)


def write_json(path: Path, record: dict) -> None:
    """``record`` as JSON at ``path`` (numpy values as Python's), its folder made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, default=_native))


def format_value(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def table(rows: dict[str, dict[str, tuple]]) -> str:
    """Markdown: a row per condition, ``pipeline / classical`` per figure."""
    names = list(next(iter(rows.values())))
    lines = ["| condition | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for condition, figures in rows.items():
        cells = [f"{format_value(gnn)} / {format_value(classical)}" for gnn, classical in figures.values()]
        lines.append(f"| {condition} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("detector", choices=sorted(CONDITIONS))
    parser.add_argument("--events", type=int, help="events per condition (default per detector)")
    parser.add_argument("--conditions", nargs="+", help="only these conditions (default all)")
    parser.add_argument("--data", type=Path, default=Path("data/conditions"), help="where samples are kept")
    parser.add_argument("--json", type=Path, help="write every evaluation here")
    args = parser.parse_args(argv)
    name = args.detector
    detector = detectors.get(name)
    conditions = CONDITIONS[name]["conditions"]
    chosen = args.conditions or list(conditions)
    unknown = sorted(set(chosen) - set(conditions))
    if unknown:
        parser.error(f"unknown conditions {unknown}; known: {list(conditions)}")
    events = args.events or CONDITIONS[name]["events"]
    pipeline = Pipeline.shipped(name)
    folder = args.data / name
    folder.mkdir(parents=True, exist_ok=True)
    rows, record = {}, {"detector": name, "events": events, "conditions": {}}
    for row, label in enumerate(conditions):
        if label not in chosen:
            continue
        start = time.perf_counter()
        path = folder / f"{label.replace(' ', '_').replace('/', '_')}-{events}.parquet"
        options = {**CONDITIONS[name]["sample"], **conditions[label]["options"]}
        command = simulate(name, options, events, SEED + row, path)
        evaluation = score(pipeline, path)
        rows[label] = FIGURES[detector.evaluation](evaluation)
        record["conditions"][label] = {"command": " ".join(command), "source": conditions[label]["source"],
                                       "figures": {k: list(v) for k, v in rows[label].items()},
                                       "evaluation": evaluation}
        print(f"{label}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    print(f"{name}, {events} events per condition: pipeline / classical\n")
    print(table(rows))
    if args.json:
        write_json(args.json, record)


if __name__ == "__main__":
    main()
