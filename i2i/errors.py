"""One error path for every user-facing fault: :class:`UserError` and friends carry a one-line message naming the
file or config key and the fix, and an exit code; :func:`i2i.cli.run_cli` prints them as ``error: <message>``."""
from __future__ import annotations


class UserError(Exception):
    """A fault the user can fix (bad input, unreadable file, full disk); ``str(err)`` is one line saying how.

    Attributes:
        exit_code: What a command-line tool exits with (2: bad input or unreadable/unwritable file).
    """

    exit_code = 2


class DiskFullError(UserError, OSError):
    """A write failed for lack of space (ENOSPC/EDQUOT); the previous version of the file is intact."""


def first_line(err: BaseException, limit: int = 200) -> str:
    """The first non-blank line of ``err``'s message (at most ``limit`` characters), or its type's name."""
    text = str(err).strip()
    return text.splitlines()[0][:limit] if text else type(err).__name__


def one_line(text: str) -> str:
    """``text`` with its lines joined by ``"; "`` (messages from libraries sometimes span several lines)."""
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())
