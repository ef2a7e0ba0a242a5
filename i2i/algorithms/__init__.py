"""Training algorithms: each owns its networks, losses and optimisers and exposes ``train_step(batch) -> dict``."""
from __future__ import annotations

import torch

from i2i.algorithms.base import Algorithm, GeneratorSpec
from i2i.algorithms.cyclegan import CycleGAN
from i2i.algorithms.image_pool import ImagePool
from i2i.algorithms.pix2pix import Pix2Pix
from i2i.registry import Registry

ALGORITHMS: Registry[type[Algorithm]] = Registry("algorithm")
ALGORITHMS.register("pix2pix")(Pix2Pix)
ALGORITHMS.register("cyclegan")(CycleGAN)


def build_algorithm(cfg, device: torch.device, precision) -> Algorithm:
    """Build the algorithm named by ``cfg.model.algorithm`` on ``device``."""
    return ALGORITHMS.get(cfg.model.algorithm)(cfg, device, precision)


__all__ = ["ALGORITHMS", "Algorithm", "CycleGAN", "GeneratorSpec", "ImagePool", "Pix2Pix", "build_algorithm"]
