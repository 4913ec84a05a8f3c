"""Evaluation: metrics that score GNN stages and classical baselines on the same events."""

from .metrics import precision_recall, roc_auc, roc_curve

__all__ = ["precision_recall", "roc_auc", "roc_curve"]
