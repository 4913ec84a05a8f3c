"""Keep standard output for the command line's summary or record: what libraries print goes to stderr."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send to standard error meanwhile what is written to standard output, by Python
    code (``sys.stdout``: Ray's log lines) and by C++ code (file descriptor 1: FastJet's
    banner)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
