"""The headline table that opens an evaluation report: the few figures the detector names
(``Detector.headline``), the pipeline beside the classical methods, each with its unit and
statistical error, rounded to the precision of that error.

``headline_table(figures, headline)`` gives the table as strings, for the report and for a
terminal alike. ``rounded(value, error)`` writes a measurement: the error to two
significant digits when they are 10-29, else to one (0.0031 -> 0.003, 0.0024 -> 0.0024),
the value to the same decimal place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..detectors.base import Headline, HeadlineFigure
from .measured import ERROR, UPPER_LIMIT

MISSING = "–"
"""Cell of a figure a method does not report, or reports as None."""
METHOD = "{method}"
"""What stands for the method's key in a ``HeadlineFigure.path``."""
LIMIT_DIGITS = 2
"""Significant digits of an upper limit, and (plus one) of a value without an error."""
COLUMNS = ("figure", "unit")
"""The headline table's columns before those of the methods."""


@dataclass(frozen=True)
class HeadlineTable:
    """The headline as text: ``header`` (``COLUMNS`` then each method's heading) and
    ``rows``, one per figure, a cell per column."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _decimals(error: float) -> int:
    """Decimal places (negative: tens, hundreds) that keep two significant digits of
    ``error`` > 0 when they are 10-29 and one otherwise; an error that rounds up to the
    next power of ten (0.0096 -> 0.010) counts as 10."""
    exponent = math.floor(math.log10(error))
    leading = round(error / 10 ** (exponent - 1))  # 10 ... 100
    if leading == 100:
        exponent, leading = exponent + 1, 10
    return (2 if leading < 30 else 1) - 1 - exponent


def _fixed(value: float, decimals: int) -> str:
    """``value`` rounded to ``decimals`` places (negative: to tens, hundreds), without exponent."""
    text = f"{round(value, decimals):.{max(decimals, 0)}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text  # no "-0.00"


def significant(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits, without exponent."""
    if value == 0:
        return "0"
    return _fixed(value, digits - 1 - math.floor(math.log10(abs(value))))


def rounded(value: float, error: float | None = None) -> str:
    """``"value ± error"`` with both rounded to the error's precision (``_decimals``); a
    value without an error (or with a zero one) to ``LIMIT_DIGITS + 1`` significant
    digits; an integer (a count) as it is."""
    if isinstance(value, int) and error is None:
        return str(value)
    if error is None or not error > 0 or not math.isfinite(error):
        return significant(value, LIMIT_DIGITS + 1)
    decimals = _decimals(error)
    return f"{_fixed(value, decimals)} ± {_fixed(error, decimals)}"


def _entry(container: object, key: str) -> object:
    """``container[key]`` of a dict, or of a list the entry whose ``name`` is ``value``
    for ``key`` = ``"name=value"``; None where there is none."""
    if isinstance(container, dict):
        return container.get(key)
    if isinstance(container, list) and "=" in key:
        name, value = key.split("=", 1)
        return next((item for item in container if isinstance(item, dict) and str(item.get(name)) == value), None)
    return None


def cell(figures: dict, figure: HeadlineFigure, method: str) -> str:
    """The ``figure`` of ``method`` in the evaluation dict ``figures``: value ± error, or
    ``< limit`` (90 % CL), or ``MISSING``, scaled by ``figure.scale``."""
    *where, name = figure.path.replace(METHOD, method).split("/")
    container: object = figures
    for key in where:
        container = _entry(container, key)
    if not isinstance(container, dict):
        return MISSING
    value, error, limit = (container.get(name + suffix) for suffix in ("", ERROR, UPPER_LIMIT))
    if isinstance(value, int | float) and math.isfinite(value):
        if figure.scale != 1.0:  # a count stays an int
            value, error = value * figure.scale, None if error is None else error * figure.scale
        return rounded(value, error)
    if isinstance(limit, int | float):
        return f"< {significant(limit * figure.scale, LIMIT_DIGITS)}"
    return MISSING


def headline_table(figures: dict, headline: Headline) -> HeadlineTable:
    """The ``headline`` of a detector of the evaluation dict ``figures`` as text: a row per
    figure (name, unit, then a cell per method: ``cell``)."""
    return HeadlineTable(header=(*COLUMNS, *(heading for _, heading in headline.methods)),
                         rows=tuple((figure.name, figure.unit, *(cell(figures, figure, method)
                                                                 for method, _ in headline.methods))
                                    for figure in headline.figures))
