"""GNN stages: a torch module, its task head and loss, and the output columns it writes.

Every stage has ``writes`` (its output column names), ``hit_writes`` (those that are per
hit), ``reads`` (the per-hit columns of earlier stages it needs, if any) and
``outputs(inputs)``, which returns its per-hit and per-event columns for a batch
(``StageInput``).
"""

from .background import BackgroundSuppression
from .base import Stage, StageGraph
from .combination import Combination
from .composition import Composition
from .energy_direction import EnergyDirection
from .energy_scale import EnergyScale
from .hit_selection import HitSelection
from .inputs import StageInput
from .posterior import Posterior
from .refit import Refit

STAGES = {"background_suppression": BackgroundSuppression, "hit_selection": HitSelection,
          "energy_direction": EnergyDirection, "composition": Composition, "refit": Refit,
          "combination": Combination, "energy_scale": EnergyScale, "posterior": Posterior}
"""Stage name (as in artifacts and pipeline configs) -> its module class."""

__all__ = ["STAGES", "BackgroundSuppression", "Combination", "Composition", "EnergyDirection", "EnergyScale",
           "HitSelection", "Posterior", "Refit", "Stage", "StageGraph", "StageInput"]
