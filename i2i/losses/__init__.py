"""Losses: GAN objectives and pixel reconstruction terms."""
from i2i.losses.adversarial import GAN_MODES, GANLoss, gradient_penalty
from i2i.losses.reconstruction import cycle_loss, identity_loss, l1_loss

__all__ = ["GAN_MODES", "GANLoss", "gradient_penalty", "cycle_loss", "identity_loss", "l1_loss"]
