"""Atomic file writes: a temporary file next to the target, renamed over it, so no reader sees half a file.

Temporary files are named ``.<name>.<pid>-<8 hex>.i2i-tmp[<suffix>]``; a process killed mid-write leaves one behind,
and :func:`remove_stale_temps` deletes those whose writer is gone (and nothing else). A full disk raises
:class:`~i2i.errors.DiskFullError` naming the path and the space needed; the previous file stays intact.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Iterator

from i2i.errors import DiskFullError

TEMP_MARK = "i2i-tmp"
# Ours, and those of earlier i2i versions (".name.<pid>.<hex>.tmp", ".model.safetensors.tmp", ".stem.<hex>.tmp.sfx").
_TEMP_PATTERNS = (re.compile(rf"^\..+\.(?P<pid>\d+)-[0-9a-f]{{8}}\.{TEMP_MARK}(\.\w+)?$"),
                  re.compile(r"^\..+\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$"),
                  re.compile(r"^\.model\.safetensors\.tmp$"),
                  re.compile(r"^\..+\.[0-9a-f]{8}\.tmp\.(onnx|pt2|pt|ts)$"))
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def temp_path(path: Path, suffix: str = "") -> Path:
    """A unique temporary name next to ``path`` in the project's pattern (``suffix`` for writers that want one)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.{TEMP_MARK}{suffix}")


def _size_text(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def disk_full_error(path: Path, needed: int | None) -> DiskFullError:
    """The one-line error for a write to ``path`` that ran out of space (``needed`` bytes, when known)."""
    try:
        free = _size_text(shutil.disk_usage(path.parent).free)
    except OSError:
        free = "unknown"
    need = f"{_size_text(needed)} needed, " if needed is not None else ""
    return DiskFullError(f"{path}: disk full ({need}{free} free on that disk); free some space or write elsewhere "
                         "(the previous version of the file is intact)")


@contextlib.contextmanager
def atomic_target(path: str | Path, *, suffix: str = "", size_hint: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` for a writer that wants a file name; rename it over ``path`` when the
    block succeeds, delete it otherwise. A full disk becomes :class:`DiskFullError`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        if err.errno in _NO_SPACE:
            raise disk_full_error(path, size_hint) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (creating parent folders); ``fsync`` flushes it to disk first.

    Raises:
        DiskFullError: The disk is full; ``path`` keeps its previous content.
    """
    with atomic_target(path, size_hint=len(data)) as tmp:
        with open(tmp, "xb") as handle:  # Plain open (not mkstemp) so the file gets the usual umask permissions.
            handle.write(data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())


def _writer_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def is_stale_temp(path: Path) -> bool:
    """True for a temporary file of an interrupted i2i write (the project's name pattern, writer not running)."""
    for pattern in _TEMP_PATTERNS:
        match = pattern.match(path.name)
        if match and path.is_file():
            pid = match.groupdict().get("pid")
            return pid is None or not _writer_alive(int(pid))
    return False


def remove_stale_temps(*folders: str | Path, recursive: bool = False) -> tuple[int, int]:
    """Delete the temporary files that interrupted atomic writes left in ``folders``.

    Only names in the project's temp pattern whose writing process is gone are touched. Returns (files, bytes).
    """
    count = size = 0
    for folder in map(Path, folders):
        if not folder.is_dir():
            continue
        for path in (folder.rglob(".*") if recursive else folder.glob(".*")):
            if is_stale_temp(path):
                with contextlib.suppress(OSError):
                    length = path.stat().st_size
                    path.unlink()
                    count, size = count + 1, size + length
    return count, size


def stale_temps_note(count: int, size: int, where: str | Path) -> str | None:
    """A one-line note for :func:`remove_stale_temps`' result, or None when nothing was removed."""
    if not count:
        return None
    return f"removed {count} temporary file(s) ({_size_text(size)}) left by interrupted writes in {where}"


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_writable(path: str | Path, key: str, *, folder: bool = False) -> Path:
    """Fail before any work if ``path`` cannot be written as a file (or created as a folder when ``folder``).

    Args:
        key: What the user called it (``--output``, ``--json``, ``output_dir``), named in the message.

    Raises:
        UserError: One line naming ``key``, the path and the fix.
    """
    from i2i.errors import UserError

    path = Path(path)
    kind = "folder" if folder else "file"
    if path.exists() and path.is_dir() != folder:
        hint = "give a file name inside it" if path.is_dir() else "give a folder"
        raise UserError(f"{key}: '{path}' is {'a folder' if path.is_dir() else 'a file'}, not a {kind}; {hint}")
    base = _nearest_existing(path.parent if not path.exists() else path)
    if not base.is_dir() and base != path:
        raise UserError(f"{key}: '{base}' is a file, so '{path}' cannot be created under it; choose another path")
    if not os.access(base if base.is_dir() else base.parent, os.W_OK | os.X_OK):
        raise UserError(f"{key}: '{base}' is not writable, so '{path}' cannot be written; choose another path")
    return path
