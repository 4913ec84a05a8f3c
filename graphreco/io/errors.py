"""The one error type for event files that break the contract, and the warning for those
read against what they declare."""

from __future__ import annotations

from ..errors import CommandWarning


class EventFormatError(ValueError):
    """An event file violates the event format.

    The message is one line naming the file, the column and, where it applies, the first
    offending ``event_id``; the same facts are attributes for programs that act on them.
    """

    def __init__(self, file: str, problem: str, column: str | None = None, event_id: int | None = None):
        self.file, self.problem, self.column, self.event_id = file, _one_line(problem), column, event_id
        where = (file + (f", column {column!r}" if column else "")
                 + (f", event_id {event_id}" if event_id is not None else ""))
        super().__init__(f"{where}: {self.problem}")

    def __reduce__(self) -> tuple:
        """Pickle by the constructor's arguments (errors cross from worker processes)."""
        return type(self), (self.file, self.problem, self.column, self.event_id)


class EventFormatWarning(CommandWarning):
    """An event file that is read, but maybe not as its writer meant: the detector its
    schema metadata declares is overridden by the one the caller gave (the format lets
    ``--detector`` override it). The message is one line naming the file and both."""


def _one_line(text: str) -> str:
    """``text`` with every run of whitespace and control characters (Arrow's messages hold
    newlines and raw bytes) made one space."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
