"""The error of a command that asks for what cannot be done (``graphreco.cli`` maps it to
exit code 2, as it does argparse's own usage errors), and the base of the warnings a
command prints as one line."""

from __future__ import annotations


class UsageError(ValueError):
    """The arguments ask for something impossible or unsafe (an output onto an input, a
    batch size of zero, an unknown detector); nothing was read or written. The message
    names the argument and what to give instead."""


class CommandWarning(UserWarning):
    """Something the person running graphreco should know and can act on; the message is
    one line that says what happened and what to do. The command line prints it as
    ``graphreco: warning: <message>``."""
