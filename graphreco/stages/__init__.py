"""GNN stages: a torch module, its task head and loss, and the output columns it writes.

Every stage has ``writes`` (its output column names) and ``outputs(graph)``, which
returns its per-hit and per-event columns for a batch of graphs.
"""

from .background import BackgroundSuppression
from .hit_selection import HitSelection

STAGES = {"background_suppression": BackgroundSuppression, "hit_selection": HitSelection}
"""Stage name (as in artifacts and pipeline configs) -> its module class."""

__all__ = ["STAGES", "BackgroundSuppression", "HitSelection"]
