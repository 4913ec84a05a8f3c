"""What domain-adversarial training recovers: Baikal-GVD hit selection at doubled noise.

    python scripts/domain_adaptation_baikal.py [--epochs 3] [--weight 0.3] [--data data/baikal-gvd]

The shipped hit-selection stage (trained at 40 kHz) is fine-tuned twice on the same
labelled 40 kHz training sample with the same settings: once plainly (the control) and
once with the domain-adversarial term (graphreco.train.domain) fed by 10,000 events simulated
at 80 kHz whose truth columns are removed before training sees them. Both are scored on
the held-out test samples at 40 and 80 kHz (neutrino events: precision and recall at
hit_score >= 0.5, AUC). Needs the samples of scripts/train_baikal.py; prints JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from graphreco import detectors
from graphreco.detectors.baikal_gvd.simulation import Conditions, simulate_events
from graphreco.evaluate import precision_recall, roc_auc
from graphreco.evaluate.neutrino_metrics import NEUTRINO_KINDS
from graphreco.io import event_table, read_events, write_events
from graphreco.pipeline import Pipeline
from graphreco.train.loop import TrainConfig, load_graphs, train

UNLABELLED = (10_000, 909, Conditions(noise_rate_hz=80e3))
"""Events, seed and condition of the unlabelled shifted sample (seed unused elsewhere)."""
MIX = {"numu_cc": 3.0, "nue_cc": 1.0, "nc": 1.0, "eas": 8.0}


def unlabelled_sample(folder: Path) -> Path:
    """The 80 kHz sample with every ``true_*`` column dropped."""
    path = folder / "unlabelled_noise80khz.parquet"
    if not path.exists():
        events, seed, conditions = UNLABELLED
        table = event_table(**simulate_events(events, seed=seed, mix=MIX, conditions=conditions).columns())
        write_events(path, table.drop([name for name in table.column_names if name.startswith("true_")]), "baikal-gvd")
    return path


def score(model, path: Path) -> dict:
    pipeline = Pipeline(detectors.get("baikal-gvd"), {"hit_selection": model})
    signal, scores = [], []
    for batch in read_events(path, batch_size=1024):
        neutrino = np.repeat(np.isin(batch.events["true_kind"].astype(str), NEUTRINO_KINDS), batch.hits_per_event)
        hits, _ = pipeline.reconstruct(batch)
        signal.append((batch.hits["true_label"] > 0)[neutrino])
        scores.append(hits["hit_score"][neutrino])
    signal, scores = np.concatenate(signal), np.concatenate(scores)
    precision, recall = precision_recall(signal, scores >= 0.5)
    return {"precision": round(precision, 4), "recall": round(recall, 4), "auc": round(roc_auc(signal, scores), 5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--weight", type=float, default=0.3, help="domain_weight of the adversarial run")
    parser.add_argument("--data", type=Path, default=Path("data/baikal-gvd"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    shipped = Path(detectors.__file__).parent / "baikal_gvd" / "artifacts"
    detector = detectors.get("baikal-gvd")

    def shipped_stage():
        return Pipeline.load_stages(shipped, detector, ["hit_selection"]).stages["hit_selection"]

    assert not {"true_label", "true_kind"} & set(pq.read_schema(unlabelled_sample(args.data)).names)
    graphs = {name: load_graphs(args.data / f"{name}.parquet", 128 if name == "train" else 512, shipped_stage())
              for name in ("train", "validation")}
    target = load_graphs(unlabelled_sample(args.data), 128, shipped_stage(), labelled=False)
    report = {"settings": {"epochs": args.epochs, "domain_weight": args.weight, "learning_rate": 1e-3}}
    runs = {"shipped": (shipped_stage(), None)}
    for name, weight in (("fine_tuned_control", 0.0), ("fine_tuned_domain_adversarial", args.weight)):
        model = shipped_stage().train()
        config = TrainConfig(epochs=args.epochs, learning_rate=1e-3, domain_weight=weight, patience=args.epochs)
        history = train(model, graphs["train"], graphs["validation"], config, args.data / "checkpoints" / name,
                        log=lambda line: print(line, flush=True), target_graphs=target)
        runs[name] = (model.eval(), history["history"])
    for name, (model, history) in runs.items():
        report[name] = {sample: score(model, args.data / f"{sample}.parquet") for sample in ("test", "test_noise80khz")}
        if history:
            report[name]["history"] = history
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
