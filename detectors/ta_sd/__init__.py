"""Telescope Array surface detector: scintillator counters on a 1.2 km grid."""

from .detector import DETECTOR

__all__ = ["DETECTOR"]
