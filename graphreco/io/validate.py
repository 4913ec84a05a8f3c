"""Checks of event files against the contract, at the boundary where data enters.

``check_schema`` runs once per file (missing and mistyped columns); ``to_event_batch``
runs on every record batch (null or unequal hit lists, NaN/inf, values outside a column's
physical ``bounds``, duplicate ``event_id``) and converts it to an :class:`EventBatch`
without copying what is already in the contract's dtype; hit times stored in a wider type
(float64, int64) are narrowed relative to their event's earliest hit, so that a large
common offset costs no precision.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..detectors import Column, Detector
from .batch import EventBatch, event_of_hit
from .errors import EventFormatError


def _is_list(arrow_type: pa.DataType) -> bool:
    return pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)


def _value_type_fits(arrow_type: pa.DataType, dtype: str) -> bool:
    if dtype == "string":
        return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
    if dtype.startswith("float"):
        return pa.types.is_floating(arrow_type) or pa.types.is_integer(arrow_type)
    return pa.types.is_integer(arrow_type)


def _describe(column: Column) -> str:
    return f"list<{column.dtype}>" if column.per_hit else column.dtype


def check_schema(schema: pa.Schema, detector: Detector, file: str, declared: str | None) -> None:
    """Reject a file whose columns cannot be read as ``detector``'s event format."""
    if "event_id" not in schema.names:
        raise EventFormatError(file, "required column is missing", column="event_id")
    if not pa.types.is_integer(schema.field("event_id").type):
        raise EventFormatError(file, f"expected int64, found {schema.field('event_id').type}", column="event_id")
    for column in detector.columns:
        if column.name not in schema.names:
            if column.required:
                hint = f" (the file declares detector {declared!r})" if declared and declared != detector.name else ""
                raise EventFormatError(file, f"required column of {detector.name} is missing{hint}", column=column.name)
            continue
        arrow_type = schema.field(column.name).type
        value_type = arrow_type.value_type if _is_list(arrow_type) else arrow_type
        if _is_list(arrow_type) != column.per_hit or not _value_type_fits(value_type, column.dtype):
            raise EventFormatError(file, f"expected {_describe(column)}, found {arrow_type}", column=column.name)


def int64_event_ids(values: np.ndarray, file: str) -> np.ndarray:
    """Integer event ids as int64; refused where beyond int64 (uint64, e.g. NanoAOD's)."""
    beyond = values > np.iinfo(np.int64).max
    if beyond.any():
        raise EventFormatError(file, f"value {values[np.argmax(beyond)]} does not fit int64", column="event_id")
    return values.astype(np.int64, copy=False)


def _event_ids(record_batch: pa.RecordBatch, file: str) -> np.ndarray:
    """The batch's ``event_id`` as int64; refused where null or beyond int64."""
    ids = record_batch.column("event_id")
    if ids.null_count:
        raise EventFormatError(file, "event_id is null", column="event_id")
    return int64_event_ids(ids.to_numpy(), file)


