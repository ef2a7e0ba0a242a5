"""Pixel losses: pix2pix's L1 to the target, CycleGAN's cycle-consistency and identity terms (images in [-1, 1])."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def l1_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error, computed in float32."""
    return F.l1_loss(prediction.float(), target.float())


def cycle_loss(reconstruction: Tensor, original: Tensor, weight: float) -> Tensor:
    """``weight * |G_B(G_A(x)) - x|_1`` (weight = lambda_A or lambda_B, 10 in the paper)."""
    return weight * l1_loss(reconstruction, original)


def identity_loss(same: Tensor, original: Tensor, cycle_weight: float, identity_weight: float) -> Tensor:
    """``cycle_weight * identity_weight * |G_A(y) - y|_1``: identity weight is relative to the cycle weight."""
    return cycle_weight * identity_weight * l1_loss(same, original)
