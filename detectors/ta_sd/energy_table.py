"""The TA SD energy estimator: primary energy from S800 and the zenith angle.

The TA surface detector turns the density at 800 m, S800 (VEM/m^2), and the zenith angle
into an energy with a look-up table made from simulated showers (Abu-Zayyad et al., ApJ
768 (2013) L1; D. Ivanov, PhD thesis, Rutgers 2012). Ours is made from our own
simulation, in the same spirit:

    log10(E / GeV) = c0(sec theta) + c1(sec theta) * log10(S800 / (VEM m^-2))

fitted by least squares in bins of sec(theta) with equal numbers of showers (one pass of
3-sigma clipping drops failed reconstructions); between the bin centres the coefficients
are interpolated linearly in sec(theta), beyond them they are held. Each bin keeps the rms
of its residuals and, in three slices of log10 S800 (terciles), the spread the residuals
have beyond the fits' own S800 uncertainties (``intrinsic``: shower-to-shower
fluctuations, composition, the LDF slope the fit holds fixed), chosen so that the residuals
over ``sqrt(intrinsic^2 + (c1 * sigma_log10_S800)^2)``, an event's uncertainty, have unit
mean square in the slice; it is interpolated linearly in log10 S800 between the slices'
medians, then in sec(theta). (Without the fits' uncertainties, ``intrinsic`` is the rms.)

The table travels as JSON (``artifacts/energy_table.json``); ``baseline.py`` builds it
from the simulation (``python -m graphreco.detectors.ta_sd.baseline --build-energy-table``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "ta-sd energy table v1"
SHIPPED_TABLE = Path(__file__).with_name("artifacts") / "energy_table.json"
BUILD_COMMAND = "python -m graphreco.detectors.ta_sd.baseline --build-energy-table"
MIN_EVENTS_PER_BIN = 30
CLIP_SIGMAS = 3.0
SPREAD_SLICES = 3  # slices of log10 S800 per bin for the intrinsic spread
FIELDS = ("sec_zenith_centres", "intercept", "slope", "rms", "log10_s800_nodes", "intrinsic", "n_events")


@dataclass(frozen=True)
class EnergyTable:
    """``log10 E = intercept + slope * log10 S800`` per bin of sec(zenith), interpolated.

    Arrays are aligned with ``sec_zenith_centres``; ``log10_s800_nodes`` and ``intrinsic``
    have one row per bin (the spread at those log10 S800); ``description`` says how the
    table was made.
    """

    sec_zenith_centres: np.ndarray
    intercept: np.ndarray
    slope: np.ndarray
    rms: np.ndarray
    log10_s800_nodes: np.ndarray
    intrinsic: np.ndarray
    n_events: np.ndarray
    description: str = ""

    def __repr__(self) -> str:
        sec = self.sec_zenith_centres
        return (f"EnergyTable({len(sec)} bins of sec(zenith) {sec[0]:.3f}..{sec[-1]:.3f}, "
                f"slope {self.slope.min():.3f}..{self.slope.max():.3f}, "
                f"rms {self.rms.min():.3f}..{self.rms.max():.3f})")

    def log10_energy(self, s800: np.ndarray, zenith: np.ndarray,
                     sigma_log10_s800: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """``(log10 E, its 1-sigma uncertainty)`` in log10 GeV from S800 (VEM/m^2), zenith
        (rad) and the fit's uncertainty of log10 S800; NaN where S800 is not positive or a
        value is NaN."""
        s800 = np.atleast_1d(np.asarray(s800, dtype=np.float64))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_s = np.where(s800 > 0, np.log10(s800), np.nan)
        sec = 1.0 / np.cos(np.broadcast_to(np.asarray(zenith, dtype=np.float64), log_s.shape))
        intercept, slope = (np.interp(sec, self.sec_zenith_centres, values) for values in (self.intercept, self.slope))
        # the spread at log10 S800 in every bin, then linear in sec(zenith) between bins
        in_bins = np.array([np.interp(np.nan_to_num(log_s), nodes, values)
                            for nodes, values in zip(self.log10_s800_nodes, self.intrinsic)])
        position = np.nan_to_num(np.interp(sec, self.sec_zenith_centres,
                                           np.arange(len(self.sec_zenith_centres), dtype=np.float64)))
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, len(self.sec_zenith_centres) - 1)
        events = np.arange(log_s.size)
        fraction = position - below
        intrinsic = (1.0 - fraction) * in_bins[below, events] + fraction * in_bins[above, events]
        sigma = np.sqrt(intrinsic ** 2 + (slope * np.asarray(sigma_log10_s800, dtype=np.float64)) ** 2)
        missing = np.isnan(log_s) | np.isnan(sec)
        return np.where(missing, np.nan, intercept + slope * log_s), np.where(missing, np.nan, sigma)

    def save(self, path: str | Path) -> None:
        """Write the table as JSON."""
        document = {"format": FORMAT, "description": self.description,
                    "model": "log10(E/GeV) = intercept + slope * log10(S800 / VEM m^-2), linear in sec(zenith) "
                             "between bin centres; uncertainty sqrt(intrinsic^2 + (slope sigma_log10_S800)^2), "
                             "intrinsic linear in log10 S800 between the nodes of a bin",
                    **{name: np.asarray(getattr(self, name)).tolist()
                       for name in FIELDS}}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(document, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> EnergyTable:
        """Read a table written by :meth:`save`."""
        document = json.loads(Path(path).read_text())
        if document.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT!r} file (format {document.get('format')!r})")
        return cls(**{name: np.asarray(document[name], dtype=np.int64 if name == "n_events" else np.float64)
                      for name in FIELDS},
                   description=document.get("description", ""))


def load_shipped_table() -> EnergyTable:
    """The table shipped in ``artifacts/energy_table.json``; says how to build it if absent."""
    if not SHIPPED_TABLE.exists():
        raise FileNotFoundError(f"no TA SD energy table at {SHIPPED_TABLE}; build it from the simulation with "
                                f"`{BUILD_COMMAND}` (or pass energy_table= explicitly)")
    return EnergyTable.load(SHIPPED_TABLE)


def _line_fit(log_s: np.ndarray, log_e: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Least-squares line ``log_e = a + b log_s`` after one pass of 3-sigma clipping;
    returns a, b and the mask of the points kept."""
    keep = np.ones(log_s.size, dtype=bool)
    for _ in range(2):
        b, a = np.polyfit(log_s[keep], log_e[keep], 1)
        residual = log_e - a - b * log_s
        keep = np.abs(residual) <= CLIP_SIGMAS * max(residual[keep].std(), 1e-6)
    return a, b, keep


