"""The registry of evaluation kinds and the entry point that asks the detector for its kind."""

import dataclasses

import pytest

from graphreco import detectors
from graphreco.detectors.baikal_gvd.simulation import simulate_events
from graphreco.detectors.base import EVALUATION_KINDS
from graphreco.evaluate import evaluate_files
from graphreco.evaluate.kinds import KINDS
from graphreco.io import EventFormatError, event_table, write_events


def test_every_evaluation_kind_has_a_module_with_its_figure_notes():
    assert set(KINDS) == set(EVALUATION_KINDS)
    assert all(kind.figures and all(name.endswith(".png") for name in kind.figures) for kind in KINDS.values())


def test_a_detector_without_an_evaluation_kind_is_refused_by_name(tmp_path):
    detectors.register(dataclasses.replace(detectors.get("baikal-gvd"), name="no-kind", evaluation=None))
    try:
        truth = tmp_path / "truth.parquet"
        write_events(truth, event_table(**simulate_events(3, seed=1).columns()), "no-kind")
        with pytest.raises(EventFormatError, match="'no-kind' declares no evaluation kind"):
            evaluate_files(truth, truth)
    finally:
        detectors.unregister("no-kind")
