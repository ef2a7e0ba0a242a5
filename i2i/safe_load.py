"""Reading ``torch.save`` files without running code in them, with a complete one-line reason when that fails.

Every loading path (training states, exported runs, reference ``.pth`` files, zoo downloads) goes through
:func:`load_weights_only`: ``torch.load(weights_only=True)``, and when that fails our own diagnosis of the file
(empty, all zeros, a damaged zip archive, foreign bytes, or a pickle that references code) instead of torch's
message, which advises re-running with ``weights_only=False`` and whose wording changes between releases.
"""
from __future__ import annotations

import io
import pickletools
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from i2i.errors import first_line

NOT_A_CHECKPOINT = "not a readable PyTorch checkpoint"
_SAFE_MODULES = ("torch", "collections", "numpy", "builtins", "_codecs")
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8", "SHORT_BINSTRING", "BINSTRING", "STRING"}


def _pickle_payload(raw: bytes) -> bytes | None:
    """The pickle inside a torch zip archive (``*/data.pkl``), or ``raw`` itself for a legacy/plain pickle."""
    if raw[:4] != b"PK\x03\x04":
        return raw if raw[:1] == b"\x80" else None
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            return archive.read(name) if name else None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError):
        return None


def pickled_code(raw: bytes) -> str | None:
    """The first non-tensor class or function a pickle references (e.g. ``posix.system``), or None."""
    payload = _pickle_payload(raw)
    if payload is None:
        return None
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(payload):
            if opcode.name in _STRING_OPS:
                strings.append(str(arg))
            elif opcode.name in ("GLOBAL", "INST"):
                module, _, name = str(arg).partition(" ")
                if not module.startswith(_SAFE_MODULES):
                    return f"{module}.{name}"
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                module, name = strings[-2], strings[-1]
                if not module.startswith(_SAFE_MODULES):
                    return f"{module}.{name}"
    except Exception:  # noqa: BLE001 - a damaged pickle ends the scan; what was found so far stands.
        return None
    return None


def diagnose(path: Path, raw: bytes, error: BaseException) -> str:
    """Why ``raw`` (the bytes of ``path``) cannot be loaded, as one complete clause."""
    size = len(raw)
    if size == 0:
        return "the file is empty (0 bytes)"
    if raw.count(0) == size:
        return f"all {size} bytes are zero (the write never reached the disk)"
    code = pickled_code(raw)
    if code is not None:
        return (f"refusing to unpickle arbitrary objects: the file references {code}, which would run code; "
                "nothing was run (only tensors and plain containers are accepted)")
    if raw[:4] == b"PK\x03\x04":
        try:
            zipfile.ZipFile(io.BytesIO(raw)).testzip()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            return f"the zip archive is truncated or damaged ({size} bytes; an interrupted write or copy?)"
        return f"the archive does not hold a readable torch.save object ({_torch_reason(error)})"
    if raw[:1] == b"\x80":
        return f"a pickle that is truncated or holds unsupported objects ({_torch_reason(error)})"
    head = raw[:8].hex()
    return f"neither a zip archive nor a pickle ({size} bytes starting with 0x{head}); not a torch.save file"


def _torch_reason(error: BaseException) -> str:
    """torch's reason without its advice to load with ``weights_only=False``, cut at a sentence end."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    useful = [line for line in lines if "weights_only" not in line and not line.startswith(("Please file",
                                                                                           "Check the doc"))]
    text = (useful or [type(error).__name__])[0]
    return text.split(". ")[0].rstrip(".") if len(text) > 160 else text.rstrip(".")


def load_weights_only(path: str | Path, error: type[Exception] = ValueError) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; any failure raises ``error`` with one line naming
    ``path`` and the reason (see :func:`diagnose`). Pickled code is never run: torch refuses it, and the message
    is ours."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{path}: is a folder, not a checkpoint file")
    if not path.is_file():
        raise error(f"{path}: checkpoint file does not exist")
    if path.stat().st_size == 0:
        raise error(f"{path}: {NOT_A_CHECKPOINT}: the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for corrupt files.
        try:
            raw = path.read_bytes()
        except OSError as read_error:
            raise error(f"{path}: cannot read the file ({first_line(read_error)})") from None
        reason = diagnose(path, raw, err)
        prefix = "" if reason.startswith("refusing") else f"{NOT_A_CHECKPOINT}: "
        raise error(f"{path}: {prefix}{reason}") from None
