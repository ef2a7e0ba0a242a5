"""Shared command-line plumbing: every tool's ``main`` runs through :func:`run_cli`, which turns expected errors
into one line on stderr (``error: <message>``) and an exit code.

Exit codes: 0 success; 1 partial failure reported by the tool itself (e.g. some images failed); 2 bad input, an
unreadable or unwritable file, a full disk (:class:`i2i.errors.UserError` and the other expected errors);
130 interrupted by Ctrl-C.
"""
from __future__ import annotations

import contextlib
import errno
import os
import sys
import warnings
from pathlib import Path
from typing import Callable, Iterator

from i2i.config import ConfigError
from i2i.checkpoint import CheckpointError
from i2i.errors import UserError, one_line
from i2i.fileio import disk_full_error

EXPECTED_ERRORS = (UserError, ConfigError, CheckpointError, ValueError, FileNotFoundError, KeyError, RuntimeError,
                   OSError)


def error_message(err: BaseException) -> str:
    """One line for an expected error: the file it concerns (for OS errors) and what went wrong."""
    if isinstance(err, KeyError) and err.args:
        return one_line(str(err.args[0]))
    if isinstance(err, OSError) and not isinstance(err, UserError) and err.filename is not None:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            return str(disk_full_error(Path(err.filename), None))
        return f"{err.filename}: {err.strerror or one_line(str(err))}"
    return one_line(str(err)) or type(err).__name__


@contextlib.contextmanager
def one_line_warnings(write: Callable[[str], None] | None = None) -> Iterator[None]:
    """Show warnings as ``warning: <message>`` lines (no file:line prefix, no source line) through ``write``
    (default: print to stderr; a progress bar passes its own ``write`` so lines do not break the bar)."""
    write = write or (lambda text: print(text, file=sys.stderr))
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *_rest, **_kw: write(f"warning: {message}")
        yield


def run_cli(main: Callable[[], int]) -> int:
    """Run ``main``; an expected error prints ``error: <message>`` (one line) and returns its exit code (2).

    Set the environment variable ``I2I_DEBUG=1`` to see the full traceback instead.
    """
    try:
        return main()
    except KeyboardInterrupt as err:
        print(f"interrupted: {err}" if str(err) else "interrupted", file=sys.stderr)
        return 130
    except EXPECTED_ERRORS as err:
        if os.environ.get("I2I_DEBUG"):
            raise
        print(f"error: {error_message(err)}", file=sys.stderr)
        return getattr(err, "exit_code", 2)
