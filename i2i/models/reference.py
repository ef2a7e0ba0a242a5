"""Import checkpoints of the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix) and of CUT.

The reference saves bare state_dicts of its `nn.Sequential`-based networks (`latest_net_G_A.pth`, model-zoo files
such as `horse2zebra.pth`). These functions detect the architecture from the keys and shapes, build the matching
i2i network and load the weights under i2i's module names through an explicit key mapping. CUT's generators
(taesungp/contrastive-unpaired-translation, anti-aliased ResNet) and its PatchNCE heads (`latest_net_F.pth`) load
the same way.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from i2i.losses.patchnce import PatchSampler
from i2i.models._builder import build_discriminator, build_generator
from i2i.safe_load import load_weights_only

STALE_NORM_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")

StateDict = dict[str, torch.Tensor]


# File loading.


def load_reference_file(path: str | Path) -> StateDict:
    """Read a reference checkpoint safely (`weights_only=True`, CPU) and check it is a state_dict.

    Args:
        path: A `.pth` file as the reference saves it.

    Returns:
        The state_dict: parameter/buffer name -> tensor.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is truncated or corrupt, holds pickled objects other than tensors, or is not a dict of
            tensors; the one-line message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file does not exist")
    loaded = load_weights_only(path, ValueError)
    return check_state_dict(loaded, source=str(path))


def check_state_dict(state_dict: Any, *, source: str = "state_dict") -> StateDict:
    """Return `state_dict` as a plain dict after checking it maps strings to tensors.

    Raises:
        ValueError: It is not a non-empty dict of tensors.
    """
    if not isinstance(state_dict, dict):
        raise ValueError(f"{source}: expected a state_dict (dict of tensors), got {type(state_dict).__name__}")
    if not state_dict:
        raise ValueError(f"{source}: the state_dict is empty")
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{source}: expected a state_dict (dict of tensors), but entry {key!r} is {type(value).__name__}"
            )
    return dict(state_dict)


def _strip_data_parallel(state_dict: StateDict) -> StateDict:
    """Remove the "module." prefix that nn.DataParallel adds to every key."""
    if all(key.startswith("module.") for key in state_dict):
        return {key[len("module.") :]: value for key, value in state_dict.items()}
    return state_dict


def _drop_stale_statistics(state_dict: StateDict) -> StateDict:
    """Drop running statistics of instance norms, which PyTorch < 0.4 stored and the reference discards on load."""
    return {key: value for key, value in state_dict.items() if key.rpartition(".")[2] not in STALE_NORM_STATISTICS}


def _first_keys(state_dict: StateDict, count: int = 4) -> str:
    return ", ".join(list(state_dict)[:count])


# Architecture detection and key mapping. A key map sends a reference module prefix to an i2i module prefix.


def _conv_weight(state_dict: StateDict, prefix: str, kernel: int) -> torch.Tensor | None:
    weight = state_dict.get(f"{prefix}.weight")
    if weight is None or weight.dim() != 4 or weight.shape[-1] != kernel:
        return None
    return weight


def _resnet_config(state_dict: StateDict, use_dropout: bool | None) -> tuple[dict[str, Any], dict[str, str]]:
    # CUT's anti-aliased layout adds a blur layer (with a `filt` buffer) after each downsampling and before each
    # upsampling conv, which shifts the residual blocks from model.10 to model.12.
    antialias = any(key.endswith(".filt") for key in state_dict)
    first_block = 12 if antialias else 10
    block_indices = sorted({int(key.split(".")[1]) for key in state_dict if ".conv_block." in key})
    n_blocks = len(block_indices)
    if block_indices != list(range(first_block, first_block + n_blocks)):
        layout = "CUT (anti-aliased)" if antialias else "pix2pix/CycleGAN"
        raise ValueError(f"not a {layout} ResNet generator: residual blocks at model.{block_indices}")
    has_dropout = n_blocks > 0 and _conv_weight(state_dict, f"model.{first_block}.conv_block.6", 3) is not None
    if use_dropout is not None and use_dropout != has_dropout:
        raise ValueError(f"use_dropout={use_dropout} given, but the checkpoint's residual blocks say {has_dropout}")
    head_index = first_block + n_blocks + (9 if antialias else 7)
    head = _conv_weight(state_dict, f"model.{head_index}", 7)
    if head is None:
        raise ValueError(f"not a pix2pix/CycleGAN/CUT ResNet generator: no 7x7 output conv model.{head_index}")
    stem = state_dict["model.1.weight"]
    name = {6: "resnet_6blocks", 9: "resnet_9blocks"}.get(n_blocks, "resnet")
    config: dict[str, Any] = {"name": name, "in_channels": stem.shape[1], "out_channels": head.shape[0]}
    if name == "resnet":
        config["n_blocks"] = n_blocks
    norm = "batch" if "model.2.weight" in state_dict else "instance"
    config |= {"ngf": stem.shape[0], "norm": norm, "use_dropout": has_dropout}
    if antialias:
        config["antialias"] = True
        return config, _cut_resnet_key_map(n_blocks, has_dropout)
    return config, _resnet_key_map(n_blocks, has_dropout)


