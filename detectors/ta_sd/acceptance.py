"""Trigger efficiency of the simulated TA SD: triggered over thrown showers.

``python -m graphreco.detectors.ta_sd.acceptance`` prints the table of docs/ta-sd.md:
per bin of lg(E/eV) (log-uniform inside the bin), the efficiency for all thrown showers
(cores over the array plus 2.4 km, zenith < 60 deg) and for TA's fiducial selection
(cores >= 1.2 km inside the edge, zenith < 45 deg), the latter also per primary.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from .geometry import GRID_SPACING
from .simulation import CORE_MARGIN, throw_and_trigger


def trigger_efficiency(log10_energy_range: tuple[float, float], n_thrown: int = 4096, seed: int = 0,
                       primaries: Sequence[str] = ("proton", "iron", "photon"), max_zenith_deg: float = 45.0,
                       min_edge_distance: float = GRID_SPACING) -> float:
    """Fraction of ``n_thrown`` showers that trigger, energies log-uniform in the range,
    cores uniform at least ``min_edge_distance`` m inside the edge (negative: outside)."""
    readout = throw_and_trigger(np.random.default_rng(seed), n_thrown, primaries, log10_energy_range, 1.0,
                                max_zenith_deg, core_margin=-min_edge_distance)
    return len(readout["truth"]["pdg"]) / n_thrown


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thrown", type=int, default=4096, help="showers thrown per bin and selection")
    parser.add_argument("--step", type=float, default=0.25, help="bin width in lg(E/eV)")
    args = parser.parse_args(argv)
    print("| lg(E/eV) | all thrown | fiducial | fiducial p | fiducial Fe | fiducial photon |")
    print("|---|---|---|---|---|---|")
    for low in np.arange(18.0, 20.5 - 1e-9, args.step):
        edges = (low, low + args.step)
        row = [trigger_efficiency(edges, args.thrown, max_zenith_deg=60.0, min_edge_distance=-CORE_MARGIN),
               trigger_efficiency(edges, args.thrown)]
        row += [trigger_efficiency(edges, args.thrown, primaries=(name,)) for name in ("proton", "iron", "photon")]
        print(f"| {edges[0]:.2f}-{edges[1]:.2f} | " + " | ".join(f"{value:.3f}" for value in row) + " |")


if __name__ == "__main__":
    main()
