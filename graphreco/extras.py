"""Optional extras: import a package that only some commands need, or say which extra of
graphreco installs it. ``graphreco``'s command line exits with 2 on ``MissingExtra`` and
treats any other ``ImportError`` as an internal error."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(ImportError):
    """An optional package is not installed; the message names the extra that installs it."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """The module ``module``, imported; ``MissingExtra`` naming ``extra`` when it is absent.

    Args:
        module: import name, e.g. ``"matplotlib.pyplot"``.
        extra: the graphreco extra that installs it, e.g. ``"plots"``.
        purpose: what needs it, the start of the message, e.g. ``"drawing plots"``.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is None or not module.startswith(error.name):
            raise  # the package is there but one of its own imports is broken
        raise MissingExtra(f"{purpose}: {error.name} is not installed; pip install 'graphreco[{extra}]'",
                           name=error.name) from None