def _intrinsic_spread(residual: np.ndarray, measured: np.ndarray) -> float:
    """The spread ``s`` with ``mean(residual^2 / (s^2 + measured^2)) = 1`` (bisection; 0
    where the measured uncertainties alone cover the residuals)."""
    def excess(s):
        return np.mean(residual ** 2 / (s * s + measured ** 2 + 1e-12)) - 1.0

    low, high = 0.0, 3.0 * float(np.sqrt(np.mean(residual ** 2))) + 1e-6
    if excess(low) <= 0.0:
        return 0.0
    for _ in range(60):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if excess(middle) > 0.0 else (low, middle)
    return 0.5 * (low + high)


def fit_energy_table(s800: np.ndarray, zenith: np.ndarray, true_log10_energy: np.ndarray,
                     sigma_log10_s800: np.ndarray | None = None, n_bins: int = 8,
                     description: str = "") -> EnergyTable:
    """Fit the table to reconstructed showers: S800 (VEM/m^2), zenith (rad), true log10 E
    (GeV) and optionally the fits' uncertainty of log10 S800. Non-finite entries and S800
    <= 0 are ignored; the number of sec(zenith) bins shrinks to keep at least 30 showers
    in each."""
    s800, zenith, log_e = (np.asarray(v, dtype=np.float64) for v in (s800, zenith, true_log10_energy))
    sigma = np.zeros_like(s800) if sigma_log10_s800 is None else np.asarray(sigma_log10_s800, dtype=np.float64)
    good = np.isfinite(s800) & (s800 > 0) & np.isfinite(zenith) & np.isfinite(log_e) & np.isfinite(sigma)
    if good.sum() < MIN_EVENTS_PER_BIN:
        raise ValueError(f"an energy table needs at least {MIN_EVENTS_PER_BIN} reconstructed showers, got {good.sum()}")
    sec, log_s, log_e, sigma = 1.0 / np.cos(zenith[good]), np.log10(s800[good]), log_e[good], sigma[good]
    n_bins = max(1, min(n_bins, sec.size // MIN_EVENTS_PER_BIN))
    edges = np.quantile(sec, np.linspace(0.0, 1.0, n_bins + 1))
    which = np.clip(np.searchsorted(edges, sec, side="right") - 1, 0, n_bins - 1)
    columns = {name: np.empty(n_bins) for name in ("sec_zenith_centres", "intercept", "slope", "rms")}
    nodes, spread = np.empty((n_bins, SPREAD_SLICES)), np.empty((n_bins, SPREAD_SLICES))
    counts = np.empty(n_bins, dtype=np.int64)
    for k in range(n_bins):
        members = which == k
        a, b, keep = _line_fit(log_s[members], log_e[members])
        residual = (log_e[members] - a - b * log_s[members])[keep]
        columns["sec_zenith_centres"][k] = np.median(sec[members])
        columns["intercept"][k], columns["slope"][k] = a, b
        columns["rms"][k] = np.sqrt(np.mean(residual ** 2))
        counts[k] = int(members.sum())
        kept_log_s, measured = log_s[members][keep], b * sigma[members][keep]
        for j, part in enumerate(np.array_split(np.argsort(kept_log_s), SPREAD_SLICES)):
            nodes[k, j] = np.median(kept_log_s[part])
            spread[k, j] = _intrinsic_spread(residual[part], measured[part])
    return EnergyTable(**columns, log10_s800_nodes=nodes, intrinsic=spread, n_events=counts, description=description)
