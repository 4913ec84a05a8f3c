"""The evaluation kinds and the one entry point of ``graphreco evaluate``.

A detector names its kind in ``Detector.evaluation`` (one of
``detectors.base.EVALUATION_KINDS``); ``KINDS`` maps each kind to the module that scores
it: ``evaluate(truth, reco, plots=None) -> dict`` and ``FIGURES``, the note of each PNG it
draws. ``evaluate_files`` reads the detector from the truth file and asks the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from .. import progress
from ..io import EventFormatError
from ..io.parquet import open_parquet
from ..io.reader import open_event_file
from . import air_showers, hits, neutrino_events, pileup
from .plotting import FigureNote


class Kind(NamedTuple):
    """How one kind is scored: ``evaluate(truth, reco, plots)`` -> the figures (with
    ``plots``, the PNGs drawn into that folder, listed under ``plots``) and the
    ``figures`` notes of those PNGs by file name."""

    evaluate: Callable[[str | Path, str | Path, str | Path | None], dict]
    figures: dict[str, FigureNote]


KINDS = {
    "hits": Kind(hits.evaluate, hits.FIGURES),
    "neutrino_events": Kind(neutrino_events.evaluate, neutrino_events.FIGURES),
    "air_showers": Kind(air_showers.evaluate, air_showers.FIGURES),
    "pileup": Kind(pileup.evaluate, pileup.FIGURES),
}
"""Evaluation kind (``Detector.evaluation``) -> how it is scored."""


def kind_of(truth: str | Path) -> Kind:
    """The evaluation kind of the detector of the event file ``truth``;
    ``EventFormatError`` when that detector declares none."""
    detector = open_event_file(truth)[1]
    if detector.evaluation is None:
        raise EventFormatError(str(truth), f"detector {detector.name!r} declares no evaluation kind "
                                           "(Detector.evaluation): it cannot be evaluated")
    return KINDS[detector.evaluation]


def evaluate_files(truth: str | Path, reco: str | Path, plots: str | Path | None = None,
                   geometry: str | Path | None = None) -> dict:
    """Figures of the reconstruction ``reco`` and of the classical methods against the
    truth in ``truth`` (the input that was reconstructed, with its ``true_*``, read
    against the geometry file ``geometry`` where given), as the detector's evaluation
    kind scores them; with ``plots``, the PNGs drawn into that folder, listed under
    ``plots``. The events of ``truth`` are announced to the progress bar (``graphreco.progress``),
    which the kind advances as it scores them."""
    kind = kind_of(truth)
    progress.expect(open_parquet(truth).metadata.num_rows)
    return kind.evaluate(truth, reco, plots, geometry)
