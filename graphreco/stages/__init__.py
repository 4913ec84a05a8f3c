"""GNN stages: a torch module, its task head and loss, and the output columns it writes."""

from .hit_selection import HitSelection

__all__ = ["HitSelection"]
