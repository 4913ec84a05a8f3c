"""``EventBatch``: a block of events in CSR form, as the reader yields it."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from ..detectors import DetectorConfiguration


def event_of_hit(offsets: np.ndarray, hit: int) -> int:
    """The index of the event holding hit ``hit``, given the events' CSR ``offsets``."""
    return int(np.searchsorted(offsets, hit, side="right") - 1)


@dataclass(frozen=True)
class EventBatch:
    """Events of one record batch of one file.

    ``offsets`` (n_events + 1) are the Arrow list offsets rebased to start at 0: the hits
    of event ``e`` are ``offsets[e]:offsets[e + 1]`` in every array of ``hits``. ``hits``
    and ``events`` hold the detector's contract columns present in the file as numpy
    arrays in the contract's dtypes; ``record_batch`` is the batch as read, for carrying
    any other column through. ``configuration`` is the detector configuration the file is
    read against (every hit sits on one of its live sensors; None for a detector without
    fixed sensors): fits that need the sensors without hits take it from here.
    """

    detector: str
    source: str
    event_id: np.ndarray
    offsets: np.ndarray
    hits: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    record_batch: pa.RecordBatch
    configuration: DetectorConfiguration | None = None

    @property
    def n_events(self) -> int:
        return int(self.event_id.size)

    @property
    def n_hits(self) -> int:
        return int(self.offsets[-1])

    @property
    def hits_per_event(self) -> np.ndarray:
        return np.diff(self.offsets)

    def with_hits(self, keep: np.ndarray) -> EventBatch:
        """The same events holding only the hits where ``keep`` is true (per-hit arrays
        and offsets subset; ``record_batch`` stays the batch as read)."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.n_hits,):
            raise ValueError(f"keep has shape {keep.shape}, expected ({self.n_hits},)")
        kept_before = np.zeros(self.n_hits + 1, dtype=np.int64)
        np.cumsum(keep, out=kept_before[1:])
        return replace(self, offsets=kept_before[self.offsets],
                       hits={name: values[keep] for name, values in self.hits.items()})

    def slice(self, start: int, stop: int) -> EventBatch:
        """Events ``start:stop`` of the batch (hit and event columns are views; offsets
        rebased to 0)."""
        first, last = int(self.offsets[start]), int(self.offsets[stop])
        return replace(self, event_id=self.event_id[start:stop], offsets=self.offsets[start:stop + 1] - first,
                       hits={name: values[first:last] for name, values in self.hits.items()},
                       events={name: values[start:stop] for name, values in self.events.items()},
                       record_batch=self.record_batch.slice(start, stop - start))
