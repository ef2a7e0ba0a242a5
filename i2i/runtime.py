"""The runtime layer shared by training, inference and benchmarks: device, precision/autocast, backend flags.

- :func:`resolve_device` turns "auto"/"cpu"/"cuda"/"cuda:N" into a ``torch.device`` (one-line error without CUDA).
- :func:`resolve_precision` picks the precision that really runs on a device; :class:`Precision` wraps autocast and
  one GradScaler per optimiser (fp16 only).
- :func:`configure_backends` sets cuDNN autotuning and TF32.
- :func:`out_of_memory_message` is the one-line error for a batch that does not fit on the device.
"""
from __future__ import annotations

import contextlib
import warnings

import torch
from torch import Tensor

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
SKIP_WARNING_STREAK = 5  # consecutive fp16 steps of one optimiser skipped by the loss scaler before a warning


def resolve_device(request: str | torch.device, *, local_rank: int | None = None) -> torch.device:
    """"auto" -> CUDA when available, else CPU; "cuda" -> ``cuda:<local_rank>`` (or the current device).

    Raises:
        ValueError: one line naming the ``device`` key when CUDA is asked for but absent, or the name is not a device.
    """
    request = str(request)
    if request == "auto":
        request = "cuda" if torch.cuda.is_available() else "cpu"
    if request.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device: '{request}' requested but CUDA is not available; use device=cpu or auto")
    if request == "cuda":
        return torch.device("cuda", local_rank if local_rank is not None else torch.cuda.current_device())
    try:
        return torch.device(request)
    except RuntimeError:
        raise ValueError(f"device: '{request}' is not a device; use auto, cpu, cuda or cuda:N") from None


def configure_backends(device: torch.device, *, cudnn_benchmark: bool = True, tf32: bool = True) -> None:
    """cuDNN autotuning (fastest kernels for fixed shapes) and TF32 matmuls/convolutions on CUDA devices."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = cudnn_benchmark
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast to ``precision`` ("fp32" is a no-op) on ``device``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=PRECISIONS[precision])


def resolve_precision(requested: str, device: torch.device) -> str:
    """Return the precision that will really run, warning once when ``requested`` cannot run on ``device``."""
    cpu_bf16 = device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    if requested == "fp16" and device.type == "cpu":
        fallback = "bf16" if cpu_bf16 else "fp32"
        warnings.warn(f"train.precision=fp16 is not supported on the CPU; using {fallback} instead", stacklevel=2)
        return fallback
    if requested == "bf16" and device.type == "cpu" and not cpu_bf16:
        warnings.warn("train.precision=bf16: this CPU has no native bf16 (AVX512-BF16/AMX), so bf16 is emulated and "
                      "much slower than fp32 (measured 50x on a 2-core EPYC); prefer fp32 here", stacklevel=2)
    if requested == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        warnings.warn("train.precision=bf16 is not supported on this GPU; using fp16 with loss scaling instead",
                      stacklevel=2)
        return "fp16"
    return requested


def out_of_memory_message(device: torch.device, *, batch_size: int, grad_accum: int, world_size: int = 1) -> str:
    """What to change when a training step runs out of device memory (one line, naming the config keys)."""
    per_forward = batch_size // max(1, world_size) // max(1, grad_accum)
    processes = f" on each of {world_size} processes" if world_size > 1 else ""
    return (f"out of {device.type.upper()} memory at data.batch_size={batch_size} ({per_forward} images per forward "
            f"pass{processes}, train.grad_accum={grad_accum}); lower data.batch_size, or raise train.grad_accum so "
            "each step runs in smaller micro-batches (it must divide the per-process batch)")


class Precision:
    """Wraps autocast and loss scaling so algorithms stay precision-agnostic.

    With fp16, :meth:`step` counts the steps each optimiser's GradScaler skipped (inf/NaN gradients) on the device,
    without waiting for it; :meth:`skip_report` reads the counts and warns after :data:`SKIP_WARNING_STREAK`
    consecutive skips.

    Args:
        mode: "fp32", "bf16" or "fp16" (already resolved with :func:`resolve_precision`).
        device: the training device.
    """

    def __init__(self, mode: str, device: torch.device) -> None:
        self.mode = mode
        self.device = device
        self.dtype = PRECISIONS[mode]
        self.scalers: dict[str, torch.amp.GradScaler] = {}
        self._skipped: dict[str, Tensor] = {}  # skipped steps per optimiser (fp16), on the device
        self._streak: dict[str, Tensor] = {}  # consecutive skipped steps
        self._warned: set[str] = set()

    def autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.mode)

    def _scaler(self, name: str) -> torch.amp.GradScaler:
        if name not in self.scalers:
            self.scalers[name] = torch.amp.GradScaler(self.device.type, enabled=self.mode == "fp16")
        return self.scalers[name]

    def backward(self, loss: Tensor, optimizer_name: str) -> None:
        self._scaler(optimizer_name).scale(loss).backward()

    def step(self, optimizer_name: str, optimizer: torch.optim.Optimizer) -> None:
        scaler = self._scaler(optimizer_name)
        # GradScaler has no public "skipped" flag short of get_scale(), which waits for the GPU; its scale tensor backs
        # off exactly when inf/NaN gradients made it skip the step, so compare it on the device.
        before = scaler._scale.clone() if scaler.is_enabled() and scaler._scale is not None else None
        scaler.step(optimizer)
        scaler.update()
        if before is not None:
            skipped = (scaler._scale < before).long()
            self._skipped[optimizer_name] = self._skipped.get(optimizer_name, 0) + skipped
            self._streak[optimizer_name] = (self._streak.get(optimizer_name, 0) + 1) * skipped

    def skip_report(self) -> dict[str, int]:
        """fp16: steps skipped so far by each optimiser's loss scaler, as ``amp/skipped_<name>`` ({} otherwise).

        Warns (once per streak) when the last :data:`SKIP_WARNING_STREAK` or more steps of an optimiser were all
        skipped. Reading the counts waits for the GPU: call it where the losses are read anyway.
        """
        report = {}
        for name, skipped in self._skipped.items():
            report[f"amp/skipped_{name}"] = int(skipped)
            streak = int(self._streak[name])
            if streak < SKIP_WARNING_STREAK:
                self._warned.discard(name)
            elif name not in self._warned:
                self._warned.add(name)
                warnings.warn(f"train.precision=fp16: the loss scaler skipped the last {streak} steps of optimiser "
                              f"'{name}' (inf/NaN gradients; loss scale now {self.scalers[name].get_scale():g}); "
                              "training goes on, but if this persists use train.precision=bf16 or a lower optim.lr",
                              stacklevel=2)
        return report

    def state_dict(self) -> dict:
        return {name: scaler.state_dict() for name, scaler in self.scalers.items() if scaler.is_enabled()}

    def load_state_dict(self, state: dict) -> None:
        for name, scaler_state in state.items():
            self._scaler(name).load_state_dict(scaler_state)
