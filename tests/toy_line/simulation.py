"""Events of the toy line: one particle travelling along the line of sensors, plus noise.

Within a readout window of ``WINDOW_NS`` ns a particle enters the line at ``x0`` (m) at
time ``t0`` (ns) and moves in +x at speed ``v`` (m/ns) for a track length ``L`` (m). Every
sensor at ``x0 <= x <= x0 + L`` fires with probability ``efficiency``, at

    t = t0 + (x - x0) / v + N(0, time_jitter_ns**2).

Independently every sensor records Poisson noise hits of mean ``noise_rate_khz * 1e3 *
WINDOW_NS * 1e-9`` per window, at times uniform over the window. Signal hits therefore
lie on a straight line in (x, t) of slope 1 / v, within at most ``L_max / v_min`` = 200 ns;
noise hits are scattered over the whole 2 us.

Per hit: ``sensor`` (int32), ``x`` (float32, m), ``t`` (float32, ns from the window's
start), ``true_label`` (int8: 1 signal, 0 noise); hits of an event are ordered by time.
Per event: ``true_position`` (x0, m), ``true_time`` (t0, ns), ``true_speed`` (v, m/ns),
``true_length`` (L, m).
"""

from __future__ import annotations

import numpy as np

from graphreco.detectors import Option, SimulatedEvents, Simulator

from .geometry import POSITIONS

NAME = "toy-line"
WINDOW_NS = 2000.0
"""Length of a readout window (ns)."""
SPEED_RANGE = (0.1, 0.3)
"""Particle speeds (m/ns), thrown uniformly."""
LENGTH_RANGE = (6.0, 20.0)
"""Track lengths along the line (m), thrown uniformly; the track always lies on the line."""
ENTRY_TIME_RANGE = (0.1 * WINDOW_NS, 0.8 * WINDOW_NS)
"""Entry times t0 (ns), thrown uniformly, so that every track ends inside the window."""
NOISE_RATE_KHZ = 400.0
"""Default noise rate of a sensor (kHz): 0.8 noise hits per sensor and window."""
EFFICIENCY = 0.9
"""Default probability that a sensor on the track records the particle."""
TIME_JITTER_NS = 2.0
"""Default rms of the Gaussian time resolution of signal hits (ns)."""


def noise_hits_per_sensor(noise_rate_khz: float) -> float:
    """Mean number of noise hits of one sensor in a readout window, for a rate in kHz."""
    return noise_rate_khz * 1e3 * WINDOW_NS * 1e-9


def simulate_events(events: int, seed: int = 0, noise_rate_khz: float = NOISE_RATE_KHZ,
                    efficiency: float = EFFICIENCY, time_jitter_ns: float = TIME_JITTER_NS) -> SimulatedEvents:
    """Simulate ``events`` readout windows of the toy line with truth.

    Args:
        events: number of events (readout windows).
        seed: seed of the random generator; equal seeds give equal events.
        noise_rate_khz: noise rate of every sensor (kHz); 400 kHz is 0.8 noise hits per
            sensor and window, ~13 per event against ~5 signal hits.
        efficiency: probability that a sensor on the track records the particle.
        time_jitter_ns: rms of the Gaussian time resolution of signal hits (ns).

    Returns:
        ``SimulatedEvents`` of detector ``"toy-line"`` with ``event_id`` 0..events-1.
    """
    rng = np.random.default_rng(seed)
    speed = rng.uniform(*SPEED_RANGE, events)
    length = rng.uniform(*LENGTH_RANGE, events)
    position = rng.uniform(POSITIONS[0], POSITIONS[-1] - length)
    time = rng.uniform(*ENTRY_TIME_RANGE, events)

    along = POSITIONS[None, :] - position[:, None]  # (events, sensors) m
    fired = (along >= 0) & (along <= length[:, None]) & (rng.random(along.shape) < efficiency)
    signal_event, signal_sensor = np.nonzero(fired)
    signal_t = (time[signal_event] + along[signal_event, signal_sensor] / speed[signal_event]
                + rng.normal(0.0, time_jitter_ns, signal_event.size))

    noise_counts = rng.poisson(noise_hits_per_sensor(noise_rate_khz), (events, POSITIONS.size))
    noise_event = np.repeat(np.arange(events), noise_counts.sum(axis=1))
    noise_sensor = np.repeat(np.tile(np.arange(POSITIONS.size), events), noise_counts.ravel())
    noise_t = rng.uniform(0.0, WINDOW_NS, noise_event.size)

    event = np.concatenate([signal_event, noise_event])
    sensor = np.concatenate([signal_sensor, noise_sensor])
    t = np.concatenate([signal_t, noise_t])
    label = np.concatenate([np.ones(signal_event.size, np.int8), np.zeros(noise_event.size, np.int8)])
    order = np.lexsort((t, event))
    offsets = np.zeros(events + 1, dtype=np.int64)
    np.cumsum(np.bincount(event, minlength=events), out=offsets[1:])
    return SimulatedEvents(
        detector=NAME,
        event_id=np.arange(events, dtype=np.int64),
        offsets=offsets,
        hits={"sensor": sensor[order].astype(np.int32), "x": POSITIONS[sensor[order]].astype(np.float32),
              "t": t[order].astype(np.float32), "true_label": label[order]},
        events={"true_position": position, "true_time": time, "true_speed": speed, "true_length": length},
    )


SIMULATOR = Simulator(
    help=f"a particle crossing a line of {POSITIONS.size} sensors, with Poisson noise (a test detector)",
    simulate=simulate_events,
    options=(
        Option("--noise-rate-khz", {"type": float, "default": NOISE_RATE_KHZ, "help": "noise rate per sensor (kHz)"}),
        Option("--efficiency", {"type": float, "default": EFFICIENCY,
                                "help": "probability that a sensor on the track records the particle"}),
        Option("--time-jitter-ns", {"type": float, "default": TIME_JITTER_NS,
                                    "help": "rms time resolution of signal hits (ns)"}),
    ),
)
