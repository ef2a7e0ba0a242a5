"""Generators: ResNet (CycleGAN) and U-Net (pix2pix), registered in GENERATORS."""
from __future__ import annotations

from i2i.models.generators.resnet import ResnetBlock, ResnetGenerator, UpsampleBlock
from i2i.models.generators.unet import UnetGenerator, UnetLevel

__all__ = ["ResnetBlock", "ResnetGenerator", "UnetGenerator", "UnetLevel", "UpsampleBlock"]
