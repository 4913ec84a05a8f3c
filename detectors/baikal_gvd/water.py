"""Optical properties of Lake Baikal water at the Baikal-GVD site (1 km depth, ~480 nm).

- Phase refractive index 1.345 (Cherenkov angle arccos(1/n) = 42.0 deg) and group index
  1.37: Baikal Collaboration, Aynutdinov et al., "Optical properties of deep water in
  Lake Baikal", NIM A 567 (2006) 433; Avrorin et al., Instrum. Exp. Tech. 57 (2014) 262.
- Absorption length 22 m at 480 nm (seasonal range 20-24 m): same sources and
  Baikal-GVD, PoS(ICRC2019)1011.
- Geometric scattering length 50 m (range 30-70 m) with a strongly forward phase function,
  mean cosine 0.88, so the effective scattering length is ~400 m: light reaching a
  module tens of metres away is mostly direct, with delays of a few ns from small-angle
  scattering (same sources).
"""

from __future__ import annotations

import math

SPEED_OF_LIGHT = 0.299792458  # m/ns, vacuum
PHASE_INDEX = 1.345
GROUP_INDEX = 1.37
ABSORPTION_LENGTH = 22.0  # m
SCATTERING_LENGTH = 50.0  # m, geometric
MEAN_SCATTERING_COSINE = 0.88

CHERENKOV_ANGLE = math.acos(1.0 / PHASE_INDEX)  # rad, 42.0 deg
GROUP_VELOCITY = SPEED_OF_LIGHT / GROUP_INDEX  # m/ns, 0.219
SCATTERING_DELAY_PER_METRE = (1.0 - MEAN_SCATTERING_COSINE) / 6.0 / GROUP_VELOCITY
"""Mean extra travel time (ns per m of path) of a photon scattered once on its way: a path
of length L bent by a small angle theta at fraction f of the way is longer by
L f (1 - f) theta**2 / 2; averaged over f and with <theta**2 / 2> ~ 1 - <cos>, the detour
is L (1 - <cos>) / 6 (0.091 ns/m)."""
