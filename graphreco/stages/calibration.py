"""Uncertainty calibration per bin: the scales that make a stage's uncertainties cover.

A stage's uncertainties (68 % cones and circles, 1-sigma energy intervals) are multiplied
by scales fixed on a validation sample, one per group of events (cascade-like,
track-like, refitted, combined) and per calibration bin. The bins are the number of kept
hits (< 10, 10-19, >= 20), since faint and bright events are misjudged in opposite
directions, and, where the stage asks for it, whether the event passes the detector's
fiducial cut on its reconstructed zenith and core (``Detector.fiducial``): air showers
clipped by the array's edge or inclined have the worse-judged uncertainties.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch

from ..statistics import calibration_scale

HIT_BIN_EDGES = (10, 20)
"""Bins of kept hits (< 10, 10-19, >= 20), each with its own scales: the refit's
covariance cone is too small for bright muons, whose stochastic losses the single-track
time model misses, and too large for faint ones (one scale covered 0.55 and 0.77); the
GNN cone of faint cascades was too small (0.47-0.55 with one scale)."""
N_HIT_BINS = len(HIT_BIN_EDGES) + 1
MIN_EVENTS_PER_BIN = 20
"""A bin with fewer validation events takes its group's overall scale."""
MIN_REFERENCE_EVENTS = 100
"""The fewest labelled reference events ``graphreco calibrate`` fixes a scale from: the
68 % quantile of 100 errors is known to ~6 % (binomial: sqrt(0.68 * 0.32 / 100) = 0.047
in coverage), a median offset to ~0.13 of the errors' width."""


class TooFewReferenceEvents(ValueError):
    """The labelled reference events are too few for what they are asked to fix; the
    message says how many there are and how many it takes."""


def n_bins(fiducial: bool) -> int:
    """Calibration bins: of kept hits, and with ``fiducial`` each inside and outside the cut."""
    return N_HIT_BINS * (2 if fiducial else 1)


def calibration_bins(kept_hits: np.ndarray, inside: np.ndarray | None = None) -> np.ndarray:
    """Each event's calibration bin (events,) int: the bin of its kept hits (events,),
    plus ``N_HIT_BINS`` where it is ``inside`` the fiducial cut (when given)."""
    bins = np.digitize(kept_hits, HIT_BIN_EDGES)
    return bins if inside is None else bins + N_HIT_BINS * np.asarray(inside, dtype=bool)


def initial_scales(names: Sequence[str], given: Mapping[str, Sequence[float] | None], bins: int) -> dict:
    """The scales of ``names`` from ``given`` (1 in every bin where None), each checked to
    hold one scale per bin; ``ValueError`` names one that does not."""
    scales = {}
    for name in names:
        values = given.get(name)
        scales[name] = [1.0] * bins if values is None else [float(value) for value in values]
        if len(scales[name]) != bins:
            raise ValueError(f"{name} needs {bins} scales (one per calibration bin), got {len(scales[name])}")
    return scales


class Group(NamedTuple):
    """The events one scale serves: their ``errors`` and ``uncertainties`` (events,), the
    ``members`` (events,) bool it is fitted on, and the containment ``target``."""

    errors: np.ndarray
    uncertainties: np.ndarray
    members: np.ndarray
    target: float


def fit_scales(groups: Mapping[str, Group], bins: np.ndarray, n_bins: int) -> tuple[dict, dict]:
    """Per group, the scale in each bin that makes the uncertainties of its members there
    contain ``target`` of the errors (``statistics.calibration_scale``); a bin with fewer
    than ``MIN_EVENTS_PER_BIN`` members takes the group's overall scale (1 without
    members). Returns the scales and the members per bin, by group name."""
    scales, counts = {}, {}
    for name, group in groups.items():
        members = group.members
        overall = (calibration_scale(group.errors[members], group.uncertainties[members], group.target)
                   if members.any() else 1.0)
        in_bin = [members & (bins == b) for b in range(n_bins)]
        counts[name] = [int(np.sum(chosen)) for chosen in in_bin]
        scales[name] = [calibration_scale(group.errors[chosen], group.uncertainties[chosen], group.target)
                        if count >= MIN_EVENTS_PER_BIN else overall for chosen, count in zip(in_bin, counts[name])]
    return scales, counts


def estimate_all(estimates: Callable[..., tuple], stage_graphs: Sequence) -> tuple:
    """``estimates`` of every graph (without gradients), concatenated over the graphs:
    the columns by name, then each per-event array it returns beside them."""
    with torch.inference_mode():
        pieces = [estimates(stage_graph) for stage_graph in stage_graphs]
    columns = {name: np.concatenate([piece[0][name] for piece in pieces]) for name in pieces[0][0]}
    return (columns, *(np.concatenate([piece[k] for piece in pieces]) for k in range(1, len(pieces[0]))))
