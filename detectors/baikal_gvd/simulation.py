"""Baikal-GVD event simulation: triggered readout windows of one cluster, with truth.

Event kinds and what they emit (labels as in the event format: 1 muon light, 2 cascade):
- ``numu_cc``: a through-going muon from below the horizon (cos zenith uniform in
  [-1, 0]), energy at closest approach log-uniform in 10 GeV - 100 TeV, with its
  stochastic losses; the neutrino vertex is far outside the detector.
- ``nue_cc``, ``nc``: a point cascade, direction isotropic, energy log-uniform in
  100 GeV - 1 PeV, vertex uniform in a cylinder of 150 m radius and +-330 m height.
- ``eas``: an atmospheric-muon bundle from above (muons.py: multiplicity, energies,
  zenith distribution, lateral spread), each muon with its stochastic losses.
Tracks are aimed at a disk of 200 m radius through the cluster centre, perpendicular to
the direction. Every module collects Poisson photo-electrons around the light model's
expectation (light.py), the first photo-electron's time gets a scattering delay
(water.py) and a Gaussian PMT jitter of 1.7 ns (R7081-100 transit-time spread), the
charge is the sum of single-p.e. charges (noise.py), capped at 1000 p.e. (saturation of
the measuring channel). Optical noise covers the whole readout. The trigger (trigger.py)
selects events; the 5 us window starts 2 us before the trigger time.

Energies are drawn log-uniform so that every decade is trained; evaluations reweight to a
physical spectrum where they need one. Events are simulated in cluster coordinates and
placed on a random cluster of the configuration (the shipped default layout, or the
design lattice of ``--clusters N``), whose dead modules give no pulse and whose surveyed
positions (``--survey-scatter``) the light reaches; ``--origin-shift`` moves the survey
frame (survey.py).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from graphreco import progress

from ..base import DetectorConfiguration, Option, SimulatedEvents
from ..survey import SURVEY_OPTIONS, shifted, surveyed
from .geometry import MODULES_PER_STRING, STRINGS_PER_CLUSTER, cluster_centres, design_configuration
from .light import direction_vector, module_light
from .muons import (
    BUNDLE_LATERAL_RMS,
    muon_range,
    sample_bundle_multiplicity,
    sample_depth_muon_energy,
    sample_downgoing_cos_zenith,
    stochastic_losses,
)
from .noise import DEFAULT_RATE_HZ, DEFAULT_WINDOW_NS, SPE_SHAPE, sample_noise
from .trigger import trigger_times
from .water import ABSORPTION_LENGTH, SCATTERING_DELAY_PER_METRE, SCATTERING_LENGTH, SPEED_OF_LIGHT

KINDS = ("numu_cc", "nue_cc", "nc", "eas")
TRACK_KINDS = ("numu_cc", "eas")
TARGET_RADIUS = 200.0  # m, disk that tracks are aimed at
CASCADE_RADIUS, CASCADE_HALF_HEIGHT = 150.0, 330.0  # m, cylinder of cascade vertices
TRACK_HALF_LENGTH = 600.0  # m of track simulated either side of the closest approach
PMT_JITTER = 1.7  # ns
SATURATION = 1000.0  # p.e.
PRE_TRIGGER = 2000.0  # ns of the window before the trigger
NOISE_SPAN = (-8000.0, 8000.0)  # ns around the event time covered by noise before the cut
LAYOUT_PRECISION = 0.011  # m: module positions are given to 0.01 m (geometry.design_configuration)


@dataclass(frozen=True)
class Conditions:
    """Detector and water conditions of a sample (the shifted ones are options)."""

    noise_rate_hz: float = DEFAULT_RATE_HZ
    absorption_length: float = ABSORPTION_LENGTH
    time_offset_rms: float = 0.0  # ns, per-module calibration error, fixed for the sample
    window_ns: float = DEFAULT_WINDOW_NS


def _log_uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(low), np.log(high), n))


def _perpendicular_basis(direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors per direction spanning the plane perpendicular to it."""
    helper = np.where(np.abs(direction[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(direction, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    return e1, np.cross(direction, e1)


def _disk_points(rng: np.random.Generator, direction: np.ndarray, radius: float) -> np.ndarray:
    """Points uniform on disks of ``radius`` through the origin, perpendicular to each direction."""
    e1, e2 = _perpendicular_basis(direction)
    r = radius * np.sqrt(rng.uniform(0.0, 1.0, len(direction)))
    phi = rng.uniform(0.0, 2 * np.pi, len(direction))
    return (r * np.cos(phi))[:, None] * e1 + (r * np.sin(phi))[:, None] * e2


def _lateral_offsets(rng: np.random.Generator, axis: np.ndarray, rms: float) -> np.ndarray:
    """Gaussian offsets perpendicular to each axis with 2-D rms ``rms`` (m)."""
    e1, e2 = _perpendicular_basis(axis)
    a, b = rng.normal(0.0, rms / np.sqrt(2.0), (2, len(axis)))
    return a[:, None] * e1 + b[:, None] * e2


def _muon_sources(rng, event, start, direction, energy, label) -> tuple[np.ndarray, np.ndarray]:
    """Track rows and stochastic-loss cascade rows for muons passing ``start`` at t = 0."""
    s_end = np.minimum(muon_range(energy), TRACK_HALF_LENGTH)
    tracks = np.column_stack([event, start, direction, np.zeros(len(event)), s_end, np.full(len(event), label)])
    muon, s, loss = stochastic_losses(rng, energy, -TRACK_HALF_LENGTH, s_end)
    position = start[muon] + s[:, None] * direction[muon]
    cascades = np.column_stack([event[muon], position, direction[muon], s / SPEED_OF_LIGHT, loss,
                                np.full(len(muon), label)])
    return tracks, cascades


def _sample_sources(rng: np.random.Generator, kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Light sources (rows: event, 9 columns of light.py) and the truth of each event."""
    n = len(kinds)
    truth = {"true_energy": np.zeros(n), "true_zenith": np.zeros(n), "true_azimuth": rng.uniform(0, 2 * np.pi, n),
             "point": np.zeros((n, 3)), "true_t": np.zeros(n)}
    tracks, cascades = [np.empty((0, 10))], [np.empty((0, 10))]

    numu = np.flatnonzero(kinds == "numu_cc")
    zenith = np.arccos(rng.uniform(-1.0, 0.0, numu.size))
    direction = direction_vector(zenith, truth["true_azimuth"][numu])
    energy = _log_uniform(rng, 10.0, 1e5, numu.size)
    start = _disk_points(rng, direction, TARGET_RADIUS)
    t, c = _muon_sources(rng, numu, start, direction, energy, 1)
    tracks.append(t), cascades.append(c)
    truth["true_energy"][numu], truth["true_zenith"][numu], truth["point"][numu] = energy, zenith, start

    eas = np.flatnonzero(kinds == "eas")
    zenith = np.arccos(sample_downgoing_cos_zenith(rng, eas.size))
    axis = direction_vector(zenith, truth["true_azimuth"][eas])
    core = _disk_points(rng, axis, TARGET_RADIUS)
    multiplicity = sample_bundle_multiplicity(rng, eas.size)
    owner = np.repeat(np.arange(eas.size), multiplicity)
    lateral = _lateral_offsets(rng, axis[owner], BUNDLE_LATERAL_RMS) * (multiplicity[owner] > 1)[:, None]
    energy = sample_depth_muon_energy(rng, owner.size)
    t, c = _muon_sources(rng, eas[owner], core[owner] + lateral, axis[owner], energy, 1)
    tracks.append(t), cascades.append(c)
    truth["true_energy"][eas] = np.bincount(owner, energy, minlength=eas.size)
    truth["true_zenith"][eas], truth["point"][eas] = zenith, core

    showers = np.flatnonzero(np.isin(kinds, ("nue_cc", "nc")))
    zenith = np.arccos(rng.uniform(-1.0, 1.0, showers.size))
    direction = direction_vector(zenith, truth["true_azimuth"][showers])
    energy = _log_uniform(rng, 100.0, 1e6, showers.size)
    r = CASCADE_RADIUS * np.sqrt(rng.uniform(0.0, 1.0, showers.size))
    phi = rng.uniform(0.0, 2 * np.pi, showers.size)
    vertex = np.column_stack([r * np.cos(phi), r * np.sin(phi),
                              rng.uniform(-CASCADE_HALF_HEIGHT, CASCADE_HALF_HEIGHT, showers.size)])
    cascades.append(np.column_stack([showers, vertex, direction, np.zeros(showers.size), energy,
                                     np.full(showers.size, 2)]))
    truth["true_energy"][showers], truth["true_zenith"][showers], truth["point"][showers] = energy, zenith, vertex
    return np.concatenate(tracks), np.concatenate(cascades), truth


def _csr_rows(rows: np.ndarray, n_events: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort source rows (first column: event) into CSR; returns (rows without the event
    column, offsets)."""
    order = np.argsort(rows[:, 0], kind="stable")
    event = rows[order, 0].astype(np.int64)
    offsets = np.searchsorted(event, np.arange(n_events + 1)).astype(np.int64)
    return np.ascontiguousarray(rows[order, 1:]), offsets


def _simulate_chunk(rng: np.random.Generator, kinds: np.ndarray, cluster: np.ndarray, conditions: Conditions,
                    module_xyz: np.ndarray, calibration: np.ndarray, live: np.ndarray) -> dict:
    """Pulses (signal and noise) of candidate events on the given clusters, the trigger,
    and the pulses inside the readout window. ``module_xyz`` (clusters, modules, 3): the
    modules of each cluster relative to its centre (m); ``calibration`` holds each
    channel's time offset (ns); modules of channels not ``live`` give no pulse."""
    n, n_modules = len(kinds), module_xyz.shape[1]
    track_rows, cascade_rows, truth = _sample_sources(rng, kinds)
    tracks, track_offsets = _csr_rows(track_rows, n)
    cascades, cascade_offsets = _csr_rows(cascade_rows, n)
    mu, time, path = (np.zeros((2, n, n_modules)) for _ in range(3))
    label = np.zeros((2, n, n_modules), dtype=np.int64)
    module_light(module_xyz, cluster, tracks, track_offsets, cascades, cascade_offsets, conditions.absorption_length,
                 mu, time, path, label)

    # Photo-electrons of each light component; the pulse starts with the first photon, so
    # direct track light, when any is seen, sets the time (light.py).
    photons = rng.poisson(mu)
    total = photons.sum(axis=0)
    event, module = np.nonzero(total)
    first = np.where(photons[0, event, module] > 0, 0, 1)
    count = photons[first, event, module]
    path = path[first, event, module]
    scattered = 1.0 - np.exp(-path / SCATTERING_LENGTH)
    all_scattered = rng.uniform(0.0, 1.0, count.size) < scattered ** count
    delay = np.where(all_scattered, rng.exponential(1.0, count.size) * SCATTERING_DELAY_PER_METRE * path / count, 0.0)
    signal_t = time[first, event, module] + delay + rng.normal(0.0, PMT_JITTER, count.size)
    signal_q = np.minimum(rng.gamma(SPE_SHAPE * total[event, module], 1.0 / SPE_SHAPE), SATURATION)
    signal_label = label[first, event, module]

    span = NOISE_SPAN[1] - NOISE_SPAN[0]
    noise_offsets, noise_module, noise_t, noise_q = sample_noise(rng, n, n_modules, conditions.noise_rate_hz, span)
    noise_event = np.repeat(np.arange(n), np.diff(noise_offsets))
    noise_t = noise_t + NOISE_SPAN[0]

    event = np.concatenate([event, noise_event])
    module = np.concatenate([module, noise_module])
    t = np.concatenate([signal_t, noise_t])
    q = np.concatenate([signal_q, noise_q])
    hit_label = np.concatenate([signal_label, np.zeros(noise_event.size, dtype=np.int64)])
    on = live[cluster[event] * n_modules + module]
    event, module, t, q, hit_label = event[on], module[on], t[on], q[on], hit_label[on]
    t = t + calibration[cluster[event] * n_modules + module]
    order = np.lexsort((t, event))
    event, module, t, q, hit_label = event[order], module[order], t[order], q[order], hit_label[order]
    offsets = np.searchsorted(event, np.arange(n + 1))
    trigger = trigger_times(offsets, module // MODULES_PER_STRING, module % MODULES_PER_STRING, t, q)
    start = trigger - PRE_TRIGGER
    inside = (t >= start[event]) & (t < start[event] + conditions.window_ns)
    return {"kinds": kinds, "truth": truth, "triggered": np.isfinite(trigger), "start": start,
            "event": event[inside], "module": module[inside], "t": (t - start[event])[inside],
            "charge": q[inside], "label": hit_label[inside]}


def simulate_events(n_events: int, seed: int = 0, mix: dict[str, float] | None = None,
                    conditions: Conditions = Conditions(), chunk: int = 4096,
                    configuration: DetectorConfiguration | None = None) -> SimulatedEvents:
    """``n_events`` triggered readout windows of one Baikal-GVD cluster, with truth, on a
    random cluster of ``configuration`` (None: the design layout of 14 clusters; channels
    ``(cluster * 8 + string) * 36 + module`` in order, one per module; dead modules give
    no pulse). The light is computed at the modules' positions relative to their
    cluster's design centre; clusters laid out as cluster 0 to the 0.01 m the layout is
    given to share its positions.

    ``mix`` gives the relative frequency of the kinds among simulated (not triggered)
    events, by default equal parts of each of ``KINDS``.
    """
    mix = mix or {kind: 1.0 for kind in KINDS}
    unknown = set(mix) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown event kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    rng = np.random.default_rng(seed)
    configuration = configuration or design_configuration()
    cluster_size = STRINGS_PER_CLUSTER * MODULES_PER_STRING
    if not np.array_equal(configuration.channel, np.arange(configuration.n_sensors)) \
            or configuration.n_sensors % cluster_size:
        raise ValueError(f"{configuration.source}: the simulation needs whole clusters, channels 0, 1, ... in order")
    centres = cluster_centres(configuration.n_sensors // cluster_size)
    module_xyz = configuration.position.reshape(len(centres), cluster_size, 3) \
        - np.column_stack([centres, np.zeros(len(centres))])[:, None, :]
    module_xyz[np.all(np.abs(module_xyz - module_xyz[0]) <= LAYOUT_PRECISION, axis=(1, 2))] = module_xyz[0]
    calibration = rng.normal(0.0, conditions.time_offset_rms, configuration.n_sensors) \
        if conditions.time_offset_rms else np.zeros(configuration.n_sensors)
    names = list(mix)
    probability = np.array([mix[k] for k in names], dtype=float)
    pieces, kept = [], 0
    progress.expect(n_events)
    while kept < n_events:
        kinds = rng.choice(names, size=chunk, p=probability / probability.sum())
        cluster = rng.integers(0, len(centres), chunk)
        result = _simulate_chunk(rng, kinds, cluster, conditions, module_xyz, calibration, configuration.live)
        result["cluster"] = cluster
        pieces.append(result)
        triggered = int(result["triggered"].sum())
        progress.advance(min(triggered, n_events - kept))
        kept += triggered
    return _assemble(pieces, n_events, configuration, centres, cluster_size)


def parse_mix(text: str) -> dict[str, float]:
    """``"numu_cc=1,eas=3"`` -> ``{"numu_cc": 1.0, "eas": 3.0}``; ``argparse.ArgumentTypeError``
    for text of another form or a kind not in ``KINDS``."""
    try:
        mix = {kind.strip(): float(weight) for kind, weight in (part.split("=") for part in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected KIND=WEIGHT[,KIND=WEIGHT...], got {text!r}") from None
    unknown = sorted(set(mix) - set(KINDS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown event kinds {unknown}; known: {', '.join(KINDS)}")
    return mix


SIMULATION_OPTIONS = (
    Option("--mix", {"type": parse_mix, "default": None,
                     "help": "relative frequency of kinds before the trigger, e.g. numu_cc=1,eas=4 "
                             f"(kinds: {', '.join(KINDS)}; default equal)"}),
    Option("--noise-rate-khz", {"type": float, "default": DEFAULT_RATE_HZ / 1e3,
                                "help": "optical noise per module (kHz)"}),
    Option("--absorption-m", {"type": float, "default": ABSORPTION_LENGTH,
                              "help": "absorption length of the water (m)"}),
    Option("--time-offset-ns", {"type": float, "default": 0.0,
                                "help": "rms of per-module time-calibration errors (ns)"}),
    Option("--clusters", {"type": int, "default": None,
                          "help": "clusters of the array, from the design lattice (default: the shipped layout's "
                                  "14, the 2025 array)"}),
    *SURVEY_OPTIONS,
)
"""What ``graphreco simulate baikal-gvd`` offers; ``simulate_from_options`` takes them."""


def simulate_from_options(events: int, seed: int, configuration: DetectorConfiguration,
                          mix: dict[str, float] | None, noise_rate_khz: float, absorption_m: float,
                          time_offset_ns: float, clusters: int | None, origin_shift: tuple[float, float],
                          survey_scatter: float, dead_fraction: float) -> SimulatedEvents:
    """``simulate_events`` under the conditions and on the array the command-line options give.

    Args:
        events: triggered events to make.
        seed: random seed.
        configuration: the layout as built (the shipped default layout).
        mix: relative frequency of the kinds (None: equal parts).
        noise_rate_khz: optical noise rate per module (kHz).
        absorption_m: absorption length of the water (m).
        time_offset_ns: rms of the per-module time-calibration errors (ns).
        clusters: clusters of the array (None: those of ``configuration``), placed on the
            design lattice (geometry.py): Baikal-GVD adds clusters every year (8 in 2021,
            14 in 2025; PoS(ICRC2021)002).
        origin_shift: m (x, y): the survey frame's origin lies this much the other way;
            hits, true positions and the configuration move by it.
        survey_scatter: m, rms per axis of each module's displacement from its design
            position; light and configuration use the displaced positions (the
            configuration is the survey, exact here). The value is the user's: the strings
            drift with the lake's currents, up to tens of metres from their initial
            positions (Baikal-GVD, PoS(ICRC2019)1012), and the acoustic positioning
            system measures a module to better than 13 cm on average (Baikal-GVD, EPJ Web
            Conf. 207 (2019) 07004).
        dead_fraction: fraction of the optical modules not taking data, drawn uniformly
            at random (the value is the user's; correlated outages, such as a whole
            string, are not modelled).
    """
    conditions = Conditions(noise_rate_hz=noise_rate_khz * 1e3, absorption_length=absorption_m,
                            time_offset_rms=time_offset_ns)
    layout = configuration if clusters is None else design_configuration(clusters)
    simulated = simulate_events(events, seed=seed, mix=mix, conditions=conditions,
                                configuration=surveyed(layout, seed, survey_scatter, dead_fraction))
    return shifted(simulated, origin_shift, ("true_x", "true_y"))


def _assemble(pieces: list[dict], n_events: int, configuration: DetectorConfiguration, centres: np.ndarray,
              cluster_size: int) -> SimulatedEvents:
    """The first ``n_events`` triggered events of the chunks, in the event format."""
    hits = {name: [] for name in ("x", "y", "z", "t", "charge", "channel", "true_label")}
    events = {name: [] for name in ("true_kind", "true_energy", "true_zenith", "true_azimuth",
                                    "true_x", "true_y", "true_z", "true_t")}
    sizes, remaining = [], n_events
    for piece in pieces:
        selected = np.flatnonzero(piece["triggered"])[:remaining]
        remaining -= selected.size
        keep = np.isin(piece["event"], selected)
        event, module = piece["event"][keep], piece["module"][keep]
        channel = piece["cluster"][event] * cluster_size + module
        position = configuration.position[channel]
        for name, values in (("x", position[:, 0]), ("y", position[:, 1]), ("z", position[:, 2]),
                             ("t", piece["t"][keep]), ("charge", piece["charge"][keep]), ("channel", channel),
                             ("true_label", piece["label"][keep])):
            hits[name].append(values)
        sizes.append(np.bincount(np.searchsorted(selected, event), minlength=selected.size))
        truth, start = piece["truth"], piece["start"][selected]
        shift = np.column_stack([centres[piece["cluster"][selected]], np.zeros(selected.size)])
        point, time = truth["point"][selected] + shift, -start
        is_track = np.isin(piece["kinds"][selected], TRACK_KINDS)
        motion = direction_vector(truth["true_zenith"][selected], truth["true_azimuth"][selected])
        along = -(point * motion).sum(axis=1) * is_track  # tracks: move to the closest approach to the origin
        point, time = point + along[:, None] * motion, time + along / SPEED_OF_LIGHT
        for name, values in (("true_kind", piece["kinds"][selected]), ("true_energy", truth["true_energy"][selected]),
                             ("true_zenith", truth["true_zenith"][selected]),
                             ("true_azimuth", truth["true_azimuth"][selected]), ("true_x", point[:, 0]),
                             ("true_y", point[:, 1]), ("true_z", point[:, 2]), ("true_t", time)):
            events[name].append(values)
        if remaining == 0:
            break
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(sizes))]).astype(np.int64)
    dtypes = {"channel": np.int32, "true_label": np.int8}
    hits = {name: np.concatenate(v).astype(dtypes.get(name, np.float32)) for name, v in hits.items()}
    events = {name: np.concatenate(v) for name, v in events.items()}
    events["true_kind"] = events["true_kind"].astype(object)
    return SimulatedEvents("baikal-gvd", np.arange(n_events, dtype=np.int64), offsets, hits, events, configuration)


def simulate_noise_events(n_events: int, seed: int = 0, n_clusters: int = 1,
                          noise_rate_hz: float = DEFAULT_RATE_HZ,
                          window_ns: float = DEFAULT_WINDOW_NS) -> SimulatedEvents:
    """Readout windows of the first ``n_clusters`` clusters of the design layout holding
    only optical noise (untriggered)."""
    rng = np.random.default_rng(seed)
    configuration = design_configuration()
    n_modules = n_clusters * STRINGS_PER_CLUSTER * MODULES_PER_STRING
    offsets, module, t, charge = sample_noise(rng, n_events, n_modules, noise_rate_hz, window_ns)
    position = configuration.position[module]
    hits = {"x": position[:, 0].astype(np.float32), "y": position[:, 1].astype(np.float32),
            "z": position[:, 2].astype(np.float32), "t": t, "charge": charge,
            "channel": configuration.channel[module].astype(np.int32), "true_label": np.zeros(t.size, dtype=np.int8)}
    events = {"true_kind": np.full(n_events, "noise", dtype=object)}
    return SimulatedEvents("baikal-gvd", np.arange(n_events, dtype=np.int64), offsets, hits, events, configuration)
