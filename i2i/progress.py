"""Progress bars that suit where the output goes: tqdm on a terminal; on a pipe or log file, one plain line per
interval (no carriage-return frames); nothing when disabled.

``I2I_PROGRESS=bar|lines|off`` overrides the choice (e.g. ``lines`` in a notebook, ``off`` in CI).
"""
from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from tqdm import tqdm

LINE_INTERVAL = 30.0  # Seconds between two lines when the output is not a terminal.


class LineProgress(tqdm):
    """A tqdm that prints its status as a new line (at most every ``mininterval`` seconds, and at the end)."""

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:  # noqa: ARG002 - tqdm's signature.
        self.fp.write((msg or self.format_meter(**self.format_dict)) + "\n")
        self.fp.flush()
        return True

    def close(self) -> None:
        """Print the final status line (with the overall rate) once; tqdm's own close adds a blank line."""
        if getattr(self, "disable", True):
            return
        self._ema_dt = lambda: None  # As tqdm does at the end: the overall rate, not the smoothed one.
        self.display()
        self.disable = True
        self._decr_instances(self)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def progress_bar(total: int | None = None, *, desc: str | None = None, unit: str = "it", enabled: bool = True,
                 initial: int = 0, interval: float = LINE_INTERVAL, file: TextIO | None = None,
                 **options: Any) -> tqdm:
    """A progress bar for ``total`` steps (use as a context manager, ``update(n)``, ``set_postfix``, ``write``).

    Args:
        total: Number of steps, or None when unknown.
        desc: Label in front of the counts.
        unit: Name of one step ("img", "step").
        enabled: False: a disabled bar (all methods are no-ops).
        initial: Steps already done (e.g. when resuming).
        interval: Seconds between lines when the output is not a terminal.
        file: Where to write; default stderr.
        options: More tqdm arguments (e.g. ``smoothing``).
    """
    stream = file or sys.stderr
    mode = os.environ.get("I2I_PROGRESS", "").strip().lower() or ("bar" if _is_terminal(stream) else "lines")
    common = {"total": total, "desc": desc, "unit": unit, "initial": initial, "file": stream, **options}
    if not enabled or mode == "off":
        return tqdm(disable=True, **common)
    if mode == "lines":
        return LineProgress(mininterval=interval, maxinterval=max(interval, 10.0), ncols=100, **common)
    return tqdm(dynamic_ncols=True, **common)
