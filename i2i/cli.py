"""Shared command-line plumbing: turn expected errors into one line on stderr and an exit code."""
from __future__ import annotations

import os
import sys
from typing import Callable

from i2i.config import ConfigError
from i2i.checkpoint import CheckpointError

EXPECTED_ERRORS = (ConfigError, CheckpointError, ValueError, FileNotFoundError, KeyError, RuntimeError)


def run_cli(main: Callable[[], int]) -> int:
    """Run ``main``; an expected error prints ``error: <message>`` (one line) and returns 2.

    Set the environment variable ``I2I_DEBUG=1`` to see the full traceback instead.
    """
    try:
        return main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except EXPECTED_ERRORS as err:
        if os.environ.get("I2I_DEBUG"):
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"error: {message}", file=sys.stderr)
        return 2
