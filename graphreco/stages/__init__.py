"""GNN stages: a torch module, its task head and loss, and the output columns it writes."""

from .hit_selection import HitSelection

STAGES = {"hit_selection": HitSelection}
"""Stage name (as in artifacts and pipeline configs) -> its module class."""

__all__ = ["STAGES", "HitSelection"]
