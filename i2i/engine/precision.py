"""Mixed precision: autocast and one GradScaler per optimiser (fp16 only), owned by the trainer."""
from __future__ import annotations

import contextlib
import warnings

import torch
from torch import Tensor


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


class Precision:
    """Wraps autocast and loss scaling so algorithms stay precision-agnostic.

    Args:
        mode: "fp32", "bf16" or "fp16" (already resolved with :func:`resolve_precision`).
        device: the training device.
    """

    def __init__(self, mode: str, device: torch.device) -> None:
        self.mode = mode
        self.device = device
        self.dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[mode]
        self.scalers: dict[str, torch.amp.GradScaler] = {}

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.mode == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def _scaler(self, name: str) -> torch.amp.GradScaler:
        if name not in self.scalers:
            self.scalers[name] = torch.amp.GradScaler(self.device.type, enabled=self.mode == "fp16")
        return self.scalers[name]

    def backward(self, loss: Tensor, optimizer_name: str) -> None:
        self._scaler(optimizer_name).scale(loss).backward()

    def step(self, optimizer_name: str, optimizer: torch.optim.Optimizer) -> None:
        scaler = self._scaler(optimizer_name)
        scaler.step(optimizer)
        scaler.update()

    def state_dict(self) -> dict:
        return {name: scaler.state_dict() for name, scaler in self.scalers.items() if scaler.is_enabled()}

    def load_state_dict(self, state: dict) -> None:
        for name, scaler_state in state.items():
            self._scaler(name).load_state_dict(scaler_state)
