"""Evaluation: metrics that score GNN stages and classical baselines on the same events,
one module per evaluation kind (``kinds.KINDS``) over a figure toolkit (``plotting``), and
the entry point ``evaluate_files``."""

from .kinds import evaluate_files
from .metrics import precision_recall, roc_auc, roc_curve
from .rejection import efficiency_at_rejection, rejection_at_efficiency

__all__ = ["efficiency_at_rejection", "evaluate_files", "precision_recall", "rejection_at_efficiency", "roc_auc",
           "roc_curve"]
