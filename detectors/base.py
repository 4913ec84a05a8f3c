"""What a detector is to the engine: its event-format columns, its node features and its
default graph recipe. A detector is data plus a few pure functions on CSR arrays
(``offsets`` and per-hit columns), so nothing here depends on the engine above it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HitColumns = Mapping[str, np.ndarray]
GraphRecipe = Callable[[np.ndarray, HitColumns], np.ndarray]
"""``(offsets, hit columns) -> edge_index`` (2, E) int64 grouped by target."""


@dataclass(frozen=True)
class Column:
    """One column of the event format.

    ``dtype`` is the numpy type of a value (``"string"`` for text); ``per_hit`` columns are
    Parquet ``list<dtype>``, the others scalars. ``finite`` columns reject NaN and inf.

    ``per_event_offset`` columns (hit times) carry any common offset per event, as the
    format allows: where a file stores them in a wider type than ``dtype`` (float64, int64
    nanoseconds since an epoch), the reader subtracts each event's earliest value in that
    type before narrowing, so that no offset costs precision. ``bounds`` (low, high), in
    the column's units, are the values that can be physical, however generously; the
    reader refuses a value outside them as bad input. For a ``per_event_offset`` column
    they bound each value less its event's earliest (the time since the first hit).
    """

    name: str
    dtype: str
    per_hit: bool
    required: bool = True
    finite: bool = False
    per_event_offset: bool = False
    bounds: tuple[float, float] | None = None


def event_means(offsets: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mean of a per-hit quantity over each event (0 for an event without hits)."""
    cumulative = np.zeros(len(values) + 1, dtype=np.float64)
    np.cumsum(values, dtype=np.float64, out=cumulative[1:])
    sums = cumulative[offsets[1:]] - cumulative[offsets[:-1]]
    return sums / np.maximum(np.diff(offsets), 1)


@dataclass(frozen=True)
class Scaled:
    """A node feature ``(f(value) - centre) / scale`` from one column.

    ``f`` is the identity, ``log10`` of the value clipped below at ``floor``, or
    ``asinh(value / asinh_width)`` for a signed quantity that matters on every scale
    (linear within ``asinh_width`` of zero, logarithmic beyond).
    ``centre="event_mean"`` subtracts the event's mean, for quantities with an arbitrary
    per-event origin (hit times) or where translation invariance is wanted. NaN values
    become ``fill_nan`` (before scaling) when it is given; ``clip`` bounds the result.
    An event-level column (``per_event=True``) is broadcast to the event's hits.
    """

    column: str
    scale: float
    centre: float | str = 0.0
    log10: bool = False
    asinh_width: float | None = None
    floor: float = 1e-3
    fill_nan: float | None = None
    clip: float | None = None
    per_event: bool = False
    width: int = field(default=1, init=False)

    def names(self) -> list[str]:
        return [f"log10_{self.column}" if self.log10 else f"asinh_{self.column}" if self.asinh_width else self.column]

    def compute(self, offsets: np.ndarray, hits: HitColumns, events: HitColumns) -> np.ndarray:
        sizes = np.diff(offsets)
        values = np.asarray(events[self.column] if self.per_event else hits[self.column], dtype=np.float32)
        if self.per_event:
            values = np.repeat(values, sizes)
        if self.fill_nan is not None:
            values = np.where(np.isnan(values), np.float32(self.fill_nan), values)
        if self.log10:
            values = np.log10(np.maximum(values, np.float32(self.floor)))
        elif self.asinh_width:
            values = np.arcsinh(values / np.float32(self.asinh_width))
        if self.centre == "event_mean":
            values = values - np.repeat(event_means(offsets, values), sizes).astype(np.float32)
        elif self.centre:
            values = values - np.float32(self.centre)
        values = values / np.float32(self.scale)
        if self.clip is not None:
            values = np.clip(values, -self.clip, self.clip)
        return values[:, None]


@dataclass(frozen=True)
class OneHot:
    """Indicator features for the categories of an integer column (by absolute value when
    ``absolute``); values outside the list set no indicator."""

    column: str
    categories: tuple[int, ...]
    absolute: bool = False

    @property
    def width(self) -> int:
        return len(self.categories)

    def names(self) -> list[str]:
        return [f"{self.column}=={c}" for c in self.categories]

    def compute(self, offsets: np.ndarray, hits: HitColumns, events: HitColumns) -> np.ndarray:
        values = np.asarray(hits[self.column])
        if self.absolute:
            values = np.abs(values)
        return (values[:, None] == np.asarray(self.categories)[None, :]).astype(np.float32)


