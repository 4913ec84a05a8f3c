"""The machine-readable record of a command (``--json FILE``): every figure it measured, as
strict JSON, written so that a reader never sees half of it."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

from .errors import UsageError

STDOUT = "-"
"""``--json -``: the record goes to standard output, in place of the human summary."""


def strict_json(result: object) -> str:
    """``result`` as standard JSON: a float that is not finite (NaN, inf: a figure
    without a value) becomes null, never a bare ``NaN`` that strict parsers refuse."""

    def finite(value: object) -> object:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {key: finite(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [finite(item) for item in value]
        return value

    return json.dumps(finite(result), indent=2, allow_nan=False)


def check_record_path(path: Path, named: Iterable[str | Path]) -> None:
    """Refuse (``UsageError``), before the command runs, a record path that would replace
    a file named on the command line (``named``: its inputs and outputs) or whose folder
    cannot be made."""
    from .io.outputs import check_outputs  # here: graphreco.io imports numba and pyarrow

    check_outputs([path], named)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"{path}: cannot be written ({error})") from None


def write_record(path: Path, result: object) -> None:
    """Write ``result`` (``strict_json``) to ``path`` atomically: into a hidden temporary
    file beside it, flushed to disk, then renamed into place; a failure leaves ``path``
    as it was and no temporary file."""
    from .io.writer import TEMPORARY_SUFFIX

    temporary = path.with_name(f".{path.name}.{os.getpid()}{TEMPORARY_SUFFIX}")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(strict_json(result) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise UsageError(f"{path}: cannot be written ({error})") from None
        raise