def _block_key_map(first_block: int, n_blocks: int, use_dropout: bool) -> dict[str, str]:
    key_map = {}
    second_conv = 6 if use_dropout else 5
    for block in range(n_blocks):
        reference, ours = f"model.{first_block + block}.conv_block", f"blocks.{block}"
        key_map |= {f"{reference}.1": f"{ours}.conv1", f"{reference}.2": f"{ours}.norm1"}
        key_map |= {f"{reference}.{second_conv}": f"{ours}.conv2", f"{reference}.{second_conv + 1}": f"{ours}.norm2"}
    return key_map


def _resnet_key_map(n_blocks: int, use_dropout: bool) -> dict[str, str]:
    key_map = {"model.1": "stem.conv", "model.2": "stem.norm", "model.4": "down1.conv", "model.5": "down1.norm"}
    key_map |= {"model.7": "down2.conv", "model.8": "down2.norm"}
    key_map |= _block_key_map(10, n_blocks, use_dropout)
    up = 10 + n_blocks
    key_map |= {f"model.{up}": "up1.conv", f"model.{up + 1}": "up1.norm"}
    key_map |= {f"model.{up + 3}": "up2.conv", f"model.{up + 4}": "up2.norm", f"model.{up + 7}": "head"}
    return key_map


def _cut_resnet_key_map(n_blocks: int, use_dropout: bool) -> dict[str, str]:
    """CUT's anti-aliased ResnetGenerator (taesungp/contrastive-unpaired-translation, `--no_antialias` unset)."""
    key_map = {"model.1": "stem.conv", "model.2": "stem.norm"}
    for index, down in ((4, "down1"), (8, "down2")):
        key_map |= {f"model.{index}": f"{down}.conv", f"model.{index + 1}": f"{down}.norm"}
        key_map[f"model.{index + 3}"] = f"{down}.downsample"
    key_map |= _block_key_map(12, n_blocks, use_dropout)
    for index, up in ((12 + n_blocks, "up1"), (16 + n_blocks, "up2")):
        key_map |= {f"model.{index}": f"{up}.upsample", f"model.{index + 1}": f"{up}.conv"}
        key_map[f"model.{index + 2}"] = f"{up}.norm"
    key_map[f"model.{21 + n_blocks}"] = "head"
    return key_map


def _unet_level_prefix(level: int) -> str:
    """Reference prefix of the Sequential of U-Net level `level` (0 = outermost): blocks nest at index 1, then 3."""
    return "model.model" if level == 0 else "model.model.1.model" + ".3.model" * (level - 1)


def _unet_config(state_dict: StateDict, use_dropout: bool | None) -> tuple[dict[str, Any], dict[str, str]]:
    num_downs = max(key.split(".").count("model") for key in state_dict) - 1
    stem = _conv_weight(state_dict, "model.model.0", 4)
    head = _conv_weight(state_dict, "model.model.3", 4)
    if stem is None or head is None or num_downs < 5:
        raise ValueError(f"not a pix2pix/CycleGAN U-Net generator: keys are {_first_keys(state_dict)}, ...")
    name = {7: "unet_128", 8: "unet_256"}.get(num_downs, "unet")
    config: dict[str, Any] = {"name": name, "in_channels": stem.shape[1], "out_channels": head.shape[1]}
    if name == "unet":
        config["num_downs"] = num_downs
    norm = "batch" if "model.model.1.model.2.weight" in state_dict else "instance"
    # Dropout has no weights; the reference trains U-Nets with it unless --no_dropout is given.
    config |= {"ngf": stem.shape[0], "norm": norm, "use_dropout": True if use_dropout is None else use_dropout}
    return config, _unet_key_map(num_downs)


