"""Evaluation: metrics that score GNN stages and classical baselines on the same events."""

from .metrics import precision_recall, roc_auc, roc_curve
from .rejection import efficiency_at_rejection, rejection_at_efficiency

__all__ = ["efficiency_at_rejection", "precision_recall", "rejection_at_efficiency", "roc_auc", "roc_curve"]
