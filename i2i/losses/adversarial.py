"""GAN objectives on discriminator logits: vanilla (BCE), LSGAN, hinge and WGAN-GP.

A discriminator returns raw scores (logits) of any shape, e.g. a PatchGAN map (N, 1, h, w). Each objective gives
``d_loss(real_scores, fake_scores)`` for the discriminator and ``g_loss(fake_scores)`` for the generator, averaged
over every element.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

GAN_MODES = ("vanilla", "lsgan", "hinge", "wgangp")


def _bce(scores: Tensor, target: float) -> Tensor:
    return F.binary_cross_entropy_with_logits(scores, torch.full_like(scores, target))


def _mse(scores: Tensor, target: float) -> Tensor:
    return F.mse_loss(scores, torch.full_like(scores, target))


class GANLoss:
    """Adversarial loss for one of :data:`GAN_MODES`.

    Args:
        mode: "vanilla" (BCE on logits, pix2pix), "lsgan" (least squares, CycleGAN), "hinge" or "wgangp"
            (Wasserstein; add :func:`gradient_penalty` to the discriminator loss).
    """

    def __init__(self, mode: str) -> None:
        if mode not in GAN_MODES:
            raise ValueError(f"unknown GAN loss '{mode}'; valid: {', '.join(GAN_MODES)}")
        self.mode = mode

    def real_fake(self, scores: Tensor, is_real: bool) -> Tensor:
        """Discriminator-side loss of one set of scores labelled real or fake (reference ``GANLoss.__call__``)."""
        scores = scores.float()
        if self.mode == "vanilla":
            return _bce(scores, 1.0 if is_real else 0.0)
        if self.mode == "lsgan":
            return _mse(scores, 1.0 if is_real else 0.0)
        if self.mode == "hinge":
            return F.relu(1.0 - scores).mean() if is_real else F.relu(1.0 + scores).mean()
        return -scores.mean() if is_real else scores.mean()

    def d_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """Discriminator loss, halved as in the reference so D learns at half G's rate."""
        return 0.5 * (self.real_fake(real_scores, True) + self.real_fake(fake_scores, False))

    def g_loss(self, fake_scores: Tensor) -> Tensor:
        """Generator loss: make D call the fakes real (hinge and WGAN: maximise the fake score)."""
        if self.mode in ("hinge", "wgangp"):
            return -fake_scores.float().mean()
        return self.real_fake(fake_scores, True)


def gradient_penalty(discriminator: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     weight: float = 10.0) -> Tensor:
    """WGAN-GP penalty ``weight * E[(||grad D(x_hat)||_2 - 1)^2]`` on random interpolates of real and fake.

    Args:
        discriminator: maps (N, C, H, W) images to scores.
        real, fake: (N, C, H, W) batches; ``fake`` should be detached.
    """
    alpha = torch.rand(real.size(0), 1, 1, 1, device=real.device, dtype=real.dtype)
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = discriminator(interpolates)
    (grads,) = torch.autograd.grad(scores.float().sum(), interpolates, create_graph=True)
    norms = grads.float().flatten(1).norm(2, dim=1)
    return weight * ((norms - 1.0) ** 2).mean()
