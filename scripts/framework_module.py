"""A framework-style module around ``graphreco.Reconstructor``: configure once, process
each event as the framework hands it over, finish with a summary.

    python scripts/framework_module.py EVENTS.parquet [--detector NAME] [--events N]

The driver below plays the framework: it reads events one at a time from a file in the
event format and hands each to ``process`` as plain numpy arrays (what an experiment's
event loop has), then compares the per-event outputs with those of one batch call.
Prints JSON: events, events/s per event and per batch, and how many events differ (beyond
float32 rounding: a fit started from a network output that differs in its last bits with
the batch's size can land in another minimum; 1 of 300 Baikal-GVD events did).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import graphreco
from graphreco import detectors
from graphreco.io import read_events


class GraphRecoModule:
    """configure / process / finish, as an experiment framework calls its modules."""

    def configure(self, detector: str, threads: int = 1) -> None:
        self.reconstructor = graphreco.Reconstructor(detector, threads=threads)
        definition = detectors.get(detector)
        self.hit_columns = [c.name for c in definition.columns if c.per_hit and c.required]
        self.event_columns = [c.name for c in definition.columns if not c.per_hit and c.required]
        self.events, self.seconds = 0, 0.0

    def process(self, event_id: int, hits: dict[str, np.ndarray], event: dict[str, float]) -> dict:
        start = time.perf_counter()
        output = self.reconstructor.reconstruct_event({name: hits[name] for name in self.hit_columns},
                                                      {name: event[name] for name in self.event_columns}, event_id)
        self.seconds += time.perf_counter() - start
        self.events += 1
        return output

    def finish(self) -> dict:
        return {"events": self.events, "events_per_s_one_at_a_time": round(self.events / max(self.seconds, 1e-9), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", help="a Parquet file in the event format")
    parser.add_argument("--detector", default=None, help="default: the file's")
    parser.add_argument("--events", type=int, default=200, dest="n_events", help="events to process")
    args = parser.parse_args()
    batch = next(read_events(args.events, detector=args.detector, batch_size=args.n_events))
    module = GraphRecoModule()
    module.configure(batch.detector)
    outputs = []
    for e in range(batch.n_events):
        lo, hi = batch.offsets[e], batch.offsets[e + 1]
        outputs.append(module.process(int(batch.event_id[e]),
                                      {name: values[lo:hi] for name, values in batch.hits.items()},
                                      {name: values[e] for name, values in batch.events.items()}))
    summary = module.finish()
    start = time.perf_counter()
    table = module.reconstructor.reconstruct_table(batch.record_batch)
    summary["events_per_s_one_batch"] = round(batch.n_events / (time.perf_counter() - start), 1)
    differing = np.zeros(batch.n_events, dtype=bool)
    for name in outputs[0]:
        batched = table.column(name).to_pylist()
        for e, output in enumerate(outputs):
            differing[e] |= not np.allclose(np.atleast_1d(output[name]), np.atleast_1d(batched[e]),
                                            rtol=1e-5, atol=1e-3, equal_nan=True)
    summary["events_differing_from_the_batch_call"] = int(differing.sum())
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
