"""Fixtures shared by the tests: small simulated samples of each detector, in Parquet.

``simulated_file`` writes a sample once per test session and hands out its path (read
it, never write to it); ``training_folder`` copies samples into a fresh folder as
``train.parquet`` and ``validation.parquet``, where a test's ``graphreco train`` config,
pipeline and reconstructions go.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from graphreco.detectors import SimulatedEvents
from graphreco.detectors.baikal_gvd import simulation as baikal_gvd
from graphreco.detectors.lhc_pf import simulation as lhc_pf
from graphreco.detectors.ta_sd import simulation as ta_sd
from graphreco.io import event_table, write_events

SIMULATORS: dict[str, Callable[..., SimulatedEvents]] = {
    "baikal-gvd": baikal_gvd.simulate_events, "ta-sd": ta_sd.simulate_events, "lhc-pf": lhc_pf.simulate_events}
"""Each detector's ``simulate_events(n_events, seed=..., **options)``."""


@pytest.fixture(scope="session")
def simulated_file(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``simulated_file(detector, n_events, seed, **options) -> Path``: a Parquet file of
    ``n_events`` events of ``detector`` simulated with ``seed`` (``options`` go to its
    ``simulate_events``), written on first request and shared by the whole session."""
    written: dict[str, Path] = {}

    def simulated(detector: str, n_events: int, seed: int, **options) -> Path:
        key = repr((detector, n_events, seed, sorted(options.items())))
        if key not in written:
            path = tmp_path_factory.mktemp(detector) / f"{n_events}-events-seed{seed}.parquet"
            events = SIMULATORS[detector](n_events, seed=seed, **options)
            write_events(path, event_table(**events.columns()), detector)
            written[key] = path
        return written[key]

    return simulated


@pytest.fixture(scope="session")
def training_folder(tmp_path_factory: pytest.TempPathFactory,
                    simulated_file: Callable[..., Path]) -> Callable[..., Path]:
    """``training_folder(detector, n_events, seeds=(train, validation)) -> Path``: a new
    folder holding ``train.parquet`` and ``validation.parquet``, ``n_events`` simulated
    events each (the two seeds), for configs that name them relative to the folder."""

    def folder(detector: str, n_events: int, seeds: tuple[int, int]) -> Path:
        target = tmp_path_factory.mktemp(f"{detector}-training")
        for name, seed in zip(("train", "validation"), seeds, strict=True):
            shutil.copyfile(simulated_file(detector, n_events, seed), target / f"{name}.parquet")
        return target

    return folder
