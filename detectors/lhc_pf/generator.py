"""Proton-proton collisions at 13.6 TeV from Pythia 8 (the optional ``pythia8mc`` extra).

Each generated interaction is kept as its visible final-state particles (neutrinos
dropped): transverse momentum (GeV), pseudorapidity, azimuth (rad), energy (GeV), PDG id
and charge, in CSR form (``offsets`` per interaction). Processes (Pythia 8.3 manual,
"Process Selection"):

- ``znunu_jet``: Z -> nu nu recoiling against a jet (``WeakBosonAndParton``, Z only),
  the signal of the GGNN pile-up study (arXiv:1810.07988); the event's missing
  transverse momentum is the Z's.
- ``ttbar``: top-pair production (``Top:gg2ttbar``, ``Top:qqbar2ttbar``), all decays.
- ``dijet``: QCD 2 -> 2 (``HardQCD:all``).
- ``minbias``: all inelastic interactions (``SoftQCD:inelastic``), the pile-up.

Hard processes use a hard-scattering threshold of 50 GeV (``PhaseSpace:pTHatMin``) where
one is needed, so that the leading interaction has jets above the 30 GeV that jet
figures use. Multiparton interactions, showers and hadronisation are Pythia's defaults
(Monash 2013 tune): the leading interaction carries its own underlying event.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graphreco import progress
from graphreco.extras import require

CENTRE_OF_MASS_ENERGY = 13_600.0
"""GeV: LHC Run 3."""
HARD_PT_MIN = 50.0
"""GeV: lowest transverse momentum of the hard 2 -> 2 scattering (our choice, see above)."""
PROCESSES: dict[str, tuple[str, ...]] = {
    "znunu_jet": ("WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on", "WeakZ0:gmZmode = 2",
                  "23:onMode = off", "23:onIfAny = 12 14 16", f"PhaseSpace:pTHatMin = {HARD_PT_MIN}"),
    "ttbar": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
    "dijet": ("HardQCD:all = on", f"PhaseSpace:pTHatMin = {HARD_PT_MIN}"),
    "minbias": ("SoftQCD:inelastic = on",),
}
HARD_PROCESSES = tuple(name for name in PROCESSES if name != "minbias")
NEUTRINOS = (12, 14, 16)
FIELDS = ("pt", "eta", "phi", "energy", "pdg_id", "charge")


@dataclass(frozen=True)
class Interactions:
    """Visible final-state particles of generated interactions; particles of
    interaction ``i`` are ``offsets[i]:offsets[i + 1]`` in every array."""

    offsets: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    energy: np.ndarray
    pdg_id: np.ndarray
    charge: np.ndarray

    @property
    def size(self) -> int:
        return int(self.offsets.size - 1)

    def save(self, path: Path) -> None:
        np.savez(path, offsets=self.offsets, **{name: getattr(self, name) for name in FIELDS})

    @classmethod
    def load(cls, path: Path) -> Interactions:
        with np.load(path) as stored:
            return cls(**{name: stored[name] for name in ("offsets", *FIELDS)})


def _pythia(process: str, seed: int):
    pythia8mc = require("pythia8mc", "lhc", "LHC event generation needs Pythia 8")
    if process not in PROCESSES:
        raise ValueError(f"unknown process {process!r}; known: {', '.join(PROCESSES)}")
    pythia = pythia8mc.Pythia("", False)
    for setting in (f"Beams:eCM = {CENTRE_OF_MASS_ENERGY}", "Print:quiet = on", "Next:numberCount = 0",
                    "Random:setSeed = on", f"Random:seed = {seed % 900_000_000 + 1}", *PROCESSES[process]):
        if not pythia.readString(setting):
            raise RuntimeError(f"Pythia refused the setting {setting!r}")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise for {process}")
    return pythia


REPORTED_EVERY = 100
"""Interactions generated between two reports to the progress bar."""


def generate(process: str, n_events: int, seed: int) -> Interactions:
    """``n_events`` interactions of ``process`` from Pythia with random seed ``seed``,
    reported to the progress bar (``graphreco.progress``) as they are generated."""
    pythia = _pythia(process, seed)
    rows: list[tuple] = []
    counts = np.zeros(n_events, dtype=np.int64)
    generated = 0
    while generated < n_events:
        if not pythia.next():
            continue
        event = pythia.event
        before = len(rows)
        for particle in event:
            if particle.isFinal() and particle.idAbs() not in NEUTRINOS:
                rows.append((particle.pT(), particle.eta(), particle.phi(), particle.e(), particle.id(),
                             particle.charge()))
        counts[generated] = len(rows) - before
        generated += 1
        if generated % REPORTED_EVERY == 0:
            progress.advance(REPORTED_EVERY)
    progress.advance(n_events % REPORTED_EVERY)
    table = np.array(rows, dtype=np.float64).reshape(-1, len(FIELDS))
    return Interactions(offsets=np.concatenate([[0], np.cumsum(counts)]), pt=table[:, 0].astype(np.float32),
                        eta=table[:, 1].astype(np.float32), phi=table[:, 2].astype(np.float32),
                        energy=table[:, 3].astype(np.float32), pdg_id=table[:, 4].astype(np.int32),
                        charge=np.rint(table[:, 5]).astype(np.int8))


def cached(process: str, n_events: int, seed: int, folder: Path | None) -> Interactions:
    """``generate`` once per (process, events, seed): kept as ``.npz`` in ``folder``."""
    if folder is None:
        return generate(process, n_events, seed)
    path = Path(folder) / f"{process}-{n_events}-seed{seed}.npz"
    if path.exists():
        progress.advance(n_events)
        return Interactions.load(path)
    interactions = generate(process, n_events, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    interactions.save(partial)
    partial.replace(path)
    return interactions
