"""Detector registry: ``get("baikal-gvd")`` returns the :class:`Detector` defined by the
sub-package of that name (dashes become underscores), or one registered at run time.
Adding a detector is adding a folder whose ``__init__`` defines ``DETECTOR``; a detector
that lives elsewhere (a user's package, a test) is added with :func:`register`.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import (
    EVALUATION_KINDS,
    Column,
    Derived,
    Detector,
    DetectorConfiguration,
    OneHot,
    Option,
    OptionError,
    Scaled,
    SimulatedEvents,
    Simulator,
)

__all__ = ["EVALUATION_KINDS", "Column", "Derived", "Detector", "DetectorConfiguration", "OneHot", "Option",
           "OptionError", "Scaled", "SimulatedEvents", "Simulator", "available", "get", "register", "unregister"]

_loaded: dict[str, Detector] = {}
_registered: dict[str, Detector] = {}


def _folders() -> list[str]:
    return sorted(m.name.replace("_", "-") for m in pkgutil.iter_modules(__path__) if m.ispkg)


def available() -> list[str]:
    """Names of the detectors this installation knows, e.g. ``["baikal-gvd", ...]``."""
    return sorted({*_folders(), *_registered})


def register(detector: Detector) -> None:
    """Make ``detector`` known to the engine under its name (``ValueError`` if the name is taken)."""
    if detector.name in available():
        raise ValueError(f"a detector called {detector.name!r} is known already")
    _registered[detector.name] = detector


def unregister(name: str) -> None:
    """Forget a detector added with :func:`register`."""
    _registered.pop(name, None)


def get(name: str) -> Detector:
    """The detector called ``name``; ``ValueError`` naming the known ones if there is none."""
    if name in _registered:
        return _registered[name]
    if name in _loaded:
        return _loaded[name]
    if name not in _folders():
        raise ValueError(f"unknown detector {name!r}; known detectors: {', '.join(available())}")
    from ..kernels._cache import ensure_cache_folder  # here: the registry alone imports no numba

    ensure_cache_folder()  # before the detector's numba functions are decorated
    detector = importlib.import_module(f"{__name__}.{name.replace('-', '_')}").DETECTOR
    if detector.name != name:
        raise RuntimeError(f"detector folder {name!r} defines a detector called {detector.name!r}")
    _loaded[name] = detector
    return detector
