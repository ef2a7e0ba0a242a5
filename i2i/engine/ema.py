"""Generator EMA: an exponential moving average of the generators' weights, used for samples, validation and export.

``ema = d_t * ema + (1 - d_t) * weights`` after every step, with the warm-up ``d_t = min(decay, (1 + t) / (10 + t))``
(t = steps taken), so early averages are not dominated by the random initial weights. Buffers (batch-norm
statistics) are copied, not averaged.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from i2i.engine.hooks import HookBase


def ema_decay(decay: float, step: int) -> float:
    """The decay used after step ``step`` (1-based): ``min(decay, (1 + step) / (10 + step))``."""
    return min(decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def update_ema(ema: nn.Module, net: nn.Module, decay: float) -> None:
    """``ema <- decay * ema + (1 - decay) * net`` for parameters; buffers copied from ``net``."""
    ema_params = [p for p in ema.parameters()]
    net_params = [p.detach() for p in net.parameters()]
    torch._foreach_lerp_(ema_params, net_params, 1.0 - decay)
    for ema_buffer, buffer in zip(ema.buffers(), net.buffers()):
        ema_buffer.copy_(buffer)


class EMAHook(HookBase):
    """Keeps an EMA copy of every exported generator and makes the trainer use it for samples, validation and the
    ``export/`` folders (the raw weights are exported to ``export_raw/`` beside them).

    Args:
        decay: the target decay in (0, 1), e.g. 0.999 (``train.ema``).
    """

    name = "ema"

    def __init__(self, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"train.ema: the decay must be in (0, 1), e.g. 0.999, got {decay}")
        self.decay = decay
        self.nets: dict[str, nn.Module] = {}

    def _ensure_copies(self) -> None:
        if self.nets:
            return
        algorithm = self.trainer.algorithm
        for name in algorithm.generator_specs():
            ema = copy.deepcopy(algorithm.nets[name]).requires_grad_(False).eval()
            self.nets[name] = ema
            self.trainer.ema_generators[name] = ema

    def before_train(self) -> None:
        self._ensure_copies()

    def after_step(self) -> None:
        decay = ema_decay(self.decay, self.trainer.step)
        for name, ema in self.nets.items():
            update_ema(ema, self.trainer.algorithm.nets[name], decay)

    def state_dict(self) -> dict[str, Any]:
        self._ensure_copies()
        return {name: ema.state_dict() for name, ema in self.nets.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._ensure_copies()
        for name, ema in self.nets.items():
            ema.load_state_dict(state[name])
