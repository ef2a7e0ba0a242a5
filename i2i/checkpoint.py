"""Training state files: atomic save, rotation, safe load (``weights_only``), and RNG state capture."""
from __future__ import annotations

import io
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from i2i.fileio import write_bytes_atomic

STATE_PATTERN = re.compile(r"^state_(\d{8})\.pt$")


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or does not match the networks being trained; the message says why."""


def atomic_torch_save(obj: Any, path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes_atomic(path, buffer.getvalue(), fsync=True)


def safe_torch_load(path: Path) -> Any:
    """``torch.load`` with ``weights_only=True``; any failure becomes a one-line :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file does not exist")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: checkpoint file is empty (0 bytes)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for corrupt files.
        text = str(err)
        if "Unsupported global" in text:
            raise CheckpointError(f"{path}: refusing to unpickle arbitrary objects (weights_only load failed); "
                                  "only plain tensors and containers are accepted") from None
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        detail = [line for i, line in enumerate(lines) if i and "WeightsUnpickler error" in lines[i - 1]]
        first = (detail or lines or [type(err).__name__])[0]
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({first[:200]})") from None


def state_path(checkpoint_dir: Path, step: int) -> Path:
    return checkpoint_dir / f"state_{step:08d}.pt"


def list_states(checkpoint_dir: Path) -> list[Path]:
    """Training state files in ``checkpoint_dir``, oldest step first."""
    if not checkpoint_dir.is_dir():
        return []
    return sorted(p for p in checkpoint_dir.iterdir() if STATE_PATTERN.match(p.name))


def prune_states(checkpoint_dir: Path, keep: int) -> None:
    for old in list_states(checkpoint_dir)[:-keep]:
        old.unlink(missing_ok=True)


# RNG state, stored as tensors and plain containers so that it loads with weights_only=True.

def capture_rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(("MT19937", np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def check_state_dict_matches(net_name: str, module: torch.nn.Module, state: dict[str, torch.Tensor],
                             source: Path) -> None:
    """Raise :class:`CheckpointError` naming the first tensor whose name or shape differs."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        detail = f"missing '{net_name}.{missing[0]}'" if missing else f"unexpected '{net_name}.{unexpected[0]}'"
        raise CheckpointError(f"{source}: networks differ from the config: {detail} "
                              f"({len(missing)} missing, {len(unexpected)} unexpected tensors)")
    for key, tensor in own.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise CheckpointError(f"{source}: networks differ from the config: tensor '{net_name}.{key}' has shape "
                                  f"{list(state[key].shape)} in the checkpoint but {list(tensor.shape)} in the model")
