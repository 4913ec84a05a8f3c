"""The LHC particle-flow definition: columns, node features and graph recipe.

The graph joins each candidate to its 8 nearest within Delta R = 0.4 in (eta, phi), the
cone PUPPI uses for its local shape (Bertolini, Harris, Low, Tran, JHEP 10 (2014) 059,
arXiv:1407.6013). Features: log10 pT and energy (GeV), eta in units of the tracker
acceptance 2.5, charge, the PF class, the track dz to the leading vertex (asinh of
dz / 100 um, so that both the sub-millimetre separation from a merged pile-up vertex and
the centimetres to the others count; NaN for neutrals set to 0), the vertex association,
the number of reconstructed vertices (a pile-up density), and PUPPI's local shapes
(``baselines.puppi_alphas``): alpha from charged leading-vertex neighbours and from all
neighbours, and the PUPPI weight, so that the network starts from what PUPPI knows and
learns what it misses; and the summed pT of leading-vertex tracks within Delta R 0.4 and
0.8 (``cones``), the jet-scale context its nearest neighbours do not show.
"""

from __future__ import annotations

import numpy as np

from graphreco.kernels import eta_phi_radius_graph

from ..base import Column, Derived, Detector, Headline, HeadlineFigure, OneHot, Scaled, Simulator
from .baseline import charged_hadron_subtraction, classical_scores, puppi, puppi_alphas
from .cones import cone_pt_sums
from .simulation import SIMULATION_OPTIONS, simulate_from_options

CONE = 0.4
MAX_CANDIDATES = 100_000
"""Candidates one crossing may hold: ~9 times a crossing of 200 pile-up (~11,000). A
10^5-candidate crossing is reconstructed in ~8 s and 0.8 GB; beyond, the PUPPI cone sums
of the node features grow as the square of the candidate density."""
MAX_NEIGHBOURS = 8
PF_CLASSES = (211, 11, 13, 22, 130)
DZ_WIDTH = 0.01
"""cm: dz enters as asinh(dz / 100 um), resolving both the ~0.1-1 mm that separate a
leading-vertex track from one of a merged pile-up vertex (track z0 resolution 30 um to
1 mm) and the centimetres to other vertices."""
DZ_ASINH_SCALE = 8.0
"""asinh(20 cm / 100 um) = 8.3: the feature stays within about +-1."""
JET_CONES = (0.4, 0.8)
MAX_ENERGY = 1e5
"""GeV: the largest ``pt`` and ``energy`` of a candidate (both magnitudes, so at least 0):
7 times the 13.6 TeV of a whole LHC collision."""
MAX_ETA = 10.0
"""|eta| of a candidate at most: twice the reach of the forward calorimeters (5.2)."""
PHI_ROUNDING = 0.01
"""rad: how far beyond the format's [-pi, pi) a ``phi`` may lie from rounding (float32's
pi is above pi; NanoAOD stores phi with a shortened mantissa)."""
MAX_DZ = 1e4
"""cm: the largest |``dz``|, 20 times the length of a tracker (a track's z within +-2.7 m)."""
"""Delta R of the cones in which leading-vertex track pT is summed."""
CONE_SUM_SCALE = 3.0
"""log(1 + 20 GeV) = 3: a hard jet's tracks give about 1."""
ALPHA_SCALE = 10.0
"""alpha = log(sum (pT/Delta R)^2 / GeV^2) spans about -1 to 17; 0 where no neighbour counts."""


def pileup_shapes(offsets: np.ndarray, hits, events) -> np.ndarray:
    """PUPPI's alpha (central and forward definitions, scaled by 1/10) and weight per
    candidate, and the summed pT of leading-vertex tracks within Delta R 0.4 and 0.8
    (log(1 + pT/GeV) / 3): the jet a candidate may sit in."""
    alphas = puppi_alphas(offsets, hits)
    leading_tracks = (hits["charge"] != 0) & (hits["pv_assoc"] == 1)
    cones = [np.log1p(cone_pt_sums(offsets, hits["pt"], hits["eta"], hits["phi"], leading_tracks, radius))
             / CONE_SUM_SCALE for radius in JET_CONES]
    return np.column_stack([alphas["central"] / ALPHA_SCALE, alphas["forward"] / ALPHA_SCALE,
                            puppi(offsets, hits, events["npv"]), *cones])


WORKING_POINT = 0.5
"""The hit score at which a candidate is kept (``score >= 0.5``, as the evaluation's working point)."""


