"""How an evaluation dict holds a measured figure with its statistical error: ``name``
beside ``name_error`` (one standard deviation, from ``graphreco.statistics``), or, where
none of a sample was counted, ``name_upper_limit_90cl``. A report's headline
(``headline``) shows them as ``value ± error`` and ``< limit``."""

from __future__ import annotations

from ..statistics import binomial_error, rounded_error

ERROR = "_error"
"""Suffix of the entry that holds a figure's error."""
UPPER_LIMIT = "_upper_limit_90cl"
"""Suffix of the entry that holds a figure's 90 % CL upper limit, where it has no value."""


def measured(name: str, value: float, error: float, decimals: int) -> dict[str, float]:
    """``{name: value, name_error: error}``, the value to ``decimals``, the error to two
    significant digits."""
    return {name: round(value, decimals), name + ERROR: rounded_error(error)}


def fraction(name: str, value: float, trials: int, decimals: int = 4) -> dict[str, float]:
    """``measured`` of a fraction ``value`` of ``trials`` (an efficiency, a coverage) with
    its binomial error."""
    return measured(name, value, binomial_error(value, trials), decimals)