@dataclass(frozen=True)
class Derived:
    """Node features a detector computes from whole events, ``function(offsets, hits,
    events) -> (n_hits, len(columns))`` already normalised: local shapes that need the
    neighbourhood of every hit, like the pile-up density around a candidate."""

    columns: tuple[str, ...]
    function: Callable[[np.ndarray, HitColumns, HitColumns], np.ndarray]

    @property
    def width(self) -> int:
        return len(self.columns)

    def names(self) -> list[str]:
        return list(self.columns)

    def compute(self, offsets: np.ndarray, hits: HitColumns, events: HitColumns) -> np.ndarray:
        return np.asarray(self.function(offsets, hits, events), dtype=np.float32).reshape(-1, self.width)


NodeFeature = Scaled | OneHot | Derived


@dataclass(frozen=True, eq=False)
class DetectorConfiguration:
    """The sensors of one detector configuration (docs/event-format.md, "Detector
    configuration"): what a geometry file holds, and what fits that need the sensors
    without hits read.

    Args:
        detector: the detector's registry name.
        position: (n, 3) float64, sensor positions (m) in the frame of the event files' hits.
        channel: (n,) int32 sensor ids, or None where the file gives none.
        live: (n,) bool, False for a sensor that was not taking data: it gives no hit and
            is not "silent" either.
        source: where it came from: a file path, or e.g. ``"ta-sd default layout"``.
    """

    detector: str
    position: np.ndarray
    channel: np.ndarray | None
    live: np.ndarray
    source: str

    @property
    def n_sensors(self) -> int:
        return int(self.live.size)

    @property
    def live_positions(self) -> np.ndarray:
        """Positions (n_live, 3) float64 m of the live sensors."""
        return self.position[self.live]


@dataclass(frozen=True)
class SimulatedEvents:
    """Events in CSR form as a simulator makes them: per-hit arrays aligned with
    ``offsets`` and per-event arrays aligned with ``event_id``, named as in the format;
    ``configuration``: the sensors the events were simulated on (written beside them)."""

    detector: str
    event_id: np.ndarray
    offsets: np.ndarray
    hits: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    configuration: DetectorConfiguration | None = None

    def columns(self) -> dict:
        """The event-format fields (``detector``, ``event_id``, ``offsets``, ``hits``,
        ``events``), as ``graphreco.io.event_table(**simulated.columns())`` takes them."""
        return {"detector": self.detector, "event_id": self.event_id, "offsets": self.offsets, "hits": self.hits,
                "events": self.events}


@dataclass(frozen=True)
class Option:
    """One command-line option of a simulator: its flag (``"--noise-rate-khz"``) and the
    keywords of ``argparse.ArgumentParser.add_argument`` (``type``, ``default``, ``help``,
    ``choices``, ``nargs``). The value reaches ``Simulator.simulate`` as the keyword
    argparse derives from the flag (``noise_rate_khz``)."""

    flag: str
    settings: Mapping[str, object] = field(default_factory=dict)


class OptionError(ValueError):
    """A simulator's options contradict one another or leave nothing to simulate (the
    command line's exit code 2); the message names the options."""


@dataclass(frozen=True)
class Simulator:
    """How a detector makes training and test data: ``simulate(events, seed, **options)``
    -> ``SimulatedEvents`` with truth, and the ``options`` ``graphreco simulate NAME``
    offers for it (beside ``--events``, ``--seed`` and ``-o``); ``simulate`` raises
    ``OptionError`` for options that cannot be simulated together. A detector with a
    ``default_configuration`` also gets that layout as ``configuration=`` and returns the
    configuration it simulated on (derived from it by its options: shifted, surveyed,
    with dead sensors) in ``SimulatedEvents.configuration``, which ``graphreco simulate``
    writes beside the events."""

    help: str
    simulate: Callable[..., SimulatedEvents]
    options: tuple[Option, ...] = ()
    small_sample: tuple[str, ...] = ("--events", "10")
    """``graphreco simulate`` arguments for a small sample of every kind of event the
    simulator makes, a few seconds' worth: ``graphreco.warm_up`` compiles the kernels on it."""


