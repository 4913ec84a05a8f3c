"""Where outputs may go: never onto an input.

Every writer of the command line (``reconstruct``'s outputs, ``evaluate --report``'s
folder) asks ``check_outputs`` before it reads anything, so that an output that resolves
to an input (the same path, a symbolic or hard link, the input's folder as the output
folder) is refused and the input stays as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import UsageError


def same_file(a: Path, b: Path) -> bool:
    """Whether the paths name one file: the same inode when both exist (links included),
    else the same absolute path once links are resolved."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_outputs(outputs: Iterable[str | Path], inputs: Iterable[str | Path], folder: bool = False) -> None:
    """Refuse (``UsageError``) outputs that would replace an input: an output that is an
    input file, or, with ``folder`` (outputs that are folders replaced as a whole), that
    holds one."""
    inputs = [Path(path) for path in inputs]
    for output in map(Path, outputs):
        for source in inputs:
            inside = folder and source.resolve().is_relative_to(output.resolve())
            if inside or same_file(output, source):
                raise UsageError(f"output {output} would replace the input {source}; give another output")
