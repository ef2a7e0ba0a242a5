"""Training state files: atomic save, rotation, safe load (``weights_only``), and RNG state capture."""
from __future__ import annotations

import io
import random
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from i2i.errors import UserError, one_line
from i2i.fileio import remove_stale_temps, stale_temps_note, write_bytes_atomic
from i2i.safe_load import load_weights_only

STATE_PATTERN = re.compile(r"^state_(\d{8})\.pt$")


class CheckpointError(UserError, RuntimeError):
    """A checkpoint cannot be read or does not match the networks being trained; the message says why."""


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to ``path`` atomically and fsynced; a full disk raises :class:`DiskFullError`."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes_atomic(path, buffer.getvalue(), fsync=True)


def safe_torch_load(path: Path) -> Any:
    """``torch.load`` with ``weights_only=True``; any failure becomes a one-line :class:`CheckpointError`."""
    return load_weights_only(path, CheckpointError)


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


def _set_aside(path: Path) -> Path:
    """Rename a bad state file to ``<name>.corrupt[.N]`` so that rotation and new saves never overwrite it."""
    target = path.with_name(path.name + ".corrupt")
    n = 0
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt.{n}")
    path.rename(target)
    return target


def load_latest_state(checkpoint_dir: Path, *, set_aside: bool = True,
                      log: Callable[[str], None] = print) -> tuple[Path, dict[str, Any]] | None:
    """The newest training state that loads, falling back past unreadable ones.

    Each skipped file is reported by ``log`` in one line with the reason, and kept: renamed to ``*.corrupt`` when
    ``set_aside`` (pass it on one process only), so that later saves cannot replace it.

    Returns:
        (path, state), or None when the folder holds no state file at all.

    Raises:
        CheckpointError: State files exist but none of them loads.
    """
    states = list_states(checkpoint_dir)
    for path in reversed(states):
        try:
            state = safe_torch_load(path)
            if not (isinstance(state, dict) and {"nets", "step", "optimizers"} <= state.keys()):
                raise CheckpointError(f"{path}: not an i2i training state (no nets/step/optimizers)")
        except CheckpointError as err:
            kept = f"kept as {_set_aside(path).name}" if set_aside and path.exists() else "kept"
            log(f"warning: skipping {one_line(str(err))}; {kept}")
            continue
        return path, state
    if states:
        raise CheckpointError(f"{checkpoint_dir}: none of the {len(states)} training state files loads (see the "
                              "warnings above); restore one, or start afresh with a new name")
    return None


def prepare_run_dir(run_dir: Path, *, resume: bool, overwrite: bool, is_main: bool) -> None:
    """Before a run starts: remove temp files of interrupted writes (rank 0), and refuse to train over an earlier
    run's training state unless asked to (``train.resume`` goes on from it; ``train.overwrite`` deletes it).

    Raises:
        UserError: The folder holds training state and neither ``resume`` nor ``overwrite`` is set.
    """
    if is_main and (note := clean_run_dir(run_dir)):
        print(note)
    states = list_states(run_dir / "checkpoints")
    if not states or resume:
        return
    if not overwrite:
        step = int(STATE_PATTERN.match(states[-1].name)[1])
        raise UserError(f"{run_dir}: holds an earlier run's training state (step {step}); add train.resume=true to "
                        "go on from it, choose a new name=..., or set train.overwrite=true to start again and "
                        "delete it")
    if is_main:
        for path in states:
            path.unlink(missing_ok=True)
        print(f"train.overwrite: deleted {len(states)} training state(s) of the earlier run in {run_dir}")


def to_cpu(obj: Any) -> Any:
    """``obj`` with every tensor moved to the CPU (to gather it to, and save it from, rank 0)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def clean_run_dir(run_dir: Path) -> str | None:
    """Remove temporary files of interrupted writes from a run's checkpoint and export folders; returns a note."""
    folders = [run_dir / "checkpoints", run_dir / "export", run_dir / "export_best", run_dir]
    folders += [p for base in folders[1:3] if base.is_dir() for p in base.iterdir() if p.is_dir()]
    return stale_temps_note(*remove_stale_temps(*folders), run_dir)


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
