"""Synthetic events in the event format's CSR form, for tests that need a detector's
columns without its simulator."""

import numpy as np


def lhc_crossings(n_events: int, seed: int = 0, candidates: tuple[int, int] = (80, 160)) -> dict:
    """``n_events`` crossings of ``candidates`` (low, high) candidates each: soft pile-up
    spread evenly in eta (|eta| < 4) and phi, plus a leading-interaction jet of 5 hard
    candidates (10-40 GeV) per crossing; the arguments of ``graphreco.io.event_table``."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(*candidates, n_events)
    n = int(sizes.sum())
    label, pt = np.zeros(n, np.int8), rng.exponential(0.7, n).astype(np.float32) + 0.3
    eta, phi = rng.uniform(-4, 4, n).astype(np.float32), rng.uniform(-np.pi, np.pi, n).astype(np.float32)
    for start in np.concatenate([[0], np.cumsum(sizes)[:-1]]):
        jet = slice(start, start + 5)
        label[jet], pt[jet] = 1, rng.uniform(10, 40, 5)
        eta[jet], phi[jet] = rng.normal(0.5, 0.1, 5), rng.normal(1.0, 0.1, 5)
    charge = rng.choice(np.array([-1, 0, 1], np.int8), n)
    return {"detector": "lhc-pf", "event_id": np.arange(n_events, dtype=np.int64),
            "offsets": np.concatenate([[0], np.cumsum(sizes)]),
            "hits": {"pt": pt, "eta": eta, "phi": phi, "energy": (pt * np.cosh(eta)).astype(np.float32),
                     "charge": charge,
                     "pdg_id": np.where(charge == 0, 22, 211 * charge.astype(np.int32)).astype(np.int32),
                     "dz": np.where(charge == 0, np.nan, rng.normal(0, 1, n)).astype(np.float32),
                     "pv_assoc": np.where(charge == 0, 0, np.where(label == 1, 1, -1)).astype(np.int8),
                     "true_label": label},
            "events": {"npv": np.full(n_events, 40, np.int32), "true_npu": np.full(n_events, 50, np.int32)}}