@dataclass(frozen=True)
class ShowerCuts:
    """The truth-level quality cut of an air-shower array: the simulated showers its
    evaluation scores, the same for every method.

    Args:
        max_zenith: rad; the true zenith must be below it.
        min_shower_counters: the fewest counters hit by the shower (``true_label == 1``).
        min_edge_distance: m; the true core must lie at least this far inside the array.
        distance_to_edge: ``(x, y, configuration) -> distance``: signed distance (m) of
            ground points (x, y in m, arrays of one shape) to the edge of the array of the
            ``DetectorConfiguration``, positive inside.
    """

    max_zenith: float
    min_shower_counters: int
    min_edge_distance: float
    distance_to_edge: Callable[[np.ndarray, np.ndarray, DetectorConfiguration], np.ndarray]


@dataclass(frozen=True)
class EnergyCombination:
    """How the ``combination`` stage corrects the refit's log10 E: by
    ``combination_features(...) @ weights`` (the weights fitted on a validation sample).

    ``columns`` names the event columns of earlier stages it reads (stacked, in this
    order, as ``inputs``); ``features(fit_energy, fit_sigma, fit_zenith, gnn_energy,
    gnn_sigma, inputs, hits) -> (n, n_features)`` takes, per event, the refit's log10
    E/GeV and its sigma, its zenith (rad), the network's log10 E and its calibrated sigma,
    ``inputs`` (n, len(columns)) and the number of hits the hit selection kept.
    """

    columns: tuple[str, ...]
    features: Callable[..., np.ndarray]
    n_features: int


@dataclass(frozen=True)
class HeadlineFigure:
    """One row of the headline table that opens a detector's evaluation report.

    Args:
        name: what it is, for a physicist (``"numu CC >= 10 signal hits: median angular error"``).
        unit: its unit as shown (``"deg"``, ``"%"``; ``""`` for a pure number).
        path: where each method's value is in the evaluation dict: keys joined by ``/``,
            ``{method}`` standing for the method's key, and ``key=value`` picking the
            entry of a list whose ``key`` is ``value`` (``rejection_at_efficiency/efficiency=0.7``).
            Its statistical error is the entry of the same name with ``_error`` beside it,
            its upper limit where it has no value the one with ``_upper_limit_90cl``
            (``graphreco.evaluate.measured``).
        scale: what value, error and limit are multiplied by for the unit (100 for a fraction in %).
    """

    name: str
    unit: str
    path: str
    scale: float = 1.0


@dataclass(frozen=True)
class Headline:
    """The few figures that open a detector's evaluation report: ``methods``, ``(key in
    the evaluation dict, column heading)`` with the pipeline (``gnn``) first, and the
    ``figures``, one row each."""

    methods: tuple[tuple[str, str], ...]
    figures: tuple[HeadlineFigure, ...]


Configuration = DetectorConfiguration | None
"""What detector functions get as ``configuration``: the batch's, None where the detector has none."""

EVALUATION_KINDS = ("hits", "neutrino_events", "air_showers", "pileup")
"""What ``Detector.evaluation`` may name: how ``graphreco evaluate`` scores the detector's
reconstructions against truth (``graphreco.evaluate`` holds one module per kind)."""