class _BatchChecker:
    """Converts one record batch, naming the first bad event of any violation."""

    def __init__(self, record_batch: pa.RecordBatch, file: str):
        self.record_batch, self.file = record_batch, file
        self.event_id = _event_ids(record_batch, file)

    def fail(self, column: str, problem: str, event_index: int) -> EventFormatError:
        return EventFormatError(self.file, problem, column=column, event_id=int(self.event_id[event_index]))

    def hit_column(self, column: Column) -> tuple[np.ndarray, np.ndarray]:
        """Rebased offsets and the flat values of a per-hit column."""
        array = self.record_batch.column(column.name)
        if array.null_count:
            raise self.fail(column.name, "hit list is null",
                            int(np.argmax(array.is_null().to_numpy(zero_copy_only=False))))
        offsets = array.offsets.to_numpy()
        start = int(offsets[0])
        flat = array.values.slice(start, int(offsets[-1]) - start)
        if start:
            offsets = offsets - start
        if flat.null_count:
            first_null = int(np.argmax(flat.is_null().to_numpy(zero_copy_only=False)))
            raise self.fail(column.name, "hit value is null", event_of_hit(offsets, first_null))
        values = flat.to_numpy(zero_copy_only=False)
        return offsets, self.cast(column, values, offsets)

    def event_column(self, column: Column) -> np.ndarray:
        array = self.record_batch.column(column.name)
        if array.null_count:
            raise self.fail(column.name, "value is null",
                            int(np.argmax(array.is_null().to_numpy(zero_copy_only=False))))
        values = array.to_numpy(zero_copy_only=False)
        return values if column.dtype == "string" else self.cast(column, values, None)

    def cast(self, column: Column, values: np.ndarray, offsets: np.ndarray | None) -> np.ndarray:
        """``values`` (per hit when ``offsets`` are given) in the column's dtype. Refused:
        integers outside it, infinities, floats beyond it (float32), NaN in a ``finite``
        column (elsewhere NaN marks a missing value, like the dz of a neutral) and values
        outside the column's ``bounds``. A ``per_event_offset`` column stored in a wider
        type than its dtype is narrowed as each value less its event's earliest."""
        target = np.dtype(column.dtype)
        if target.kind == "i":
            info = np.iinfo(target)
            self.refuse(column, values, offsets, (values < info.min) | (values > info.max), f"does not fit {target}")
        if target.kind == "f":
            self.refuse(column, values, offsets, ~np.isfinite(values) if column.finite else np.isinf(values),
                        "is not finite")
        narrowed, per_event_offset = values, column.per_event_offset and offsets is not None
        if per_event_offset:
            relative = since_earliest(values, offsets)
            self.refuse_outside(column, values, offsets, relative, " after the event's earliest hit")
            if not np.can_cast(values.dtype, target):
                narrowed = relative
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused next
            converted = narrowed.astype(target, copy=False)
        if target.kind == "f" and narrowed.dtype != target:
            self.refuse(column, values, offsets, np.isinf(converted), f"does not fit {target}")
        if not per_event_offset:
            self.refuse_outside(column, values, offsets, values, "")
        return converted

    def refuse(self, column: Column, values: np.ndarray, offsets: np.ndarray | None, bad: np.ndarray,
               problem: str) -> None:
        """Raise for the first ``bad`` value, naming its event (its hit's with ``offsets``)."""
        if bad.any():
            first = int(np.argmax(bad))
            event = event_of_hit(offsets, first) if offsets is not None else first
            raise self.fail(column.name, f"value {values[first]} {problem}", event)

    def refuse_outside(self, column: Column, values: np.ndarray, offsets: np.ndarray | None,
                       checked: np.ndarray, relation: str) -> None:
        """Raise for the first value whose ``checked`` form (the value itself, or its
        distance from the event's earliest, as ``relation`` says) lies outside the
        column's ``bounds``, naming the file's value and its event."""
        if column.bounds is None:
            return
        low, high = column.bounds
        outside = (checked < low) | (checked > high)  # NaN, where allowed, is neither
        if outside.any():
            first = int(np.argmax(outside))
            event = event_of_hit(offsets, first) if offsets is not None else first
            shown = f"value {values[first]:.8g}" + (f" is {checked[first]:.8g}{relation}," if relation else "")
            raise self.fail(column.name, f"{shown} outside the physical range [{low:g}, {high:g}]", event)


