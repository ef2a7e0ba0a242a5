"""Export a generator to ONNX, TorchScript or a ``torch.export`` program, with dynamic batch, height and width,
and check the exported file against PyTorch at two input sizes.

Input ``(N, in_channels, H, W)`` float32 in [-1, 1], output ``(N, out_channels, H, W)`` in [-1, 1]. ONNX and
TorchScript graphs take any H and W: they pad the input (replicate) up to the generator's ``size_multiple`` and crop
the output back (:class:`PadToMultiple`). ``torch.export`` cannot express that padding with dynamic shapes, so a
``pt2`` program takes H and W that are multiples of ``size_multiple`` only and refuses other sizes with a failed
guard (:class:`RequireMultiple`); :func:`check_size` gives the nearest valid size before calling it.

- ``onnx``: the TorchScript-based exporter (``dynamo=False``; the dynamo exporter needs ``onnxscript``) with
  ``dynamic_axes``; checked with onnxruntime when installed (``pip install "i2i[onnx]"``).
- ``pt2``: ``torch.export`` (the format PyTorch recommends now): load with ``torch.export.load(path).module()``.
- ``torchscript``: ``torch.jit.trace``, for LibTorch (C++) users; ``torch.jit`` is deprecated in current PyTorch.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from i2i.fileio import atomic_target, check_writable, remove_stale_temps

FORMATS = ("onnx", "pt2", "torchscript")
TOLERANCE = {"onnx": 1e-4, "pt2": 1e-5, "torchscript": 1e-5}
ONNX_INSTALL_HINT = 'onnxruntime is not installed, so the ONNX file was not checked; pip install "i2i[onnx]"'


@dataclass
class ExportReport:
    """Result of :func:`export_model`.

    Attributes:
        path: The written file.
        format: "onnx", "pt2" or "torchscript".
        max_abs_diff: Largest |exported - PyTorch| per checked input shape; None when not checked.
        note: Why the check was skipped, if it was.
    """

    path: Path
    format: str
    max_abs_diff: dict[tuple[int, ...], float] | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.max_abs_diff is None or max(self.max_abs_diff.values()) <= TOLERANCE[self.format]


class PadToMultiple(nn.Module):
    """Wraps a generator so that any H, W works: replicate-pad bottom/right to ``multiple``, run, crop back."""

    def __init__(self, net: nn.Module, multiple: int) -> None:
        super().__init__()
        self.net = net
        self.multiple = multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2], x.shape[-1]
        pad_h = (self.multiple - height % self.multiple) % self.multiple
        pad_w = (self.multiple - width % self.multiple) % self.multiple
        padded = nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        return self.net(padded)[:, :, :height, :width]


class RequireMultiple(nn.Module):
    """Wraps a generator for ``torch.export``: H and W must be multiples of ``multiple``. The checks become guards of
    the exported program, which then fails with ``Guard failed: x.size()[2] % <multiple> == 0`` on other sizes
    instead of returning another size."""

    def __init__(self, net: nn.Module, multiple: int) -> None:
        super().__init__()
        self.net = net
        self.multiple = multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch._check(x.shape[-2] % self.multiple == 0)
        torch._check(x.shape[-1] % self.multiple == 0)
        return self.net(x)


def check_size(height: int, width: int, size_multiple: int) -> None:
    """Refuse a size a ``pt2`` program cannot take, naming the nearest sizes that work.

    Raises:
        ValueError: H or W is not a multiple of ``size_multiple``.
    """
    if height % size_multiple or width % size_multiple:
        up = [-(-side // size_multiple) * size_multiple for side in (height, width)]
        raise ValueError(f"input {height} x {width} px: this pt2 program takes H and W that are multiples of "
                         f"{size_multiple} (e.g. pad to {up[0]} x {up[1]} and crop the output), or export to ONNX, "
                         "which pads inside the graph")


def check_shapes(in_channels: int, size_multiple: int) -> list[tuple[int, int, int, int]]:
    """Two input shapes of different batch, height and width (multiples of the size multiple, at least 32 px)."""
    unit = size_multiple * math.ceil(32 / size_multiple)
    return [(1, in_channels, 2 * unit, 3 * unit), (2, in_channels, 3 * unit, 2 * unit)]


def _atomic_target(path: Path) -> contextlib.AbstractContextManager[Path]:
    """A temporary path next to ``path`` (same suffix: torch.export wants .pt2), renamed over it on success."""
    return atomic_target(path, suffix=path.suffix)


@contextlib.contextmanager
def _quiet_tracing() -> Iterator[None]:
    """Silence the tracer's and exporter's notices about the legacy path (the export is checked numerically)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message=".*(legacy TorchScript-based ONNX|deprecated|will be removed|"
                                                  "Constant folding|instance_norm).*")
        yield


def _example(in_channels: int, size_multiple: int, batch: int = 2) -> torch.Tensor:
    height, width = check_shapes(in_channels, size_multiple)[0][2:]
    return torch.rand(batch, in_channels, height, width, generator=torch.Generator().manual_seed(0)) * 2 - 1