def _unet_key_map(num_downs: int) -> dict[str, str]:
    key_map = {}
    for level in range(num_downs):
        reference, ours = _unet_level_prefix(level), f"levels.{level}"
        if level == 0:
            layers = {0: "down_conv", 3: "up_conv"}
        elif level == num_downs - 1:
            layers = {1: "down_conv", 3: "up_conv", 4: "up_norm"}
        else:
            layers = {1: "down_conv", 2: "down_norm", 5: "up_conv", 6: "up_norm"}
        key_map |= {f"{reference}.{index}": f"{ours}.{layer}" for index, layer in layers.items()}
    return key_map


def _patch_config(state_dict: StateDict) -> tuple[dict[str, Any], dict[str, str]]:
    layer_indices = {int(match[1]) for key in state_dict if (match := re.fullmatch(r"model\.(\d+)\.weight", key))}
    conv_indices = sorted(index for index in layer_indices if _conv_weight(state_dict, f"model.{index}", 4) is not None)
    n_layers = (conv_indices[-1] - 2) // 3
    if conv_indices != [0] + [2 + 3 * block for block in range(n_layers + 1)]:
        raise ValueError(f"not a pix2pix/CycleGAN PatchGAN discriminator: 4x4 convs at model.{conv_indices}")
    stem = state_dict["model.0.weight"]
    config: dict[str, Any] = {"name": "basic" if n_layers == 3 else "n_layers", "in_channels": stem.shape[1]}
    if n_layers != 3:
        config["n_layers"] = n_layers
    config |= {"ndf": stem.shape[0], "norm": "batch" if "model.3.weight" in state_dict else "instance"}
    return config, _patch_key_map(n_layers)


def _patch_key_map(n_layers: int) -> dict[str, str]:
    key_map = {"model.0": "stem.conv", f"model.{2 + 3 * n_layers}": "head"}
    for block in range(n_layers):
        key_map |= {f"model.{2 + 3 * block}": f"blocks.{block}.conv", f"model.{3 + 3 * block}": f"blocks.{block}.norm"}
    return key_map


def _pixel_config(state_dict: StateDict) -> tuple[dict[str, Any], dict[str, str]]:
    stem = state_dict["net.0.weight"]
    norm = "batch" if "net.3.weight" in state_dict else "instance"
    config = {"name": "pixel", "in_channels": stem.shape[1], "ndf": stem.shape[0], "norm": norm}
    return config, {"net.0": "stem.conv", "net.2": "block.conv", "net.3": "block.norm", "net.5": "head"}


# Loading.


def _rename(state_dict: StateDict, key_map: dict[str, str], network: str) -> StateDict:
    renamed, unknown = {}, []
    for key, tensor in state_dict.items():
        prefix, _, tensor_name = key.rpartition(".")
        if prefix in key_map:
            renamed[f"{key_map[prefix]}.{tensor_name}"] = tensor
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"reference {network} checkpoint has unexpected keys: {', '.join(unknown[:6])}")
    return renamed


def _load_checked(model: nn.Module, state_dict: StateDict, key_map: dict[str, str], config: dict[str, Any]) -> None:
    """Load strictly after comparing names and shapes one by one, reporting differences under reference names."""
    to_reference = {ours: reference for reference, ours in key_map.items()}

    def reference_name(key: str) -> str:
        prefix, _, tensor_name = key.rpartition(".")
        return f"{to_reference.get(prefix, prefix)}.{tensor_name}"

    expected = model.state_dict()
    problems = [f"missing {reference_name(key)}" for key in expected if key not in state_dict]
    problems += [
        f"{reference_name(key)} has shape {list(tensor.shape)}, expected {list(expected[key].shape)}"
        for key, tensor in state_dict.items()
        if key in expected and tensor.shape != expected[key].shape
    ]
    if problems:
        shown = "; ".join(problems[:4]) + ("; ..." if len(problems) > 4 else "")
        raise ValueError(f"reference checkpoint does not match the detected {config}: {shown}")
    model.load_state_dict(state_dict, strict=True)


def _build_and_load(state_dict: StateDict, config: dict[str, Any], key_map: dict[str, str], kind: str) -> nn.Module:
    kwargs = {key: value for key, value in config.items() if key != "name"}
    build = build_generator if kind == "generator" else build_discriminator
    model = build(config["name"], **kwargs)
    if config["norm"] == "instance":
        state_dict = _drop_stale_statistics(state_dict)
    _load_checked(model, _rename(state_dict, key_map, kind), key_map, config)
    return model.eval()


