"""Bunch crossings with pile-up: one hard interaction plus Poisson pile-up, seen by the
detector model of ``response``.

Each crossing takes a hard interaction of the chosen process (the leading interaction,
``true_label`` 1, with its underlying event) and a Poisson number of minimum-bias
interactions with mean ``mean_pileup`` (``true_label`` 0), drawn from a pre-generated
pool. A pool interaction reused in several crossings is turned by a random azimuth and
reflected in z with probability 1/2 (both symmetries of an unpolarised pp collision), so
that reused interactions do not repeat in the detector. Every interaction gets its own
vertex z from the luminous region, a Gaussian of sigma 4.5 cm (the LHC beam spot
length in z, the figure the issue and CMS's Run 2 vertexing quote). Transverse vertex
positions (~10 um) are neglected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graphreco import progress

from ..base import Option, SimulatedEvents
from .generator import HARD_PROCESSES, Interactions, cached
from .response import reconstruct

BEAM_SPOT_Z_SIGMA = 4.5
"""cm: Gaussian width of the interaction z distribution."""
PILEUP_MEANS = (20, 80, 140, 200)
"""Pile-up conditions the issue names (mean interactions per crossing)."""
HIT_COLUMNS = ("pt", "eta", "phi", "energy", "charge", "pdg_id", "dz", "pv_assoc", "true_label")


def simulate_events(n_events: int, seed: int = 0, process: str = "znunu_jet", mean_pileup: float = 140.0,
                    pool_size: int = 10_000, cache: Path | None = None, chunk: int = 64) -> SimulatedEvents:
    """``n_events`` crossings of ``process`` with Poisson(``mean_pileup``) pile-up.

    The minimum-bias pool holds ``pool_size`` interactions; generated interactions are
    kept in ``cache`` (a folder) when given, so that samples can share a pool.
    """
    if process not in HARD_PROCESSES:
        raise ValueError(f"unknown hard process {process!r}; known: {', '.join(HARD_PROCESSES)}")
    if mean_pileup < 0 or n_events < 1 or pool_size < 1:
        raise ValueError("needs n_events >= 1, pool_size >= 1 and mean_pileup >= 0")
    progress.expect(n_events + (pool_size if mean_pileup > 0 else 0))  # the interactions Pythia generates
    hard = cached(process, n_events, seed, cache)
    pool = cached("minbias", pool_size, seed + 1, cache) if mean_pileup > 0 else None
    rng = np.random.default_rng(seed)
    pieces = [_crossings(rng, hard, range(start, min(start + chunk, n_events)), pool, mean_pileup)
              for start in range(0, n_events, chunk)]
    counts = np.concatenate([piece.pop("hits_per_event") for piece in pieces])
    hits = {name: np.concatenate([piece[name] for piece in pieces]) for name in HIT_COLUMNS}
    hits["true_label"] = hits["true_label"].astype(np.int8)
    hits["phi"] = np.where(hits["phi"] >= np.pi, hits["phi"] - 2 * np.pi, hits["phi"])
    hits = {name: values.astype(np.float32) if values.dtype == np.float64 else values for name, values in hits.items()}
    return SimulatedEvents(
        detector="lhc-pf", event_id=np.arange(n_events, dtype=np.int64),
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), hits=hits,
        events={"npv": np.concatenate([piece["npv"] for piece in pieces]),
                "true_npu": np.concatenate([piece["true_npu"] for piece in pieces])})


SIMULATION_OPTIONS = (
    Option("--process", {"default": "znunu_jet", "choices": list(HARD_PROCESSES),
                         "help": "hard process of the leading interaction"}),
    Option("--pileup", {"type": float, "default": 140.0, "help": "mean number of pile-up interactions"}),
    Option("--pool-size", {"type": int, "default": 10_000,
                           "help": "minimum-bias interactions in the pile-up pool"}),
    Option("--cache", {"type": Path, "default": None,
                       "help": "folder that keeps generated interactions for reuse (e.g. the same pool)"}),
)
"""What ``graphreco simulate lhc-pf`` offers; ``simulate_from_options`` takes them."""


def simulate_from_options(events: int, seed: int, process: str, pileup: float, pool_size: int,
                          cache: Path | None) -> SimulatedEvents:
    """``simulate_events`` as the command-line options ask: ``events`` crossings of
    ``process`` with Poisson(``pileup``) pile-up from a pool of ``pool_size`` minimum-bias
    interactions, generated interactions kept in the folder ``cache`` (None: not kept)."""
    return simulate_events(events, seed=seed, process=process, mean_pileup=pileup, pool_size=pool_size, cache=cache)


def _crossings(rng: np.random.Generator, hard: Interactions, hard_events: range, pool: Interactions | None,
               mean_pileup: float) -> dict[str, np.ndarray]:
    n = len(hard_events)
    n_pileup = rng.poisson(mean_pileup, n) if pool is not None else np.zeros(n, dtype=np.int64)
    interaction_offsets = np.concatenate([[0], np.cumsum(n_pileup + 1)])
    sources = []  # (Interactions, index, crossing, turn, reflect) per interaction, crossing order
    for crossing, event in enumerate(hard_events):
        sources.append((hard, event, crossing, 0.0, False))
        picks = rng.integers(0, pool.size, n_pileup[crossing]) if n_pileup[crossing] else ()
        turns = rng.uniform(-np.pi, np.pi, len(picks))
        reflects = rng.random(len(picks)) < 0.5
        sources.extend((pool, int(i), crossing, turn, bool(r)) for i, turn, r in zip(picks, turns, reflects))
    interaction_z = rng.normal(0.0, BEAM_SPOT_Z_SIGMA, len(sources))
    columns = {name: [] for name in ("crossing", "interaction", "pt", "eta", "phi", "energy", "pdg_id", "charge",
                                     "label")}
    for index, (sample, event, crossing, turn, reflect) in enumerate(sources):
        part = slice(sample.offsets[event], sample.offsets[event + 1])
        size = part.stop - part.start
        columns["crossing"].append(np.full(size, crossing))
        columns["interaction"].append(np.full(size, index))
        columns["pt"].append(sample.pt[part])
        columns["eta"].append(-sample.eta[part] if reflect else sample.eta[part])
        columns["phi"].append(np.mod(sample.phi[part] + turn + np.pi, 2 * np.pi) - np.pi)
        columns["energy"].append(sample.energy[part])
        columns["pdg_id"].append(sample.pdg_id[part])
        columns["charge"].append(sample.charge[part])
        columns["label"].append(np.full(size, sample is hard))
    particles = {name: np.concatenate(values) for name, values in columns.items()}
    candidates = reconstruct(rng, particles, interaction_z, interaction_offsets, n)
    candidates["hits_per_event"] = np.bincount(candidates.pop("crossing"), minlength=n)
    candidates["true_npu"] = n_pileup.astype(np.int32)
    return candidates
