"""i2i: image-to-image translation (pix2pix, CycleGAN) in PyTorch."""
from __future__ import annotations

__version__ = "0.1.0"
