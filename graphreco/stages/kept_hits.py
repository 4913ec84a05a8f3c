"""The hits that the hit selection before a stage kept, for the stages that work on them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..io import EventBatch
from ..kernels import select_hits
from .inputs import StageInput


def kept_hits(inputs: StageInput, threshold: float, min_hits: int, hit_columns: tuple[str, ...] = ()) -> EventBatch:
    """The batch's events holding only the hits with ``hit_score >= threshold`` (topped
    up per event with its best-scored hits to ``min_hits``, ``kernels.select_hits``).

    Args:
        inputs: the batch and the columns of earlier stages (``hit_score`` among them).
        threshold: the lowest ``hit_score`` kept.
        min_hits: the fewest hits kept per event (or all it has).
        hit_columns: per-hit columns of earlier stages to carry beside the detector's
            required per-hit columns (e.g. ``hit_track_score``).
    Returns:
        An ``EventBatch`` of the same events; its per-hit columns are the detector's
        required ones and ``hit_columns``, aligned with the kept hits. It is made once per
        batch and settings (``inputs.kept``) while ``hit_score`` stays the same array.
    """
    key, score = (threshold, min_hits, tuple(hit_columns)), inputs.hit_columns["hit_score"]
    scored, selection = inputs.kept.get(key, (None, None))
    if scored is score:  # made by an earlier stage from the same scores
        return selection
    batch = inputs.batch
    hits = {column.name: batch.hits[column.name] for column in inputs.detector.columns
            if column.per_hit and column.required}
    hits |= {name: inputs.hit_columns[name] for name in hit_columns}
    selection = replace(batch, hits=hits).with_hits(select_hits(batch.offsets, score, threshold, min_hits))
    inputs.kept[key] = (score, selection)
    return selection


def too_few(offsets: np.ndarray, min_hits: int) -> np.ndarray:
    """(events,) bool: the events of CSR ``offsets`` (of kept hits) holding fewer than
    ``min_hits`` hits, or none: with the top-up of ``kept_hits`` only events with fewer
    hits than that in all. A stage gives them no estimate (NaN): a direction or core from
    fewer hits than the stage needs (one counter) would be made up, however confident."""
    return np.diff(offsets) < max(min_hits, 1)
