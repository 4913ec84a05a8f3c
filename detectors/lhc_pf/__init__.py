"""LHC particle flow: PF candidates of one bunch crossing, with pile-up."""

from .detector import DETECTOR

__all__ = ["DETECTOR"]