@dataclass(frozen=True)
class Detector:
    """A detector: its columns in the event format, node features and default graph, and
    what the engine asks of it (simulator, evaluation kind, classical baseline, fits)."""

    name: str
    description: str
    columns: tuple[Column, ...]
    node_features: tuple[NodeFeature, ...]
    build_edges: GraphRecipe
    relative_features: tuple[int, ...] = ()
    """Node-feature indices whose differences along an edge (and their norm) are edge
    inputs of the GNN: positions and times, so that messages see relative geometry."""
    default_configuration: Path | None = None
    """The geometry file of the shipped default layout (package data; None: a detector
    without fixed sensors). The reader uses it for event files that name no configuration."""
    baseline: Callable[[np.ndarray, HitColumns, Configuration], dict[str, np.ndarray]] | None = None
    """The classical reconstruction, ``(offsets, hits, configuration=...) -> output
    columns`` of the event format, which evaluations score beside the GNN on the same
    events. ``configuration`` (passed by keyword: the batch's ``DetectorConfiguration``,
    None for a detector without one) gives the sensors without hits to fits that need
    them; the others ignore it. So do ``refine_direction``, ``event_features`` and
    ``fiducial``."""
    refine_direction: Callable[[np.ndarray, HitColumns, np.ndarray, np.ndarray, Configuration],
                               dict[str, np.ndarray]] | None = None
    """A direction fit ``(offsets, hits, zenith, azimuth, configuration=...) -> {reco_zenith,
    reco_azimuth, fit_cone, ...}`` started at the given directions (rad), NaN where it
    fails; the ``refit`` stage refits (track-like) events with it, and passes on the
    energy (``log10_energy``, ``log10_energy_sigma``) and core (``reco_core_x``,
    ``reco_core_y``) where the fit gives them (TA SD's refit; ``stages.refit.FROM_FIT``)."""
    event_features: Callable[[np.ndarray, HitColumns, Configuration], np.ndarray] | None = None
    """Event-level inputs for regression heads from a classical fit of the (selected)
    hits, ``(offsets, hits, configuration=...) -> (n_events, len(event_feature_names))`` float, NaN where the
    fit fails: what a physicist's fit measures precisely (TA SD: log10 S800, sec(theta)),
    for the network to correct rather than re-learn."""
    event_feature_names: tuple[str, ...] = ()
    fiducial: Callable[[dict[str, np.ndarray], Configuration], np.ndarray] | None = None
    """Which events pass the detector's fiducial cuts, ``(reconstructed event columns
    (reco_zenith, reco_core_x, ...), configuration=...) -> bool``, False where they are
    NaN. Stages with ``fiducial`` calibrate the uncertainties of the events inside and
    outside apart (``stages.calibration``): showers clipped by the array's edge or
    inclined are misjudged differently."""
    hit_score_bounds: Callable[[np.ndarray, HitColumns], tuple[np.ndarray, np.ndarray]] | None = None
    """What the detector knows of each hit before any network, ``(offsets, hits) -> (low,
    high)``, float arrays (n_hits,) within [0, 1]: the hit selection's probability p
    becomes ``low + (high - low) * p``, so that the network orders hits within what is
    known and never against it (LHC PF: the vertex association of charged candidates)."""
    max_hits_per_event: int | None = None
    """The most hits one event may hold (None: no limit); the reader refuses larger
    events, naming them, instead of running out of memory or time in the graph builders
    and fits (whose cost grows faster than linearly with the hits of an event)."""

    simulator: Simulator | None = None
    """How ``graphreco simulate NAME`` makes events of this detector (None: it cannot)."""
    evaluation: str | None = None
    """How ``graphreco evaluate`` scores it: one of ``EVALUATION_KINDS`` (None: no evaluation)."""
    classical_scores: Callable[[np.ndarray, HitColumns, HitColumns], dict[str, np.ndarray]] | None = None
    """The classical methods a ``pileup`` evaluation scores beside the GNN, ``(offsets,
    hits, events) -> {method: score}``, each score float32 of shape (n_hits,), higher
    meaning more signal-like (LHC PF: CHS, SoftKiller, PUPPI)."""
    keep_or_drop: tuple[str, ...] = ()
    """Methods of ``classical_scores`` whose score decides keep (>= 0.5) or drop: they
    weight a hit's four-momentum by 1 or 0, the other methods by their score."""
    shower_cuts: ShowerCuts | None = None
    """The truth-level quality cut of an ``air_showers`` evaluation."""
    primaries: tuple[tuple[str, int], ...] = ()
    """The composition classes of an ``air_showers`` evaluation, ``(name, PDG id)``: the
    reconstruction's ``reco_p_<name>`` against the truth's ``true_primary``; it compares
    ``photon`` with the hadrons ``proton`` and ``iron``."""
    energy_combination: EnergyCombination | None = None
    """How the ``combination`` stage corrects the refit's energy (None: it cannot)."""
    headline: Headline | None = None
    """The figures that open its evaluation report, pipeline beside the classical methods
    (None: the report opens with its figures and the full record)."""

    def __post_init__(self) -> None:
        if self.evaluation is not None and self.evaluation not in EVALUATION_KINDS:
            raise ValueError(f"detector {self.name!r}: evaluation {self.evaluation!r} is not one of "
                             f"{', '.join(EVALUATION_KINDS)}")

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def feature_names(self) -> list[str]:
        return [name for feature in self.node_features for name in feature.names()]

    def node_feature_matrix(self, offsets: np.ndarray, hits: HitColumns,
                            events: HitColumns | None = None) -> np.ndarray:
        """Node features (n_hits, n_features) float32, normalised as declared."""
        blocks = [f.compute(offsets, hits, events or {}) for f in self.node_features]
        return np.ascontiguousarray(np.concatenate(blocks, axis=1), dtype=np.float32)
