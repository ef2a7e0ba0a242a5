"""Losses: GAN objectives, discriminator feature matching, pixel reconstruction terms and PatchNCE (CUT)."""
from i2i.losses.adversarial import GAN_MODES, GANLoss, gradient_penalty
from i2i.losses.feature_matching import feature_matching_loss
from i2i.losses.patchnce import PatchSampler, patch_nce_loss, sample_patch_ids
from i2i.losses.reconstruction import cycle_loss, identity_loss, l1_loss
from i2i.registry import Registry

# The objectives ``loss.gan_mode`` may name (each implemented by GANLoss for that mode).
GAN_LOSSES: Registry[type[GANLoss]] = Registry("GAN loss")
for _mode in GAN_MODES:
    GAN_LOSSES.register(_mode)(GANLoss)

__all__ = ["GAN_LOSSES", "GAN_MODES", "GANLoss", "PatchSampler", "cycle_loss", "feature_matching_loss",
           "gradient_penalty", "identity_loss", "l1_loss", "patch_nce_loss", "sample_patch_ids"]
