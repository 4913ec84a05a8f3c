"""The Telescope Array SD definition: columns, node features and graph recipe.

Scales from the array (Abu-Zayyad et al., "The surface detector array of the Telescope
Array experiment", NIM A 689 (2012) 87): counters on a 1.2 km square grid, positions in
grid units relative to the event's mean counter position; altitude differences of the
counters are ~100 m; a shower front at 45 deg crosses 10 km of array in ~20 us, so times
relative to the event mean are in units of 10 us. Signals of 1 to >1000 VEM: log10.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graphreco.kernels import surface_grid_graph

from ..base import (
    Column,
    Detector,
    DetectorConfiguration,
    Headline,
    HeadlineFigure,
    Scaled,
    ShowerCuts,
    Simulator,
)
from .baseline import FIT_FEATURE_NAMES, fit_features, reconstruct_classically, refit_showers
from .composition import PRIMARY_NAMES
from .energy_combination import ENERGY_COMBINATION
from .geometry import (
    FIDUCIAL_MAX_ZENITH,
    FIDUCIAL_MIN_EDGE_DISTANCE,
    GRID_SPACING,
    N_COUNTERS,
    distance_to_edge,
    in_fiducial_volume,
)
from .simulation import SIMULATION_OPTIONS, simulate_from_options

NEIGHBOUR_STEPS = 2.0  # counters up to two grid steps apart (12 neighbours on a full grid)
MAX_NEIGHBOURS = 16
MIN_SHOWER_COUNTERS = 5
"""Counters hit by the shower that an evaluated event needs."""


MAX_EVENT_SPAN = 1e6
"""ns: the longest an event may last from its first counter (``t`` bounds): 15 readouts of
64 us (+-32 us around the trigger, ``accidentals.READOUT_HALF_WINDOW``), 10 times a
horizontal shower's crossing of the array. A time since the first counter is then held
in float32 to 0.06 ns, far below the 20 ns FADC bins."""
MAX_SIGNAL = 1e6
"""VEM: the largest layer signal of either sign (``signal_upper``, ``signal_lower``
bounds), 1,000 times what a layer's 12-bit FADC records before it saturates (a few
hundred VEM, ``fluctuations.saturate``). The format fixes no sign."""


def fiducial(columns: dict[str, np.ndarray], configuration: DetectorConfiguration) -> np.ndarray:
    """Whether reconstructed showers pass TA's fiducial cuts (zenith, core inside the edge
    of the array of ``configuration``)."""
    return in_fiducial_volume(columns["reco_zenith"], columns["reco_core_x"], columns["reco_core_y"], configuration)


def build_edges(offsets: np.ndarray, hits) -> np.ndarray:
    """Counters of an event within two grid spacings of each other."""
    return surface_grid_graph(offsets, hits["x"], hits["y"], GRID_SPACING, NEIGHBOUR_STEPS, MAX_NEIGHBOURS)


LAYOUT = Path(__file__).with_name("layout.geometry.parquet")
"""The shipped default layout (scripts/make_default_layouts.py writes it from geometry.py)."""


SELECTED = "methods/{method}/all"
"""Where a method's figures on all selected showers are in the evaluation dict."""

HEADLINE = Headline(
    methods=(("gnn", "pipeline"), ("baseline", "classical: standard fit")),
    figures=(
        HeadlineFigure("selected showers", "", f"{SELECTED}/direction/events"),
        HeadlineFigure("reconstructed", "", f"{SELECTED}/direction/reconstructed_fraction"),
        HeadlineFigure("68 % angular error", "deg", f"{SELECTED}/direction/q68_deg"),
        HeadlineFigure("energy resolution (68 % half-width)", "log10 E", f"{SELECTED}/energy/resolution_log10"),
        HeadlineFigure("energy bias (median)", "log10 E", f"{SELECTED}/energy/bias_log10"),
        HeadlineFigure("68 % core distance", "m", f"{SELECTED}/core/q68_m"),
        HeadlineFigure("coverage of the 68 % cone (target 0.68)", "", f"{SELECTED}/direction/coverage_68_cone"),
        HeadlineFigure("coverage of 1 σ in energy (target 0.683)", "", f"{SELECTED}/energy/coverage_1_sigma"),
        HeadlineFigure("coverage of the 68 % core circle (target 0.68)", "", f"{SELECTED}/core/coverage_68_circle"),
    ),
)
"""The evaluation report's headline: the selected showers of every energy bin."""

DETECTOR = Detector(
    name="ta-sd",
    description="Telescope Array surface detector (507 scintillator counters, 1.2 km grid)",
    columns=(
        *(Column(name, "float32", per_hit=True, finite=True) for name in ("x", "y", "z")),
        Column("t", "float32", per_hit=True, finite=True, per_event_offset=True, bounds=(0.0, MAX_EVENT_SPAN)),
        *(Column(name, "float32", per_hit=True, finite=True, bounds=(-MAX_SIGNAL, MAX_SIGNAL))
          for name in ("signal_upper", "signal_lower")),
        Column("channel", "int32", per_hit=True, required=False),
        Column("true_label", "int8", per_hit=True, required=False),
        *(Column(name, "float64", per_hit=False, required=False)
          for name in ("true_energy", "true_zenith", "true_azimuth", "true_core_x", "true_core_y",
                       "true_xmax", "true_s800")),
        Column("true_primary", "int32", per_hit=False, required=False),
    ),
    node_features=(
        Scaled("x", GRID_SPACING, centre="event_mean"),
        Scaled("y", GRID_SPACING, centre="event_mean"),
        Scaled("z", 100.0),
        Scaled("t", 10_000.0, centre="event_mean"),
        Scaled("signal_upper", 1.0, log10=True, floor=0.1),
        Scaled("signal_lower", 1.0, log10=True, floor=0.1),
    ),
    build_edges=build_edges,
    default_configuration=LAYOUT,
    max_hits_per_event=N_COUNTERS,  # one hit per counter; the fits grow as the square of the hits
    relative_features=(0, 1, 2, 3),
    baseline=reconstruct_classically,
    refine_direction=refit_showers,
    event_features=fit_features,
    event_feature_names=FIT_FEATURE_NAMES,
    fiducial=fiducial,
    simulator=Simulator("triggered readouts of the Telescope Array surface detector",
                        simulate_from_options, SIMULATION_OPTIONS, small_sample=("--events", "100")),
    evaluation="air_showers",
    shower_cuts=ShowerCuts(FIDUCIAL_MAX_ZENITH, MIN_SHOWER_COUNTERS, FIDUCIAL_MIN_EDGE_DISTANCE, distance_to_edge),
    primaries=tuple(PRIMARY_NAMES.items()),
    energy_combination=ENERGY_COMBINATION,
    headline=HEADLINE,
)
