"""GAN objectives on discriminator logits: vanilla (BCE), LSGAN, hinge and WGAN-GP.

A discriminator returns raw scores (logits) of any shape, e.g. a PatchGAN map (N, 1, h, w), or a list of such maps
(a multi-scale discriminator, one per scale). Each objective gives ``d_loss(real_scores, fake_scores)`` for the
discriminator and ``g_loss(fake_scores)`` for the generator, averaged over every element of a map and, for lists,
over the scales (pix2pixHD sums them; the mean keeps one loss scale whatever num_D is).
"""
from __future__ import annotations

from typing import Callable, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

GAN_MODES = ("vanilla", "lsgan", "hinge", "wgangp")

Scores = Union[Tensor, Sequence[Tensor]]


def _bce(scores: Tensor, target: float) -> Tensor:
    return F.binary_cross_entropy_with_logits(scores, torch.full_like(scores, target))


def _mse(scores: Tensor, target: float) -> Tensor:
    return F.mse_loss(scores, torch.full_like(scores, target))


def _scales(scores: Scores) -> list[Tensor]:
    return [scores] if isinstance(scores, Tensor) else list(scores)


def mean_over_scales(loss: Callable[[Tensor], Tensor], scores: Scores) -> Tensor:
    """``loss`` of a score map, or the mean of ``loss`` over a list of maps (one per discriminator scale)."""
    losses = [loss(s) for s in _scales(scores)]
    return losses[0] if len(losses) == 1 else torch.stack(losses).mean()


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

    def real_fake(self, scores: Scores, is_real: bool) -> Tensor:
        """Discriminator-side loss of one set of scores labelled real or fake (reference ``GANLoss.__call__``)."""
        return mean_over_scales(lambda s: self._real_fake(s.float(), is_real), scores)

    def _real_fake(self, scores: Tensor, is_real: bool) -> Tensor:
        if self.mode == "vanilla":
            return _bce(scores, 1.0 if is_real else 0.0)
        if self.mode == "lsgan":
            return _mse(scores, 1.0 if is_real else 0.0)
        if self.mode == "hinge":
            return F.relu(1.0 - scores).mean() if is_real else F.relu(1.0 + scores).mean()
        return -scores.mean() if is_real else scores.mean()

    def d_loss(self, real_scores: Scores, fake_scores: Scores) -> Tensor:
        """Discriminator loss, halved as in the reference so D learns at half G's rate."""
        return 0.5 * (self.real_fake(real_scores, True) + self.real_fake(fake_scores, False))

    def g_loss(self, fake_scores: Scores) -> Tensor:
        """Generator loss: make D call the fakes real (hinge and WGAN: maximise the fake score)."""
        if self.mode in ("hinge", "wgangp"):
            return mean_over_scales(lambda s: -s.float().mean(), fake_scores)
        return self.real_fake(fake_scores, True)


def gradient_penalty(discriminator: Callable[[Tensor], Scores], real: Tensor, fake: Tensor,
                     weight: float = 10.0) -> Tensor:
    """WGAN-GP penalty ``weight * E[(||grad D(x_hat)||_2 - 1)^2]`` on random interpolates of real and fake.

    A multi-scale discriminator is a critic per scale: each scale's penalty is taken on the same interpolates and
    the penalties are averaged.

    Args:
        discriminator: maps (N, C, H, W) images to scores, or to a list of score maps (one per scale).
        real, fake: (N, C, H, W) batches; ``fake`` should be detached.
    """
    alpha = torch.rand(real.size(0), 1, 1, 1, device=real.device, dtype=real.dtype)
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)

    def penalty(scores: Tensor) -> Tensor:
        # create_graph keeps the graph, so the next scale can differentiate through the shared trunk again.
        (grads,) = torch.autograd.grad(scores.float().sum(), interpolates, create_graph=True)
        norms = grads.float().flatten(1).norm(2, dim=1)
        return ((norms - 1.0) ** 2).mean()

    return weight * mean_over_scales(penalty, discriminator(interpolates))
