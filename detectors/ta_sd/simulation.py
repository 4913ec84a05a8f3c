"""TA SD event simulation: triggered readouts of the 507-counter array, with truth.

A shower (proton, iron or photon) of energy E falls on the array:
- E from a power law dN/dE ~ E^-gamma in 10^18 - 10^20.5 eV, gamma = 1.5 by default,
  flatter than nature's ~3 so that every decade is trained (a parameter; evaluations
  reweight to the physical spectrum); an isotropic flux on a flat array,
  dN/dcos(theta) ~ cos(theta), up to 60 deg; azimuth uniform; cores uniform over the array
  and a margin of 2.4 km (two grid steps) around its edge;
- Xmax and muon content per primary (composition.py) give S800, the LDF slope shift and
  the front curvature (s800.py); the expected signal of each layer is
  S800 x ldf_shape(r, theta, slope shift) x 3 m^2 (shower.py, TA's LDF);
- each counter with an expected signal above 1e-3 VEM per layer (below that, the chance of
  even one particle is < 0.07 %) gets sampled layer signals (fluctuations.py: Poisson in
  particle number, independent layer deposits, TA's variance model, FADC saturation);
- its signal time is the plane-front time plus the Linsley delay, a Gaussian spread of the
  first particle's arrival of the Linsley width (both at the sampled density, both times
  the shower's curvature factor; shower.py) and the timing resolution: 20 ns rms, the
  accuracy of the counters' GPS time stamps (NIM A 689 (2012) 87), the scale of the 20 ns
  FADC bins too;
- the trigger (trigger.py) on counters above level-0; triggered events are read out
  within +-32 us of the trigger time, with accidental counters (accidentals.py).
Signals are reported in VEM times the calibration scale of the conditions (thresholds act
on the true signal). Per event ``t`` starts at the readout window: 0 - 64,000 ns.

Truth per event: ``true_energy`` (GeV), ``true_zenith``, ``true_azimuth`` (rad, where the
shower comes from, azimuth counter-clockwise from east), ``true_core_x``, ``true_core_y``
(m), ``true_primary`` (PDG), and the optional ``true_xmax`` (g/cm^2) and ``true_s800``
(VEM/m^2, this shower's expected S800 before sampling).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from graphreco import progress

from ..base import DetectorConfiguration, Option, OptionError, SimulatedEvents
from ..survey import SURVEY_OPTIONS, shifted, surveyed
from .accidentals import LEVEL0_RATE_HZ, READOUT_HALF_WINDOW, sample_accidentals
from .composition import PRIMARY_NAMES, sample_muon_scale, sample_xmax
from .fluctuations import sample_layers, saturate
from .geometry import GRID_SPACING, LAYER_AREA, design_configuration, design_outline, distance_to_polygon
from .s800 import shower_size
from .shower import SPEED_OF_LIGHT, axis_vector, front_delay, front_spread, ldf_shape
from .trigger import LEVEL0_VEM, LEVEL1_VEM, level2_trigger_times, passes

DEFAULT_SPECTRAL_INDEX = 1.5
CORE_MARGIN = 2 * GRID_SPACING  # m
TIMING_RESOLUTION = 20.0  # ns
MIN_EXPECTED_SIGNAL = 1e-3  # VEM per layer


@dataclass(frozen=True)
class Conditions:
    """Detector conditions of a sample; the defaults are nominal."""

    accidental_rate_scale: float = 1.0  # times the 700 Hz level-0 rate of background particles
    timing_resolution_ns: float = TIMING_RESOLUTION
    calibration_scale: float = 1.0  # reported VEM per true VEM


def sample_log10_energy(rng: np.random.Generator, n: int, log10_range: tuple[float, float],
                        spectral_index: float) -> np.ndarray:
    """lg(E/eV) of ``n`` energies drawn from dN/dE ~ E^-spectral_index in the range."""
    low, high = log10_range
    ratio = 10.0 ** (high - low)
    u = rng.uniform(0.0, 1.0, n)
    if abs(spectral_index - 1.0) < 1e-9:
        return low + u * (high - low)
    power = 1.0 - spectral_index
    return low + np.log10(1.0 + u * (ratio ** power - 1.0)) / power


def sample_zenith(rng: np.random.Generator, n: int, max_zenith: float) -> np.ndarray:
    """Zenith angles (rad) of an isotropic flux on a flat array: cos^2 uniform."""
    return np.arccos(np.sqrt(rng.uniform(np.cos(max_zenith) ** 2, 1.0, n)))


def sample_cores(rng: np.random.Generator, n: int, margin: float, positions: np.ndarray) -> np.ndarray:
    """Core positions (n, 2) in m, uniform over the design outline of the array and
    ``margin`` m beyond it; ``positions`` (K, 3) m, the counters, bound the box drawn from."""
    outline = design_outline()
    low, high = (positions[:, :2].min(axis=0) - margin - GRID_SPACING,
                 positions[:, :2].max(axis=0) + margin + GRID_SPACING)
    cores = np.empty((0, 2))
    while len(cores) < n:
        candidates = rng.uniform(low, high, (2 * n, 2))
        cores = np.vstack([cores, candidates[distance_to_polygon(candidates[:, 0], candidates[:, 1], outline)
                                             >= -margin]])
    return cores[:n]


def _primary_codes(primaries: Sequence[str] | Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    weights = dict(primaries) if isinstance(primaries, Mapping) else {name: 1.0 for name in primaries}
    unknown = sorted(set(weights) - set(PRIMARY_NAMES))
    if unknown or not weights:
        raise ValueError(f"unknown primaries {unknown}; known: {', '.join(PRIMARY_NAMES)}")
    probability = np.array(list(weights.values()), dtype=float)
    return np.array([PRIMARY_NAMES[name] for name in weights]), probability / probability.sum()


def _throw_showers(rng, n, codes, probability, log10_range, spectral_index, max_zenith, margin, positions) -> dict:
    """Primary, energy, direction, core, Xmax, muon content and size of ``n`` showers."""
    pdg = rng.choice(codes, size=n, p=probability)
    log10_energy = sample_log10_energy(rng, n, log10_range, spectral_index)
    energy = 10.0 ** log10_energy
    zenith = sample_zenith(rng, n, max_zenith)
    azimuth = rng.uniform(0.0, 2 * np.pi, n)
    core = sample_cores(rng, n, margin, positions)
    xmax = sample_xmax(rng, pdg, log10_energy)
    size = shower_size(energy, zenith, xmax, sample_muon_scale(rng, pdg))
    return {"pdg": pdg, "energy": energy, "zenith": zenith, "azimuth": azimuth, "core": core, "xmax": xmax} | size


def _shower_hits(rng, showers: dict, positions: np.ndarray, live: np.ndarray, conditions: Conditions) -> dict:
    """Level-0 counters of every shower (of the ``live`` ones among ``positions``): event,
    counter, time (ns from the core's plane front at the ground) and the layer signals
    after saturation (true VEM)."""
    axis = axis_vector(showers["zenith"], showers["azimuth"])
    dx = positions[None, :, 0] - showers["core"][:, 0:1]
    dy = positions[None, :, 1] - showers["core"][:, 1:2]
    dz = positions[None, :, 2]
    along = dx * axis[:, 0:1] + dy * axis[:, 1:2] + dz * axis[:, 2:3]
    r = np.sqrt(np.maximum(dx * dx + dy * dy + dz * dz - along * along, 0.0))
    mean = showers["s800"][:, None] * LAYER_AREA * ldf_shape(r, showers["zenith"][:, None],
                                                             showers["slope_shift"][:, None])
    event, counter = np.nonzero((mean >= MIN_EXPECTED_SIGNAL) & live[None, :])
    upper, lower = sample_layers(rng, mean[event, counter])
    keep = passes(upper, lower, LEVEL0_VEM)
    event, counter, upper, lower = event[keep], counter[keep], upper[keep], lower[keep]
    distance = r[event, counter]
    density = 0.5 * (upper + lower) / LAYER_AREA
    curvature = showers["curvature"][event]
    spread = curvature * front_spread(distance, density)
    t = (-along[event, counter] / SPEED_OF_LIGHT + curvature * front_delay(distance, density)
         + spread * rng.standard_normal(event.size) + conditions.timing_resolution_ns * rng.standard_normal(event.size))
    upper, lower = saturate(upper, spread), saturate(lower, spread)
    return {"event": event, "counter": counter, "t": t, "upper": upper, "lower": lower}


def throw_and_trigger(rng: np.random.Generator, n: int,
                      primaries: Sequence[str] | Mapping[str, float] = ("proton", "iron", "photon"),
                      log10_energy_range: tuple[float, float] = (18.0, 20.5),
                      spectral_index: float = DEFAULT_SPECTRAL_INDEX, max_zenith_deg: float = 60.0,
                      conditions: Conditions = Conditions(), core_margin: float = CORE_MARGIN,
                      configuration: DetectorConfiguration | None = None) -> dict:
    """Throw ``n`` showers (arguments as :func:`simulate_events`; a negative ``core_margin``
    keeps cores that far inside the edge) and read out the ones that trigger.

    Returns per readout hit, ordered by event and time: ``event`` (0 .. triggered - 1),
    ``counter`` (index into the configuration's sensors), ``t`` (ns from the window start),
    ``signal_upper``, ``signal_lower`` (VEM), ``true_label``; and ``truth``, the triggered
    showers' ``pdg``, ``energy`` (eV), ``zenith``, ``azimuth``, ``core``, ``xmax``, ``s800``
    and the other outputs of ``s800.shower_size``.
    """
    codes, probability = _primary_codes(primaries)
    configuration = configuration or design_configuration()
    positions, live = configuration.position, configuration.live
    column, row = np.divmod(configuration.channel, 100)  # the trigger's grid: channel XXYY
    showers = _throw_showers(rng, n, codes, probability, log10_energy_range, spectral_index,
                             np.radians(max_zenith_deg), core_margin, positions)
    hits = _shower_hits(rng, showers, positions, live, conditions)
    offsets = np.searchsorted(hits["event"], np.arange(n + 1))
    level1 = passes(hits["upper"], hits["lower"], LEVEL1_VEM)
    trigger = level2_trigger_times(offsets, column[hits["counter"]], row[hits["counter"]], hits["t"], level1)
    triggered = np.flatnonzero(np.isfinite(trigger))
    local = np.full(n, -1)
    local[triggered] = np.arange(triggered.size)
    start = trigger - READOUT_HALF_WINDOW
    t = hits["t"] - start[hits["event"]]
    inside = (local[hits["event"]] >= 0) & (t >= 0.0) & (t < 2 * READOUT_HALF_WINDOW)
    event, counter = local[hits["event"][inside]], hits["counter"][inside]
    busy = np.zeros((triggered.size, len(positions)), dtype=bool)
    busy[event, counter] = True
    busy[:, ~live] = True  # a dead counter records no accidental either
    noise = sample_accidentals(rng, triggered.size, len(positions), busy,
                               LEVEL0_RATE_HZ * conditions.accidental_rate_scale)
    noisy = passes(noise["signal_upper"], noise["signal_lower"], LEVEL0_VEM)
    scale = conditions.calibration_scale
    result = {"event": np.concatenate([event, noise["event"][noisy]]),
              "counter": np.concatenate([counter, noise["counter"][noisy]]),
              "t": np.concatenate([t[inside], noise["t"][noisy]]),
              "signal_upper": scale * np.concatenate([hits["upper"][inside], noise["signal_upper"][noisy]]),
              "signal_lower": scale * np.concatenate([hits["lower"][inside], noise["signal_lower"][noisy]]),
              "true_label": np.concatenate([np.ones(event.size, np.int8), np.zeros(int(noisy.sum()), np.int8)])}
    order = np.lexsort((result["t"], result["event"]))
    result = {name: values[order] for name, values in result.items()}
    result["truth"] = {name: values[triggered] for name, values in showers.items()}
    return result


def simulate_events(n_events: int, seed: int = 0,
                    primaries: Sequence[str] | Mapping[str, float] = ("proton", "iron", "photon"),
                    log10_energy_range: tuple[float, float] = (18.0, 20.5),
                    spectral_index: float = DEFAULT_SPECTRAL_INDEX, max_zenith_deg: float = 60.0,
                    conditions: Conditions = Conditions(), core_margin: float = CORE_MARGIN,
                    chunk: int = 2048, configuration: DetectorConfiguration | None = None) -> SimulatedEvents:
    """``n_events`` triggered TA SD readouts, with truth, on the counters of
    ``configuration`` (None: the design layout; its channels must be TA's XXYY numbers,
    which place the counters on the trigger's grid; dead counters give no signal).

    ``primaries`` names the primaries thrown in equal parts, or maps names to relative
    weights (among thrown, not triggered, showers); energies in lg(E/eV), ``core_margin``
    in m beyond the design outline of the array.
    """
    _primary_codes(primaries)  # fail early on unknown names
    if not log10_energy_range[0] <= log10_energy_range[1]:
        raise OptionError(f"lowest lg(E/eV) {log10_energy_range[0]} is above the highest {log10_energy_range[1]}")
    configuration = configuration or design_configuration()
    rng = np.random.default_rng(seed)
    pieces, kept = [], 0
    progress.expect(n_events)
    while kept < n_events:
        piece = throw_and_trigger(rng, chunk, primaries, log10_energy_range, spectral_index, max_zenith_deg,
                                  conditions, core_margin, configuration)
        pieces.append(piece)
        triggered = len(piece["truth"]["pdg"])
        progress.advance(min(triggered, n_events - kept))
        kept += triggered
    return _assemble(pieces, n_events, configuration)


SIMULATION_OPTIONS = (
    Option("--primaries", {"nargs": "+", "choices": tuple(PRIMARY_NAMES), "default": tuple(PRIMARY_NAMES),
                           "help": "primaries thrown in equal parts (default all three)"}),
    Option("--log10-energy-min", {"type": float, "default": 18.0, "help": "lowest lg(E/eV)"}),
    Option("--log10-energy-max", {"type": float, "default": 20.5, "help": "highest lg(E/eV)"}),
    Option("--spectral-index", {"type": float, "default": DEFAULT_SPECTRAL_INDEX,
                                "help": "dN/dE ~ E^-index of the thrown energies"}),
    Option("--max-zenith-deg", {"type": float, "default": 60.0, "help": "largest zenith angle (deg)"}),
    Option("--accidental-rate-scale", {"type": float, "default": 1.0,
                                       "help": f"scale of the {LEVEL0_RATE_HZ:.0f} Hz level-0 rate of random muons "
                                               "per counter"}),
    Option("--timing-resolution-ns", {"type": float, "default": TIMING_RESOLUTION,
                                      "help": "counter timing resolution (ns rms)"}),
    Option("--calibration-scale", {"type": float, "default": 1.0, "help": "reported VEM per true VEM"}),
    *SURVEY_OPTIONS,
)
"""What ``graphreco simulate ta-sd`` offers; ``simulate_from_options`` takes them."""


def simulate_from_options(events: int, seed: int, configuration: DetectorConfiguration, primaries: Sequence[str],
                          log10_energy_min: float, log10_energy_max: float, spectral_index: float,
                          max_zenith_deg: float, accidental_rate_scale: float, timing_resolution_ns: float,
                          calibration_scale: float, origin_shift: tuple[float, float], survey_scatter: float,
                          dead_fraction: float) -> SimulatedEvents:
    """``simulate_events`` with the thrown showers, conditions and array the command-line
    options give.

    Args:
        events: triggered events to make.
        seed: random seed.
        configuration: the layout as designed (the shipped default layout).
        primaries: names of the primaries thrown in equal parts.
        log10_energy_min, log10_energy_max: range of the thrown energies, lg(E/eV).
        spectral_index: dN/dE ~ E^-index of the thrown energies.
        max_zenith_deg: largest zenith angle (deg).
        accidental_rate_scale: times the level-0 rate of accidental particles.
        timing_resolution_ns: counter timing resolution (ns rms).
        calibration_scale: reported VEM per true VEM.
        origin_shift: m (x, y): the survey frame's origin lies this much the other way;
            hits, true cores and the configuration move by it (the frame here is centred
            on counter 1313, geometry.py; a sample in another frame differs by an offset:
            the value is the user's).
        survey_scatter: m, rms per axis of the counters' displacement from their design
            sites (the real counters stand up to tens of metres off them, NIM A 689
            (2012) 87, geometry.py; the value is the user's).
        dead_fraction: fraction of counters not taking data, drawn uniformly at random
            (the value is the user's; correlated outages, such as a whole subarray, are
            not modelled).
    """
    conditions = Conditions(accidental_rate_scale=accidental_rate_scale, timing_resolution_ns=timing_resolution_ns,
                            calibration_scale=calibration_scale)
    simulated = simulate_events(events, seed=seed, primaries=primaries,
                                log10_energy_range=(log10_energy_min, log10_energy_max),
                                spectral_index=spectral_index, max_zenith_deg=max_zenith_deg, conditions=conditions,
                                configuration=surveyed(configuration, seed, survey_scatter, dead_fraction))
    return shifted(simulated, origin_shift, ("true_core_x", "true_core_y"))


def _assemble(pieces: list[dict], n_events: int, configuration: DetectorConfiguration) -> SimulatedEvents:
    """The first ``n_events`` triggered events of the chunks in the event format."""
    positions, ids = configuration.position, configuration.channel
    hit_parts, truth_parts, sizes, remaining = [], [], [], n_events
    for piece in pieces:
        n = min(remaining, len(piece["truth"]["pdg"]))
        keep = piece["event"] < n
        hit_parts.append({name: piece[name][keep] for name in
                          ("counter", "t", "signal_upper", "signal_lower", "true_label")})
        sizes.append(np.bincount(piece["event"][keep], minlength=n))
        truth_parts.append({name: values[:n] for name, values in piece["truth"].items()})
        remaining -= n
        if remaining == 0:
            break
    hits = {name: np.concatenate([part[name] for part in hit_parts]) for name in hit_parts[0]}
    truth = {name: np.concatenate([part[name] for part in truth_parts]) for name in truth_parts[0]}
    counter = hits.pop("counter")
    out_hits = {"x": positions[counter, 0].astype(np.float32), "y": positions[counter, 1].astype(np.float32),
                "z": positions[counter, 2].astype(np.float32), "t": hits["t"].astype(np.float32),
                "signal_upper": hits["signal_upper"].astype(np.float32),
                "signal_lower": hits["signal_lower"].astype(np.float32),
                "channel": ids[counter], "true_label": hits["true_label"].astype(np.int8)}
    events = {"true_energy": truth["energy"] * 1e-9, "true_zenith": truth["zenith"],
              "true_azimuth": truth["azimuth"], "true_core_x": truth["core"][:, 0],
              "true_core_y": truth["core"][:, 1], "true_primary": truth["pdg"].astype(np.int32),
              "true_xmax": truth["xmax"], "true_s800": truth["s800"]}
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(sizes))]).astype(np.int64)
    return SimulatedEvents("ta-sd", np.arange(n_events, dtype=np.int64), offsets, out_hits, events, configuration)
