"""Score a pipeline's posterior stage on held-out events: HPD coverage, interval coverage,
90 % region areas beside the point estimate's cone, and what sampling costs.

    python scripts/score_posterior.py PIPELINE_DIR TEST.parquet... [--samples 512] [--throughput] [--json OUT.json]

Populations: Baikal-GVD numu CC with >= 10 signal hits and nue CC; TA SD the events
passing the standard cuts (``evaluate.shower_metrics.selected``). Each population is
scored twice from the same samples: with the flow's exact density
(``Posterior.log_density``) and with the kernel estimate ``graphreco evaluate`` uses
(``evaluate.posteriors.posterior_levels``). Each test file (a condition of the
conditions matrix, say) is scored on its own, read against its own geometry file. With
``--throughput``, ``reconstruct_file`` on the first test file is timed without samples
and with ``--samples`` per event, alternately, in the same run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from graphreco import detectors
from graphreco.evaluate.posteriors import posterior_figures, posterior_levels
from graphreco.evaluate.resolution import signal_hits
from graphreco.evaluate.shower_metrics import selected
from graphreco.graph import build_graph
from graphreco.io import read_events
from graphreco.pipeline import Pipeline
from graphreco.run.file import reconstruct_file
from graphreco.stages import StageInput
from graphreco.statistics import opening_angle, unit_vectors


def collect(pipeline: Pipeline, test: Path, samples: int) -> dict[str, np.ndarray]:
    """Per event of ``test``: truth, point estimate, and the direction HPD levels, energy
    levels and 90 % areas, exact (``exact_*``) and estimated from the samples (``kde_*``)."""
    posterior = next(stage for stage in pipeline.stages.values() if stage.on_request)
    parts: dict[str, list[np.ndarray]] = {}
    torch.manual_seed(1)
    for batch in read_events(test, batch_size=512):
        inputs = StageInput(batch, pipeline.detector, build_graph(batch, pipeline.detector))
        pipeline.run(inputs)  # every stage but the posterior (no samples asked for)
        truth_energy = np.log10(batch.events["true_energy"])
        with torch.inference_mode():
            stage_graph = posterior.input_graph(inputs)
            drawn, exact = posterior.truth_levels(stage_graph, samples, batch.events["true_zenith"],
                                                  batch.events["true_azimuth"], truth_energy)
        reco = {column: np.asarray(inputs.event_columns[column], dtype=np.float64)
                for column in ("reco_zenith", "reco_azimuth", "reco_angle_sigma")}
        kde_levels, kde_energy, kde_areas = posterior_levels(reco | drawn, batch.events["true_zenith"],
                                                             batch.events["true_azimuth"], truth_energy)
        values = {"exact_levels": exact["direction"], "exact_areas": exact["area_90"], "energy_levels": exact["energy"],
                  "kde_levels": kde_levels, "kde_energy": kde_energy, "kde_areas": kde_areas,
                  "valid": stage_graph.values["valid"], **reco,
                  **{column: batch.events[column] for column in batch.events if column.startswith("true_")}}
        if "true_label" in batch.hits:
            values["signal_hits"] = signal_hits(batch.offsets, batch.hits["true_label"])
        if pipeline.detector.name == "ta-sd":
            cuts = pipeline.detector.shower_cuts
            values["shower_counters"] = signal_hits(batch.offsets, batch.hits["true_label"] == 1)
            values["edge_distance"] = cuts.distance_to_edge(batch.events["true_core_x"], batch.events["true_core_y"],
                                                            batch.configuration)
        for key, value in values.items():
            parts.setdefault(key, []).append(np.asarray(value))
    return {key: np.concatenate(value) for key, value in parts.items()}


def populations(detector: str, c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The populations the posterior issue scores (bool masks over events)."""
    if detector == "baikal-gvd":
        kind = c["true_kind"].astype(str)
        return {"numu_cc_10_signal_hits": (kind == "numu_cc") & (c["signal_hits"] >= 10), "nue_cc": kind == "nue_cc"}
    return {"standard_cuts": selected(c, detectors.get(detector).shower_cuts)}


def score(c: dict[str, np.ndarray], mask: np.ndarray) -> dict:
    """Exact and kernel-estimated figures of one population."""
    chosen = mask & c["valid"]
    error = opening_angle(unit_vectors(c["true_zenith"][chosen], c["true_azimuth"][chosen]),
                          unit_vectors(c["reco_zenith"][chosen], c["reco_azimuth"][chosen]))
    cone = c["reco_angle_sigma"][chosen]
    return {"exact_density": posterior_figures(c["exact_levels"][chosen], c["energy_levels"][chosen],
                                               c["exact_areas"][chosen], error, cone),
            "kernel_estimate": posterior_figures(c["kde_levels"][chosen], c["kde_energy"][chosen],
                                                 c["kde_areas"][chosen], error, cone)}


def throughput(pipeline: Pipeline, test: Path, samples: int) -> dict:
    """events/s of ``reconstruct_file`` on ``test`` without and with posterior samples."""
    rates: dict[str, float] = {}
    runs = (("without", pipeline), (f"with_{samples}", pipeline.with_posterior(samples)))
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(3):  # the first round warms caches up and is not counted
            for label, chosen in runs:
                start = time.perf_counter()
                events = reconstruct_file(chosen, test, Path(folder) / f"{label}-{repeat}.parquet")["events"]
                if repeat:
                    rates[label] = max(rates.get(label, 0.0), round(events / (time.perf_counter() - start), 1))
    return rates | {"ratio": round(rates[f"with_{samples}"] / rates["without"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline", type=Path)
    parser.add_argument("tests", type=Path, nargs="+")
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--throughput", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pipeline = Pipeline.load(args.pipeline)
    report = {"pipeline": str(args.pipeline), "samples": args.samples, "tests": {}}
    for test in args.tests:
        c = collect(pipeline, test, args.samples)
        report["tests"][test.name] = {name: score(c, mask)
                                      for name, mask in populations(pipeline.detector.name, c).items()}
    if args.throughput:
        report["throughput_events_per_s"] = throughput(pipeline, args.tests[0], args.samples)
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
