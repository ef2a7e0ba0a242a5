"""Inference: translate images, arrays, tensors and folders with a trained or pretrained generator; export it."""
from __future__ import annotations

from i2i.inference.folder import FolderSummary, translate_folder
from i2i.inference.translator import Translator
from i2i.inference.zoo import ZooError, cache_dir, fetch, zoo_names, zoo_url

__all__ = ["FolderSummary", "Translator", "ZooError", "cache_dir", "fetch", "translate_folder", "zoo_names", "zoo_url"]