def since_earliest(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Each hit's value less the smallest of its event's (``offsets``: the events' CSR
    offsets into ``values``): exact for integers (as uint64, since ``0 <= difference <
    2**64`` whatever the int64 values), in float64 for floats (inf where the difference
    is beyond float64)."""
    sizes = np.diff(offsets)
    filled = sizes > 0
    starts = offsets[:-1][filled]
    if values.dtype.kind in "iu":
        wide = values.astype(np.int64 if values.dtype.kind == "i" else np.uint64, copy=False)
    else:
        wide = values.astype(np.float64, copy=False)
    if not starts.size:
        return np.zeros(values.size, dtype=np.uint64 if values.dtype.kind in "iu" else np.float64)
    earliest = np.repeat(np.minimum.reduceat(wide, starts), sizes[filled])
    if wide.dtype.kind in "iu":
        return (wide - earliest).view(np.uint64)  # int64 differences wrap; as uint64 they are exact
    with np.errstate(over="ignore", invalid="ignore"):
        return wide - earliest


def refuse_duplicate_ids(ids: np.ndarray, seen: set[int], file: str) -> None:
    """Refuse an event id of ``ids`` already in ``seen`` (the file's ids so far) or twice
    in ``ids``, naming it; else add ``ids`` to ``seen``."""
    duplicate = _first_duplicate(ids, seen)
    if duplicate is not None:
        raise EventFormatError(file, "duplicate event_id", column="event_id", event_id=int(ids[duplicate]))
    seen.update(ids.tolist())


def _first_duplicate(ids: np.ndarray, seen: set[int]) -> int | None:
    """Index of the first id already seen earlier in the file or in this batch, else None."""
    unique, counts = np.unique(ids, return_counts=True)
    if counts.size and counts.max() > 1 or not seen.isdisjoint(unique.tolist()):
        earlier: set[int] = set()
        for position, value in enumerate(ids.tolist()):
            if value in seen or value in earlier:
                return position
            earlier.add(value)
    return None


def refuse_duplicate_hits(batch: EventBatch, detector: Detector, sensors: np.ndarray, n_sensors: int) -> None:
    """Refuse an event holding two hits on one sensor (``sensors``: each hit's index among
    the ``n_sensors`` of the detector configuration) at the same time (the detector's
    ``per_event_offset`` column), naming the file, the time column and the event. A
    sensor's readout gives one pulse per start time, so such hits are a copy of one hit,
    never a measurement; kept, they made degenerate events (60 copies of one hit scored
    as signal with certainty) and graphs of every pair of hits."""
    times = [column.name for column in detector.columns if column.per_event_offset and column.name in batch.hits]
    if not times or batch.n_hits < 2:
        return
    bits = (batch.hits[times[0]].astype(np.float32) + np.float32(0.0)).view(np.uint32)  # + 0: -0.0 is 0.0
    per_key = max(1, 2**32 // max(n_sensors, 1))
    for first in range(0, batch.n_events, per_key):  # (event, sensor) in a key's upper 32 bits, time below
        last = min(first + per_key, batch.n_events)
        lo, hi = int(batch.offsets[first]), int(batch.offsets[last])
        pair = np.repeat(np.arange(last - first, dtype=np.uint64) * np.uint64(n_sensors),
                         batch.hits_per_event[first:last]) + sensors[lo:hi].astype(np.uint64)
        key = pair << np.uint64(32) | bits[lo:hi].astype(np.uint64)
        ordered = np.sort(key)
        if (ordered[1:] == ordered[:-1]).any():
            repeat = np.ones(key.size, dtype=bool)
            repeat[np.unique(key, return_index=True)[1]] = False
            hit = lo + int(np.argmax(repeat))  # the first hit that repeats an earlier one of its event
            where = ", ".join(f"{batch.hits[name][hit]:.8g}" for name in ("x", "y", "z") if name in batch.hits)
            event = event_of_hit(batch.offsets, hit)
            raise EventFormatError(batch.source, f"duplicate hit: two hits on the sensor at ({where}) m at the same "
                                                 "time", column=times[0], event_id=int(batch.event_id[event]))


def to_event_batch(record_batch: pa.RecordBatch, detector: Detector, file: str,
                   seen_ids: set[int]) -> EventBatch:
    """Validate a record batch and convert it; ``seen_ids`` collects the file's event ids."""
    checker = _BatchChecker(record_batch, file)
    names = set(record_batch.schema.names)
    offsets, hits, events, reference = None, {}, {}, None
    for column in detector.columns:
        if column.name not in names:
            continue
        if not column.per_hit:
            events[column.name] = checker.event_column(column)
            continue
        column_offsets, hits[column.name] = checker.hit_column(column)
        if offsets is None:
            offsets, reference = column_offsets, column.name
        elif not np.array_equal(column_offsets, offsets):
            lengths_differ = np.diff(column_offsets) != np.diff(offsets)
            raise checker.fail(column.name, f"hit list length differs from column {reference!r}",
                               int(np.argmax(lengths_differ)))
    if offsets is None:
        offsets = np.zeros(record_batch.num_rows + 1, dtype=np.int32)
    elif detector.max_hits_per_event is not None and offsets.size > 1:
        sizes = np.diff(offsets)
        if sizes.max() > detector.max_hits_per_event:
            first = int(np.argmax(sizes > detector.max_hits_per_event))
            raise checker.fail(reference, f"{sizes[first]:,} hits in one event, more than the "
                               f"{detector.max_hits_per_event:,} a {detector.name} event may hold", first)
    refuse_duplicate_ids(checker.event_id, seen_ids, file)
    return EventBatch(detector=detector.name, source=file, event_id=checker.event_id, offsets=offsets,
                      hits=hits, events=events, record_batch=record_batch)
