"""A fourth detector that lives in the tests: "toy-line", a line of 16 sensors crossed by
one particle, with noise (``simulation``), a k-nearest-neighbour graph (``detector``) and
a time-window cut as its classical hit selection (``baseline``). It shows that a detector
outside the package reaches every command through ``graphreco.detectors.register``.
"""

from .detector import DETECTOR

__all__ = ["DETECTOR"]