def export_onnx(net: nn.Module, path: Path, *, in_channels: int, size_multiple: int, opset: int = 17,
                metadata: dict[str, Any] | None = None) -> Path:
    """Write ``net`` (in eval mode) as ONNX with dynamic batch, height and width; ``metadata`` goes into the
    model's metadata_props when the ``onnx`` package is installed."""
    axes = {0: "batch", 2: "height", 3: "width"}
    with _atomic_target(path) as tmp, _quiet_tracing(), torch.no_grad():
        torch.onnx.export(PadToMultiple(net.eval(), size_multiple), (_example(in_channels, size_multiple, batch=1),), str(tmp), dynamo=False,
                          opset_version=opset, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": axes, "output": axes})
        if metadata and importlib.util.find_spec("onnx") is not None:
            import onnx

            model = onnx.load(str(tmp))
            for key, value in metadata.items():
                model.metadata_props.add(key=key, value=value if isinstance(value, str) else json.dumps(value))
            onnx.save(model, str(tmp))
    return path


def export_pt2(net: nn.Module, path: Path, *, in_channels: int, size_multiple: int) -> Path:
    """Write ``torch.export.export(net)`` with dynamic batch, height and width; the program refuses (at run time)
    an H or W that is not a multiple of ``size_multiple`` (:class:`RequireMultiple`)."""
    from torch.export import Dim

    example = _example(in_channels, size_multiple, batch=2)  # Batch 1 would be specialised as a constant.
    checked = RequireMultiple(net.eval(), size_multiple)
    with torch.no_grad():
        program = torch.export.export(checked, (example,),
                                      dynamic_shapes={"x": {0: Dim.DYNAMIC, 2: Dim.DYNAMIC, 3: Dim.DYNAMIC}})
    with _atomic_target(path) as tmp:
        torch.export.save(program, str(tmp))
    return path


def export_torchscript(net: nn.Module, path: Path, *, in_channels: int, size_multiple: int) -> Path:
    """Write ``torch.jit.trace(net)`` (deprecated in current PyTorch; prefer ``pt2`` or ``onnx``)."""
    with _quiet_tracing(), torch.no_grad():
        traced = torch.jit.trace(PadToMultiple(net.eval(), size_multiple), _example(in_channels, size_multiple, batch=1), check_trace=False)
    with _atomic_target(path) as tmp, _quiet_tracing():
        torch.jit.save(traced, str(tmp))
    return path


def load_runner(path: Path, fmt: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A function running the exported file on a CPU float32 tensor; None when onnxruntime is missing for ONNX."""
    if fmt == "onnx":
        if importlib.util.find_spec("onnxruntime") is None:
            return None
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda x: torch.from_numpy(np.asarray(session.run(None, {"input": x.numpy()})[0]))
    if fmt == "pt2":
        module = torch.export.load(str(path)).module()
    else:
        with _quiet_tracing():
            module = torch.jit.load(str(path), map_location="cpu")
    return lambda x: module(x)


def compare(net: nn.Module, path: Path, fmt: str, *, in_channels: int,
            size_multiple: int) -> dict[tuple[int, ...], float] | None:
    """Max |exported - PyTorch| at the two :func:`check_shapes` (plus one size that is not a multiple of the size
    multiple for ONNX and TorchScript, which pad); None when the runtime is not installed."""
    runner = load_runner(path, fmt)
    if runner is None:
        return None
    generator = torch.Generator().manual_seed(1)
    diffs = {}
    net = PadToMultiple(net.eval().cpu(), size_multiple)
    shapes = check_shapes(in_channels, size_multiple)
    if fmt != "pt2" and size_multiple > 1:
        shapes.append((1, in_channels, shapes[0][2] + 1, shapes[0][3] - 1))
    for shape in shapes:
        x = torch.rand(shape, generator=generator) * 2 - 1
        with torch.no_grad():
            diffs[shape] = (runner(x).float() - net(x)).abs().max().item()
    return diffs


def export_model(net: nn.Module, config: dict[str, Any], path: str | Path, fmt: str, *, opset: int = 17,
                 check: bool = True) -> ExportReport:
    """Export a generator loaded by :func:`i2i.export.load_generator_with_config` and check the file.

    Args:
        net: The generator (moved to the CPU and put in eval mode).
        config: Its description (in_channels, size_multiple, architecture, ...).
        path: Output file (e.g. ``horse2zebra.onnx``, ``.pt2``, ``.pt``).
        fmt: One of FORMATS.
        opset: ONNX opset version.
        check: Compare the exported file with PyTorch at two input sizes.

    Raises:
        ValueError: Unknown format.
        UserError: ``path`` is a folder, lies under a file or is not writable.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format: unknown export format '{fmt}'; valid: {', '.join(FORMATS)}")
    from i2i.inference.translator import complete_config

    path = check_writable(path, "output")
    remove_stale_temps(path.parent)
    net = net.eval().cpu()
    config = complete_config(config, net)
    shape_args = {"in_channels": int(config["in_channels"]), "size_multiple": int(config.get("size_multiple", 1))}
    if fmt == "onnx":
        metadata = {"i2i_" + key: config[key] for key in ("architecture", "kwargs", "in_channels", "out_channels",
                                                          "size_multiple", "direction") if key in config}
        export_onnx(net, path, opset=opset, metadata=metadata | {"i2i_value_range": "[-1, 1]"}, **shape_args)
    elif fmt == "pt2":
        export_pt2(net, path, **shape_args)
    else:
        export_torchscript(net, path, **shape_args)
    report = ExportReport(path, fmt)
    if check:
        report.max_abs_diff = compare(net, path, fmt, **shape_args)
        if report.max_abs_diff is None:
            report.note = ONNX_INSTALL_HINT
    else:
        report.note = "not checked (--no-check)"
    return report
