"""Where outputs may go, and who writes them.

Every writer of the command line (``reconstruct``'s outputs, ``evaluate --report``'s
folder) asks ``check_outputs`` before it reads anything, so that an output that resolves
to an input (the same path, a symbolic or hard link, the input's folder as the output
folder) is refused and the input stays as it was.

A run holds ``locked`` on its outputs from before it clears what killed runs left until
its outputs are in place: an exclusive ``flock`` on ``.NAME.lock`` beside each output
(the operating system drops it when the process ends, however it ends). A second run on
an output in use is refused at once, saying so, and leaves the first run's files alone.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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


LOCK_SUFFIX = ".lock"


def lock_path(output: Path) -> Path:
    """The lock file of ``output``: hidden, beside it."""
    return output.with_name(f".{output.name}{LOCK_SUFFIX}")


@contextmanager
def locked(outputs: Iterable[str | Path]) -> Iterator[None]:
    """Hold the lock of every output for the block (one open file each); ``UsageError``
    when another process holds one of them, or an output's folder cannot be made."""
    held: list[tuple[Path, int]] = []
    try:
        for output in map(Path, outputs):
            held.append(_lock(lock_path(output), output))
        yield
    finally:
        for path, descriptor in reversed(held):
            path.unlink(missing_ok=True)  # before closing: a waiting opener of it then sees another file
            os.close(descriptor)


def _lock(path: Path, output: Path) -> tuple[Path, int]:
    """Take the lock file ``path`` of ``output``, retrying when its holder removed it
    between our opening and our locking it; returns it with its open descriptor."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"{output}: cannot be written ({error})") from None
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 32).decode(errors="replace").strip() or "?"
            os.close(descriptor)
            raise UsageError(f"{output}: another run (process {holder}) is writing it; wait for it to finish "
                             "or give another output") from None
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(descriptor).st_ino:
            os.ftruncate(descriptor, 0)
            os.write(descriptor, str(os.getpid()).encode())
            return path, descriptor
        os.close(descriptor)  # the holder removed it on release: lock the file there now
