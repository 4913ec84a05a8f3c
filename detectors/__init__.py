"""Detector registry: ``get("baikal-gvd")`` returns the :class:`Detector` defined by the
sub-package of that name (dashes become underscores). Adding a detector is adding a
folder whose ``__init__`` defines ``DETECTOR``.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from .base import Column, Derived, Detector, OneHot, Scaled, SimulatedEvents

__all__ = ["Column", "Derived", "Detector", "OneHot", "Scaled", "SimulatedEvents", "available", "get", "module_name"]


def available() -> list[str]:
    """Names of the detectors this installation knows, e.g. ``["baikal-gvd", ...]``."""
    return sorted(m.name.replace("_", "-") for m in pkgutil.iter_modules(__path__) if m.ispkg)


def module_name(name: str) -> str:
    """The module that defines the detector called ``name``."""
    return f"{__name__}.{name.replace('-', '_')}"


@cache
def get(name: str) -> Detector:
    """The detector called ``name``; ``ValueError`` naming the known ones if there is none."""
    if name not in available():
        raise ValueError(f"unknown detector {name!r}; known detectors: {', '.join(available())}")
    module = importlib.import_module(module_name(name))
    detector = module.DETECTOR
    if detector.name != name:
        raise RuntimeError(f"detector folder {name!r} defines a detector called {detector.name!r}")
    return detector
