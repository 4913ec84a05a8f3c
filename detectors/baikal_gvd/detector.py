"""The Baikal-GVD detector definition: columns, node features and graph recipe.

Feature scales come from the geometry (Baikal-GVD Collaboration, "The Baikal-GVD neutrino
telescope: design and status", PoS(ICRC2021)002; arXiv:1808.10353): strings 60 m from
the cluster centre, 36 modules 15 m apart spanning 525 m (geometry.py), so positions are measured in
units of 100 m (x, y relative to the event's mean hit position, z from the centre of the
instrumented depth). A muon crosses the 525 m string in ~1.75 us, so hit times relative
to the event mean are in microseconds. Charges span 0.3 to >1000 photo-electrons: log10.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graphreco.kernels import spacetime_string_graph

from ..base import Column, Detector, Headline, HeadlineFigure, Scaled, Simulator
from .baseline import reconstruct_classically, refit_tracks
from .geometry import MODULE_SPACING, STRING_RADIUS
from .simulation import SIMULATION_OPTIONS, simulate_from_options
from .water import GROUP_VELOCITY

KNN_NEIGHBOURS = 8
MAX_HITS = 10_000
"""Hits one readout window may hold: 35 pulses per module of a cluster (288 modules), 35
times the largest simulated event (~290 hits with 80 kHz noise). The string topology
keeps at most 128 sources per hit (``kernels.topology``), but the causality cleaning of
the classical chain still grows as the square of the hits."""


MAX_EVENT_SPAN = 1e6
"""ns: the longest an event may last from its first hit (``t`` bounds): 200 readout windows
of 5 us (``noise.DEFAULT_WINDOW_NS``), a margin for multi-cluster windows. A time since the
first hit is then held in float32 to 0.06 ns, far below a module's ~2 ns resolution."""
MAX_CHARGE = 1e6
"""p.e.: the largest pulse charge of either sign (``charge`` bounds), 1,000 times the
charge at which a module saturates (``simulation.SATURATION``). The format fixes no sign."""


def build_edges(offsets: np.ndarray, hits) -> np.ndarray:
    """kNN in space-time (x, y, z, v_light * t) united with the string topology.

    The space-time metric makes causally related hits of a muon or cascade mutual
    neighbours while uncorrelated noise stays apart; the string topology adds the
    modules up to two steps above and below and on the adjacent strings, whatever their time.
    """
    return spacetime_string_graph(offsets, hits["x"], hits["y"], hits["z"], hits["t"], KNN_NEIGHBOURS,
                                  GROUP_VELOCITY, MODULE_SPACING, max_module_steps=2, string_spacing=STRING_RADIUS)


LAYOUT = Path(__file__).with_name("layout.geometry.parquet")
"""The shipped default layout (scripts/make_default_layouts.py writes it from geometry.py)."""


NUMU_CC_10_HITS = "direction/numu_cc/{method}/by_signal_hits/>=10"
"""Where a method's direction figures of numu CC events with >= 10 signal hits are in the evaluation dict."""

HEADLINE = Headline(
    methods=(("gnn", "pipeline"), ("baseline", "classical: causality cleaning, chi-square track fit")),
    figures=(
        HeadlineFigure("hit precision, neutrino events (score ≥ 0.5)", "", "hits/{method}/precision"),
        HeadlineFigure("hit recall, neutrino events (score ≥ 0.5)", "", "hits/{method}/recall"),
        HeadlineFigure("atmospheric muons passing at 70 % numu CC efficiency", "%",
                       "events_numu_cc_vs_eas/{method}/rejection_at_efficiency/efficiency=0.7/passing_fraction",
                       scale=100.0),
        HeadlineFigure("numu CC, ≥ 10 signal hits: events", "", f"{NUMU_CC_10_HITS}/events"),
        HeadlineFigure("numu CC, ≥ 10 signal hits: reconstructed", "", f"{NUMU_CC_10_HITS}/reconstructed_fraction"),
        HeadlineFigure("numu CC, ≥ 10 signal hits: median angular error", "deg", f"{NUMU_CC_10_HITS}/median_deg"),
        HeadlineFigure("numu CC: coverage of the 68 % cone (target 0.68)", "",
                       "direction/numu_cc/{method}/coverage_68_cone"),
        HeadlineFigure("nue CC: energy resolution (68 % half-width)", "log10 E",
                       "energy/nue_cc/{method}/resolution_log10"),
        HeadlineFigure("nue CC: coverage of 1 σ in energy (target 0.683)", "",
                       "energy/nue_cc/{method}/coverage_1_sigma"),
    ),
)
"""The evaluation report's headline: the figures of docs/baikal-gvd.md's tables."""

DETECTOR = Detector(
    name="baikal-gvd",
    description="Baikal-GVD deep underwater neutrino telescope (optical modules on strings)",
    columns=(
        Column("x", "float32", per_hit=True, finite=True),
        Column("y", "float32", per_hit=True, finite=True),
        Column("z", "float32", per_hit=True, finite=True),
        Column("t", "float32", per_hit=True, finite=True, per_event_offset=True, bounds=(0.0, MAX_EVENT_SPAN)),
        Column("charge", "float32", per_hit=True, finite=True, bounds=(-MAX_CHARGE, MAX_CHARGE)),
        Column("channel", "int32", per_hit=True, required=False),
        Column("true_label", "int8", per_hit=True, required=False),
        Column("true_kind", "string", per_hit=False, required=False),
        *(Column(name, "float64", per_hit=False, required=False)
          for name in ("true_energy", "true_zenith", "true_azimuth", "true_x", "true_y", "true_z", "true_t")),
    ),
    node_features=(
        Scaled("x", 100.0, centre="event_mean"),
        Scaled("y", 100.0, centre="event_mean"),
        Scaled("z", 100.0),
        Scaled("t", 1000.0, centre="event_mean"),
        Scaled("charge", 1.0, log10=True, floor=0.1),
    ),
    build_edges=build_edges,
    default_configuration=LAYOUT,
    max_hits_per_event=MAX_HITS,
    relative_features=(0, 1, 2, 3),
    baseline=reconstruct_classically,
    refine_direction=refit_tracks,
    simulator=Simulator("triggered readout windows of a Baikal-GVD cluster",
                        simulate_from_options, SIMULATION_OPTIONS,
                        small_sample=("--events", "200", "--mix", "numu_cc=3,nue_cc=1,nc=1,eas=8")),
    evaluation="neutrino_events",
    headline=HEADLINE,
)
