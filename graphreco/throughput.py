"""Timed read -> validate -> graph loop: what ``graphreco graphs`` prints and what the
benchmark measures."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from . import detectors
from .io import read_events
from .io.reader import DEFAULT_BATCH_EVENTS


def measure_graph_building(sources: str | Path | Iterable[str | Path], detector: str | None = None,
                           batch_size: int = DEFAULT_BATCH_EVENTS, assemble: bool = True,
                           geometry: str | Path | None = None) -> dict:
    """Stream ``sources`` through read + validate (against the geometry file ``geometry``
    where given), the detector's graph and node features (and the ``GraphBatch`` when
    ``assemble``); count and time each step (s).

    The kernels are compiled (or loaded from numba's cache) on the first few events
    before timing starts; ``warm_up_s`` says how long that took.
    """
    if assemble:
        from .graph import build_graph
    seconds = {"read_validate": 0.0, "edges": 0.0, "features_batch": 0.0}
    events = hits = edges = 0
    stream = read_events(sources, detector=detector, batch_size=batch_size, geometry=geometry)
    tick = time.perf_counter()
    first = next(read_events(sources, detector=detector, batch_size=16, geometry=geometry), None)
    if first is not None:  # compile (or load from cache) the kernels before timing
        detectors.get(first.detector).build_edges(first.offsets.astype(np.int64), first.hits)
    warm_up = time.perf_counter() - tick
    while True:
        tick = time.perf_counter()
        batch = next(stream, None)
        seconds["read_validate"] += time.perf_counter() - tick
        if batch is None:
            break
        resolved = detectors.get(batch.detector)
        tick = time.perf_counter()
        edge_index = resolved.build_edges(batch.offsets.astype(np.int64), batch.hits)
        seconds["edges"] += time.perf_counter() - tick
        tick = time.perf_counter()
        if assemble:
            build_graph(batch, resolved, edge_index)
        else:
            resolved.node_feature_matrix(batch.offsets, batch.hits, batch.events)
        seconds["features_batch"] += time.perf_counter() - tick
        events, hits, edges = events + batch.n_events, hits + batch.n_hits, edges + edge_index.shape[1]
    return {"events": events, "hits": hits, "edges": edges, "seconds": seconds, "warm_up_s": warm_up}
