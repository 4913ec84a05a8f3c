"""Accidental counters: random atmospheric muons within the readout window.

On a level-2 trigger TA reads out every counter with a level-0 signal (> 0.3 MIP in both
layers) within +-32 us of the trigger time (NIM A 689 (2012) 87; the +-32 us selection
of ``sdmc_spctr.c``). Besides the shower, a counter fires level-0 on background particles,
mostly single atmospheric muons: ~1 cm^-2 min^-1 through a horizontal surface at sea
level (PDG, Cosmic rays review), ~20 % more at the TA depth of 880 g/cm^2, so ~600 Hz on
3 m^2, plus electromagnetic particles that cross both layers. We take a level-0 rate of
700 Hz per counter; the TA SD Monte Carlo's background library has 1.5 kHz of particles
of any size per counter (``ATMOSRATE`` = 0.1225 per 80 us), of which about half pass
both 0.3 MIP thresholds (assumed). A counter then fires by chance within the 64 us
window with probability 1 - exp(-700 Hz x 64 us) = 4.4 %: ~22 accidental counters per
event. Their times are uniform in the window; each is one muon of zenith angle drawn
from the cos^2 distribution at the ground, depositing sec(zenith) VEM on average in each
layer. A shower counter keeps its shower signal (a second waveform in the same counter is
not recorded here); random level-1 coincidences are negligible and do not enter the
trigger.
"""

from __future__ import annotations

import numpy as np

from .fluctuations import sample_single_particles

LEVEL0_RATE_HZ = 700.0
READOUT_HALF_WINDOW = 32_000.0  # ns


def fire_probability(rate_hz: float, window_ns: float = 2 * READOUT_HALF_WINDOW) -> float:
    """Chance that a counter fires level-0 at least once in a window of ``window_ns``."""
    return float(-np.expm1(-rate_hz * window_ns * 1e-9))


def sample_muon_path_factor(rng: np.random.Generator, n: int) -> np.ndarray:
    """sec(zenith) of ``n`` atmospheric muons through a horizontal counter: the intensity
    goes as cos^2, the flux through a flat counter as cos^3, so cos^4 is uniform; capped
    at 10 (84 deg, where the 2 m counter edge limits the path)."""
    return np.minimum(rng.uniform(0.0, 1.0, n) ** -0.25, 10.0)


def sample_accidentals(rng: np.random.Generator, n_events: int, n_counters: int, busy: np.ndarray,
                       rate_hz: float = LEVEL0_RATE_HZ) -> dict[str, np.ndarray]:
    """Accidental counters of ``n_events`` readout windows over ``n_counters`` counters.

    ``busy`` (n_events, n_counters) bool marks counters that already carry a shower signal.
    Returns per accidental: ``event``, ``counter``, ``t`` (ns from the window start) and
    ``signal_upper``, ``signal_lower`` (VEM), ordered by event.
    """
    fired = (rng.random((n_events, n_counters)) < fire_probability(rate_hz)) & ~busy
    event, counter = np.nonzero(fired)
    upper, lower = sample_single_particles(rng, sample_muon_path_factor(rng, event.size))
    t = rng.uniform(0.0, 2 * READOUT_HALF_WINDOW, event.size)
    return {"event": event, "counter": counter, "t": t, "signal_upper": upper, "signal_lower": lower}
