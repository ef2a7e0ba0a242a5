"""i2i: image-to-image translation (pix2pix, CycleGAN) in PyTorch.

Public API:
    build_generator, build_discriminator   networks by registry name
    load_generator                         an exported / reference / Hugging Face Hub generator as an nn.Module
    Translator                             translate PIL images, numpy arrays, tensors and folders
    load_config, Trainer                   train from a YAML config
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "build_generator": "i2i.models",
    "build_discriminator": "i2i.models",
    "load_generator": "i2i.export",
    "load_generator_with_config": "i2i.export",
    "export_generator": "i2i.export",
    "Translator": "i2i.inference",
    "load_config": "i2i.config",
    "Trainer": "i2i.engine.trainer",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """Import the public API lazily so that ``import i2i`` stays cheap."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'i2i' has no attribute '{name}'")
