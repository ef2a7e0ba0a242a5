"""Learning-rate policies, as epoch -> multiplier functions stepped once per epoch (the reference's schedulers)."""
from __future__ import annotations

import math
from typing import Callable

import torch

from i2i.config import OptimConfig


def lr_multiplier(cfg: OptimConfig) -> Callable[[int], float]:
    """Return ``f(epoch)`` giving the factor applied to ``cfg.lr`` during epoch ``epoch`` (0-based).

    - linear: 1 for ``n_epochs`` epochs, then linear decay to 0 over ``n_epochs_decay`` (pix2pix/CycleGAN).
    - step: x0.1 every ``lr_decay_epochs`` epochs.
    - cosine: half a cosine from 1 to 0 over all epochs.
    - constant: 1.
    """
    total = cfg.n_epochs + cfg.n_epochs_decay
    if cfg.lr_policy == "linear":
        return lambda epoch: 1.0 - max(0, epoch + 1 - cfg.n_epochs) / float(cfg.n_epochs_decay + 1)
    if cfg.lr_policy == "step":
        return lambda epoch: 0.1 ** (epoch // cfg.lr_decay_epochs)
    if cfg.lr_policy == "cosine":
        return lambda epoch: 0.5 * (1.0 + math.cos(math.pi * min(epoch, total) / total))
    return lambda epoch: 1.0


def build_schedulers(optimizers: dict[str, torch.optim.Optimizer], cfg: OptimConfig
                     ) -> dict[str, torch.optim.lr_scheduler.LambdaLR]:
    return {name: torch.optim.lr_scheduler.LambdaLR(opt, lr_multiplier(cfg)) for name, opt in optimizers.items()}