def vertex_score_bounds(offsets: np.ndarray, hits) -> tuple[np.ndarray, np.ndarray]:
    """Score bounds (low, high) per candidate from the vertex association, as PUPPI treats
    charged candidates (weight 1 from the leading vertex, 0 from pile-up; Bertolini et al.,
    arXiv:1407.0408) and CHS defines it (``baseline.charged_hadron_subtraction``): a charged
    candidate of the leading vertex scores within [0.5, 1], one of a pile-up vertex within
    [0, 0.5], a neutral within [0, 1]. The network ranks the candidates of each class, so
    the charged ranking is never worse than CHS's, and at the working point the charged
    candidates are CHS's (the network's own charged ranking fell 0.014 in AUC below CHS on
    an independent sample)."""
    charged = np.asarray(hits["charge"]) != 0
    leading = charged_hadron_subtraction(offsets, hits) > 0
    low = np.where(charged & leading, WORKING_POINT, 0.0).astype(np.float32)
    high = np.where(charged & ~leading, WORKING_POINT, 1.0).astype(np.float32)
    return low, high


def build_edges(offsets: np.ndarray, hits) -> np.ndarray:
    """Candidates of a crossing within Delta R < 0.4, the 8 nearest at most."""
    return eta_phi_radius_graph(offsets, hits["eta"], hits["phi"], CONE, MAX_NEIGHBOURS)


HEADLINE = Headline(
    methods=(("gnn", "pipeline"), ("chs", "CHS"), ("puppi", "PUPPI"), ("softkiller", "SoftKiller")),
    figures=(
        HeadlineFigure("AUC, all candidates (pT > 0.5 GeV)", "", "particles/all/methods/{method}/auc"),
        HeadlineFigure("AUC, charged candidates (pT > 0.5 GeV)", "", "particles/charged/methods/{method}/auc"),
        HeadlineFigure("AUC, neutral candidates (pT > 1 GeV)", "", "particles/neutral_pt1/methods/{method}/auc"),
        HeadlineFigure("reference jets matched (pT > 30 GeV, |η| < 2.5)", "",
                       "jets_and_met/methods/{method}/jets/matching_efficiency"),
        HeadlineFigure("jet pT response (median)", "", "jets_and_met/methods/{method}/jets/response_median"),
        HeadlineFigure("jet pT resolution (68 % half-width / median)", "",
                       "jets_and_met/methods/{method}/jets/response_resolution"),
        HeadlineFigure("jet mass resolution (68 % half-width)", "GeV",
                       "jets_and_met/methods/{method}/jets/mass_resolution_gev"),
        HeadlineFigure("missing pT resolution (68 % half-width, x and y)", "GeV",
                       "jets_and_met/methods/{method}/met/resolution_gev"),
    ),
)
"""The evaluation report's headline: the figures of docs/lhc-pf.md's tables."""

DETECTOR = Detector(
    name="lhc-pf",
    description="LHC particle-flow candidates in a bunch crossing with pile-up",
    columns=(
        Column("pt", "float32", per_hit=True, finite=True, bounds=(0.0, MAX_ENERGY)),
        Column("eta", "float32", per_hit=True, finite=True, bounds=(-MAX_ETA, MAX_ETA)),
        Column("phi", "float32", per_hit=True, finite=True, bounds=(-np.pi - PHI_ROUNDING, np.pi + PHI_ROUNDING)),
        Column("energy", "float32", per_hit=True, finite=True, bounds=(0.0, MAX_ENERGY)),
        Column("charge", "int8", per_hit=True, bounds=(-1, 1)),
        Column("pdg_id", "int32", per_hit=True),
        Column("dz", "float32", per_hit=True, bounds=(-MAX_DZ, MAX_DZ)),
        Column("pv_assoc", "int8", per_hit=True, bounds=(-1, 1)),
        Column("npv", "int32", per_hit=False),
        Column("true_label", "int8", per_hit=True, required=False),
        Column("true_jet", "int32", per_hit=True, required=False),
        Column("true_npu", "int32", per_hit=False, required=False),
    ),
    node_features=(
        Scaled("pt", 1.0, log10=True, floor=0.01),
        Scaled("energy", 1.0, log10=True, floor=0.01),
        Scaled("eta", 2.5),
        Scaled("charge", 1.0),
        OneHot("pdg_id", PF_CLASSES, absolute=True),
        Scaled("dz", DZ_ASINH_SCALE, asinh_width=DZ_WIDTH, fill_nan=0.0),
        OneHot("pv_assoc", (-1, 0, 1)),
        Scaled("npv", 100.0, per_event=True),
        Derived(("puppi_alpha_central", "puppi_alpha_forward", "puppi_weight", "leading_track_pt_cone04",
                 "leading_track_pt_cone08"), pileup_shapes),
    ),
    build_edges=build_edges,
    hit_score_bounds=vertex_score_bounds,
    max_hits_per_event=MAX_CANDIDATES,
    relative_features=(2,),
    simulator=Simulator("LHC bunch crossings with pile-up (needs the lhc extra: Pythia 8)",
                        simulate_from_options, SIMULATION_OPTIONS,
                        small_sample=("--events", "2", "--pileup", "20", "--pool-size", "60")),
    evaluation="pileup",
    classical_scores=classical_scores,
    keep_or_drop=("chs", "softkiller"),
    headline=HEADLINE,
)
