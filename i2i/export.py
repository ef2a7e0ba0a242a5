"""Exported generators: ``config.json`` + ``model.safetensors`` that rebuild without the training code.

An export folder (e.g. ``runs/<name>/export/G_A``) holds:

- ``model.safetensors``: the generator's state_dict (float32, contiguous).
- ``config.json``: ``{"format": "i2i-generator", "version": 1, "architecture": <registry name>, "kwargs": {...},
  "direction": "AtoB", "in_channels": 3, "out_channels": 3, "size_multiple": 4, "step": ..., "data": {...}}``.

:func:`load_generator` also accepts a training run folder, a training state file, and the reference
implementation's ``.pth`` generator files (architecture detected from the keys).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from i2i.checkpoint import CheckpointError, list_states, safe_torch_load
from i2i.fileio import write_bytes_atomic

FORMAT = "i2i-generator"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def export_generator(net: nn.Module, folder: str | Path, *, architecture: str, kwargs: dict[str, Any],
                     direction: str, extra: dict[str, Any] | None = None) -> Path:
    """Write ``net`` to ``folder`` (weights first, then the config, each atomically). Returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().contiguous().cpu() if v.is_floating_point() else v.detach().contiguous().cpu()
             for k, v in net.state_dict().items()}
    write_bytes_atomic(folder / WEIGHTS_NAME, save(state))
    config = {"format": FORMAT, "version": 1, "architecture": architecture, "kwargs": kwargs,
              "direction": direction, "in_channels": kwargs.get("in_channels", 3),
              "out_channels": kwargs.get("out_channels", 3), "size_multiple": int(getattr(net, "size_multiple", 1)),
              **(extra or {})}
    write_bytes_atomic(folder / CONFIG_NAME, json.dumps(config, indent=2).encode())
    return folder


def _load_export_folder(folder: Path) -> tuple[nn.Module, dict[str, Any]]:
    from i2i.models import build_generator

    config_path = folder / CONFIG_NAME
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{config_path}: cannot read the export config ({err})") from None
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{config_path}: not an i2i generator config (format={config.get('format')!r})")
    try:
        net = build_generator(config["architecture"], **config["kwargs"])
    except (KeyError, TypeError) as err:
        message = err.args[0] if err.args else err
        raise CheckpointError(f"{config_path}: cannot build the generator ({message})") from None
    try:
        state = load_file(str(folder / WEIGHTS_NAME))
    except (OSError, SafetensorError) as err:
        raise CheckpointError(f"{folder / WEIGHTS_NAME}: cannot read the weights ({err})") from None
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{folder / WEIGHTS_NAME}: weights do not match {config['architecture']} "
                              f"({str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else err})"
                              ) from None
    return net, config


def _pick_export(folder: Path, name: str | None) -> Path:
    export_dir = folder / "export"
    choices = sorted(p.name for p in export_dir.iterdir() if (p / CONFIG_NAME).is_file())
    if name is not None:
        if name not in choices:
            raise CheckpointError(f"{folder}: no exported generator '{name}'; found: {', '.join(choices) or 'none'}")
        return export_dir / name
    if len(choices) != 1:
        raise CheckpointError(f"{folder}: holds generators {', '.join(choices)}; "
                              "choose one with name= (--name on the command line)")
    return export_dir / choices[0]


def _from_training_state(path: Path, state: dict, name: str | None) -> tuple[nn.Module, dict[str, Any]]:
    from i2i.models import build_generator

    specs = state["generators"]
    key = name or ("G" if "G" in specs else "G_A")
    if key not in specs:
        raise CheckpointError(f"{path}: no generator '{key}'; found: {', '.join(specs)}")
    spec = specs[key]
    try:
        net = build_generator(spec["architecture"], **spec["kwargs"])
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"{path}: cannot build generator '{key}' ({err.args[0] if err.args else err})") from None
    net.load_state_dict(state["nets"][key])
    return net, {"format": FORMAT, "source": str(path), "in_channels": spec["kwargs"].get("in_channels", 3),
                 "out_channels": spec["kwargs"].get("out_channels", 3), **spec}


def load_generator_with_config(path: str | Path, *, name: str | None = None, device: str | torch.device = "cpu",
                               revision: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Load a generator and a description of it (architecture, kwargs, direction, channels, size_multiple).

    Args:
        path: an export folder, its config.json or model.safetensors, a run folder (``runs/<name>``), a training
            state ``.pt`` file, a reference-implementation generator ``.pth`` file, or a Hugging Face Hub repo id
            (``user/repo``, used when no local path of that name exists; see :mod:`i2i.hub`).
        name: which generator of a run or state with several (``G_A``/``G_B``); default ``G`` or ``G_A``.
        device: where to put the network.
        revision: the Hub revision (branch, tag or commit) of a repo id; default the main branch.

    Returns:
        The generator in eval mode and its description.

    Raises:
        CheckpointError: one line naming the file and what is wrong.
    """
    from i2i.hub import download, looks_like_repo_id
    from i2i.models.reference import generator_from_reference_state_dict

    path = download(str(path), revision=revision) if looks_like_repo_id(path) else Path(path)
    if path.is_file() and path.name in (CONFIG_NAME, WEIGHTS_NAME):
        path = path.parent
    if path.is_dir():
        if (path / "export").is_dir():
            path = _pick_export(path, name)
        elif not (path / CONFIG_NAME).is_file() and list_states(path / "checkpoints"):
            path = list_states(path / "checkpoints")[-1]
    if path.is_dir():
        if not (path / CONFIG_NAME).is_file():
            raise CheckpointError(f"{path}: folder holds no i2i generator ({CONFIG_NAME} + {WEIGHTS_NAME})")
        net, config = _load_export_folder(path)
    else:
        state = safe_torch_load(path)
        if isinstance(state, dict) and "nets" in state and "generators" in state:
            net, config = _from_training_state(path, state, name)
        elif isinstance(state, dict):
            try:
                net, kwargs = generator_from_reference_state_dict(state)
            except ValueError as err:
                raise CheckpointError(f"{path}: {err}") from None
            kwargs = dict(kwargs)
            architecture = kwargs.pop("name")
            config = {"format": "reference", "architecture": architecture, "kwargs": kwargs, "direction": "AtoB",
                      "in_channels": kwargs.get("in_channels", 3), "out_channels": kwargs.get("out_channels", 3),
                      "source": str(path)}
        else:
            raise CheckpointError(f"{path}: not a generator checkpoint (holds a {type(state).__name__})")
    config.setdefault("size_multiple", int(getattr(net, "size_multiple", 1)))
    return net.to(device).eval(), config


def load_generator(path: str | Path, *, name: str | None = None, device: str | torch.device = "cpu",
                   revision: str | None = None) -> nn.Module:
    """Load a generator in eval mode from any of the sources :func:`load_generator_with_config` accepts.

    Example: ``load_generator("runs/facades")``, ``load_generator("user/facades-pix2pix", revision="v1")``.
    """
    return load_generator_with_config(path, name=name, device=device, revision=revision)[0]
