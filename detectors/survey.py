"""What real arrays do to a designed layout, for the simulators: a survey frame whose
origin is elsewhere, survey scatter of the sensor positions, dead sensors. Shared by the
detectors' ``graphreco simulate`` options (``SURVEY_OPTIONS``).

The derived configuration is drawn from its own random stream (``seed``, ``SURVEY_STREAM``),
so the events' stream, and with the default options the events themselves, stay as on the
designed layout.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .base import DetectorConfiguration, Option, SimulatedEvents

SURVEY_STREAM = 5117
"""Second entropy word of the survey's random stream (the events use the seed alone)."""

SURVEY_OPTIONS = (
    Option("--origin-shift", {"type": float, "nargs": 2, "default": (0.0, 0.0), "metavar": ("DX", "DY"),
                              "help": "m: the survey frame's origin lies (-DX, -DY) from the design's: hits, true "
                                      "positions and the written configuration move by (DX, DY)"}),
    Option("--survey-scatter", {"type": float, "default": 0.0, "metavar": "M",
                                "help": "m: rms per axis of each sensor's Gaussian displacement from its design "
                                        "position (the configuration holds the displaced positions)"}),
    Option("--dead-fraction", {"type": float, "default": 0.0, "metavar": "F",
                               "help": "fraction of the sensors not taking data (live = false: never hit, "
                                       "not silent either)"}),
)
"""The options every simulator of an array of fixed sensors offers beside its own."""


def surveyed(configuration: DetectorConfiguration, seed: int, survey_scatter: float,
             dead_fraction: float) -> DetectorConfiguration:
    """``configuration`` as built and surveyed: each sensor displaced by a Gaussian of rms
    ``survey_scatter`` (m) per axis, and ``round(dead_fraction * n)`` sensors, chosen at
    random, dead (``live`` false). The unchanged configuration where both are 0."""
    if survey_scatter < 0.0 or not 0.0 <= dead_fraction <= 1.0:
        raise ValueError(f"survey scatter {survey_scatter} m must be >= 0 and the dead fraction {dead_fraction} "
                         "within [0, 1]")
    if survey_scatter == 0.0 and dead_fraction == 0.0:
        return configuration
    rng = np.random.default_rng([seed, SURVEY_STREAM])
    position = configuration.position + rng.normal(0.0, survey_scatter, configuration.position.shape)
    live = configuration.live.copy()
    dead = rng.choice(configuration.n_sensors, int(round(dead_fraction * configuration.n_sensors)), replace=False)
    live[dead] = False
    return replace(configuration, position=position, live=live,
                   source=f"{configuration.source}, surveyed (scatter {survey_scatter:g} m, "
                          f"{dead.size} dead, seed {seed})")


def shifted(simulated: SimulatedEvents, origin_shift: tuple[float, float],
            event_columns: tuple[str, str]) -> SimulatedEvents:
    """``simulated`` in a survey frame whose origin lies ``-origin_shift`` (m, x and y)
    from the simulation's: hit ``x``, ``y``, the true positions ``event_columns`` (the
    x and y columns) and the configuration move together. Unchanged for (0, 0)."""
    dx, dy = (float(value) for value in origin_shift)
    if dx == 0.0 and dy == 0.0:
        return simulated
    hits = simulated.hits | {"x": (simulated.hits["x"] + np.float32(dx)).astype(np.float32),
                             "y": (simulated.hits["y"] + np.float32(dy)).astype(np.float32)}
    events = simulated.events | {event_columns[0]: simulated.events[event_columns[0]] + dx,
                                 event_columns[1]: simulated.events[event_columns[1]] + dy}
    configuration = simulated.configuration
    if configuration is not None:
        configuration = replace(configuration, position=configuration.position + np.array([dx, dy, 0.0]),
                                source=f"{configuration.source}, origin shifted by ({dx:g}, {dy:g}) m")
    return replace(simulated, hits=hits, events=events, configuration=configuration)
