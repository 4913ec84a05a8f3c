"""Baikal-GVD geometry: clusters of 8 strings with 36 optical modules each.

Design numbers (Baikal-GVD Collaboration, Avrorin et al., "Baikal-GVD: status and
prospects", EPJ Web Conf. 191 (2018) 01006, arXiv:1808.10353; and PoS(ICRC2021)002):
- a cluster is a central string and 7 peripheral strings on a circle of 60 m radius;
- each string carries 36 optical modules 15 m apart, from 750 m to 1275 m depth;
- cluster centres are ~300 m apart; the 2025 array has 14 clusters.
The real cluster positions are irregular; here the centres fill a triangular lattice of
300 m pitch, nearest the origin first, which reproduces the spacing and footprint.

Detector frame: z up, origin at the centre of the instrumented volume (1012.5 m depth).
Channel ids are stable: ``channel = (cluster * 8 + string) * 36 + module``, string 0 the
central one, module 0 the deepest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..base import DetectorConfiguration

STRINGS_PER_CLUSTER = 8
MODULES_PER_STRING = 36
MODULE_SPACING = 15.0  # m
STRING_RADIUS = 60.0  # m, peripheral strings to the central one
CLUSTER_SPACING = 300.0  # m
TOP_DEPTH, BOTTOM_DEPTH = 750.0, 1275.0  # m below the surface
CENTRE_DEPTH = 0.5 * (TOP_DEPTH + BOTTOM_DEPTH)
N_CLUSTERS_2025 = 14


@dataclass(frozen=True)
class Geometry:
    """Optical-module positions (m) and ids, one entry per module, indexed by channel."""

    channel: np.ndarray
    cluster: np.ndarray
    string: np.ndarray
    module: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray

    @property
    def n_modules(self) -> int:
        return int(self.channel.size)


def cluster_centres(n_clusters: int) -> np.ndarray:
    """Cluster centres (n, 2) in m: the triangular-lattice sites nearest the origin."""
    span = int(np.ceil(np.sqrt(n_clusters))) + 2
    i, j = np.meshgrid(np.arange(-span, span + 1), np.arange(-span, span + 1), indexing="ij")
    x = CLUSTER_SPACING * (i + 0.5 * j)
    y = CLUSTER_SPACING * (np.sqrt(3) / 2) * j
    sites = np.stack([x.ravel(), y.ravel()], axis=1)
    order = np.lexsort((sites[:, 1], sites[:, 0], np.round(np.hypot(sites[:, 0], sites[:, 1]), 6)))
    centres = sites[order[:n_clusters]]
    return centres - centres.mean(axis=0)


def design_geometry(n_clusters: int = N_CLUSTERS_2025) -> Geometry:
    """The module layout from the design numbers above."""
    angles = 2 * np.pi * np.arange(STRINGS_PER_CLUSTER - 1) / (STRINGS_PER_CLUSTER - 1)
    string_xy = np.concatenate([[[0.0, 0.0]], STRING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], 1)])
    cluster, string, module = np.meshgrid(np.arange(n_clusters), np.arange(STRINGS_PER_CLUSTER),
                                          np.arange(MODULES_PER_STRING), indexing="ij")
    cluster, string, module = cluster.ravel(), string.ravel(), module.ravel()
    xy = cluster_centres(n_clusters)[cluster] + string_xy[string]
    depth = BOTTOM_DEPTH - MODULE_SPACING * module
    return Geometry(channel=(cluster * STRINGS_PER_CLUSTER + string) * MODULES_PER_STRING + module,
                    cluster=cluster, string=string, module=module,
                    x=xy[:, 0], y=xy[:, 1], z=CENTRE_DEPTH - depth)


def design_configuration(n_clusters: int = N_CLUSTERS_2025) -> DetectorConfiguration:
    """The design layout of ``n_clusters`` clusters as a configuration: every module live,
    positions to 0.01 m (as a surveyed table gives them). The shipped default layout
    (``layout.geometry.parquet``, scripts/make_default_layouts.py) is that of 14 clusters."""
    design = design_geometry(n_clusters)
    position = np.round(np.column_stack([design.x, design.y, design.z]), 2)
    return DetectorConfiguration("baikal-gvd", position, design.channel.astype(np.int32),
                                 np.ones(design.n_modules, dtype=bool),
                                 f"baikal-gvd design layout, {n_clusters} clusters")