def _what_it_looks_like(state_dict: StateDict) -> str:
    if "model.0.weight" in state_dict or "net.0.weight" in state_dict:
        return " (it looks like a discriminator)"
    if any(key.startswith("mlp_") for key in state_dict):
        return " (it looks like CUT's PatchNCE projection head, latest_net_F.pth; the generator is latest_net_G.pth)"
    return ""


def generator_from_reference_state_dict(
    state_dict: StateDict, *, use_dropout: bool | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Build the i2i generator matching a reference generator state_dict and load its weights.

    Recognises ResNet generators (any number of blocks, with or without dropout; the reference's layout or CUT's
    anti-aliased one) and U-Nets (any depth), with batch or instance norm. Stale instance-norm statistics and a
    DataParallel "module." prefix are removed.

    Args:
        state_dict: The reference's `net.state_dict()` (e.g. from `load_reference_file`).
        use_dropout: U-Net dropout leaves no weights, so it is taken from here; None means True, the reference's
            pix2pix default. For ResNets it is read from the keys (a contradicting value raises ValueError).

    Returns:
        (generator in eval mode, build config): the config holds "name" and the keyword arguments, so that
        `build_generator(config["name"], **rest)` rebuilds the same architecture.

    Raises:
        ValueError: The state_dict is not a recognised reference generator, or does not match the detected one.
    """
    state_dict = _strip_data_parallel(check_state_dict(state_dict))
    stem = state_dict.get("model.1.weight")
    if any(key.startswith("model.model.") for key in state_dict):
        config, key_map = _unet_config(state_dict, use_dropout)
    elif stem is not None and stem.dim() == 4 and stem.shape[-1] == 7:
        config, key_map = _resnet_config(state_dict, use_dropout)
    else:
        raise ValueError(f"not a pix2pix/CycleGAN/CUT generator{_what_it_looks_like(state_dict)}: "
                         f"first keys are {_first_keys(state_dict)}")
    return _build_and_load(state_dict, config, key_map, "generator"), config


def discriminator_from_reference_state_dict(state_dict: StateDict) -> tuple[nn.Module, dict[str, Any]]:
    """Build the i2i discriminator matching a reference PatchGAN ("basic"/"n_layers") or "pixel" state_dict.

    Returns:
        (discriminator in eval mode, build config with "name" and the keyword arguments).

    Raises:
        ValueError: The state_dict is not a recognised reference discriminator.
    """
    state_dict = _strip_data_parallel(check_state_dict(state_dict))
    if _conv_weight(state_dict, "model.0", 4) is not None and "model.1.weight" not in state_dict:
        config, key_map = _patch_config(state_dict)
    elif _conv_weight(state_dict, "net.0", 1) is not None:
        config, key_map = _pixel_config(state_dict)
    else:
        hint = " (it looks like a generator)" if "model.1.weight" in state_dict else _what_it_looks_like(state_dict)
        raise ValueError(f"not a pix2pix/CycleGAN discriminator{hint}: first keys are {_first_keys(state_dict)}")
    return _build_and_load(state_dict, config, key_map, "discriminator"), config


def generator_from_reference_file(
    path: str | Path, *, use_dropout: bool | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """`load_reference_file` then `generator_from_reference_state_dict`, with the file name in errors."""
    state_dict = load_reference_file(path)
    try:
        return generator_from_reference_state_dict(state_dict, use_dropout=use_dropout)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def patch_sampler_from_cut_state_dict(state_dict: StateDict) -> PatchSampler:
    """Build CUT's PatchNCE projection head from its `latest_net_F.pth` state_dict (`mlp_<i>.<0|2>.*` keys).

    Returns:
        A :class:`~i2i.losses.patchnce.PatchSampler` with the weights loaded (head i <- mlp_i).

    Raises:
        ValueError: The state_dict is not a CUT `PatchSampleF` with MLP heads.
    """
    state_dict = _strip_data_parallel(check_state_dict(state_dict))
    heads = sorted({int(match[1]) for key in state_dict if (match := re.match(r"mlp_(\d+)\.", key))})
    if not heads or heads != list(range(len(heads))) or len(state_dict) != 4 * len(heads):
        raise ValueError(f"not a CUT PatchNCE head (mlp_<i>.0/2 weights and biases): keys are "
                         f"{_first_keys(state_dict)}")
    first = [state_dict[f"mlp_{head}.0.weight"] for head in heads]
    sampler = PatchSampler(in_channels=[weight.shape[1] for weight in first], num_units=first[0].shape[0])
    sampler.load_state_dict({f"heads.{key[len('mlp_'):]}": value for key, value in state_dict.items()})
    return sampler
