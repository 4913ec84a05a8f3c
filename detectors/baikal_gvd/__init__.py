"""Baikal-GVD: optical modules on vertical strings in Lake Baikal (detector frame, z up)."""

from .detector import DETECTOR

__all__ = ["DETECTOR"]
