"""Image sets for the metrics: folders of image files or in-memory tensors, read lazily as uint8 RGB.

A folder means its top-level image files (sub-folders are ignored), in sorted name order. A tensor set is
``(N, 3, H, W)`` uint8 in [0, 255] or float in [0, 1]; float images are quantised to 8 bits (round(x * 255)) so a
tensor and the same images saved as PNG give the same scores.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from i2i.data.io import list_images as list_image_files
from i2i.data.io import load_image

ImageSetLike = str | Path | Tensor


def list_images(folder: str | Path, *, what: str = "images") -> list[Path]:
    """Sorted image files directly inside ``folder``; ``what`` names the folder's role in error messages."""
    try:
        return list_image_files(folder).paths
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{what}: {err}") from None


def read_image(path: str | Path) -> Tensor:
    """Read an image file as ``(3, H, W)`` uint8 RGB.

    Decoding follows ``i2i.data.io.load_image``: gray is repeated to RGB, alpha composited on white, 16-bit scaled
    by 255/65535, EXIF orientation applied.

    Raises:
        FileNotFoundError, ValueError: naming the file when it is missing or cannot be decoded.
    """
    return torch.from_numpy(np.ascontiguousarray(load_image(path, channels=3))).permute(2, 0, 1)


class ImageSet(Sequence[Tensor]):
    """A sequence of ``(3, H, W)`` uint8 images with a name per image (file stem, or index for tensors)."""

    def __init__(self, names: list[str], loaders: Sequence[Path] | Tensor) -> None:
        self.names = names
        self._items = loaders

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> Tensor:  # type: ignore[override]
        item = self._items[index]
        return read_image(item) if isinstance(item, Path) else item

    @classmethod
    def from_folder(cls, folder: str | Path, *, what: str = "images") -> "ImageSet":
        paths = list_images(folder, what=what)
        return cls([path.stem for path in paths], paths)

    @classmethod
    def from_tensor(cls, images: Tensor, *, what: str = "images") -> "ImageSet":
        images = to_uint8(images, what=what)
        return cls([str(index) for index in range(len(images))], images)


def as_image_set(images: ImageSetLike, *, what: str) -> ImageSet:
    """Folder path or tensor -> ImageSet; ``what`` ("real", "fake", ...) names the argument in error messages."""
    if isinstance(images, Tensor):
        return ImageSet.from_tensor(images, what=what)
    if isinstance(images, (str, Path)):
        return ImageSet.from_folder(images, what=what)
    raise TypeError(f"{what}: expected a folder path or a (N, 3, H, W) tensor, got {type(images).__name__}")


def to_uint8(images: Tensor, *, what: str = "images") -> Tensor:
    """``(N, 3, H, W)`` uint8 [0, 255] or float [0, 1] -> uint8 on the same device (float rounded to 8 bits)."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{what}: expected images of shape (N, 3, H, W), got {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        return images
    if not images.is_floating_point():
        raise ValueError(f"{what}: expected uint8 or float images, got {images.dtype}")
    low, high = images.min().item(), images.max().item()
    if low < -1e-6 or high > 1 + 1e-6:
        raise ValueError(f"{what}: float images must lie in [0, 1], got values in [{low:.3g}, {high:.3g}]")
    return images.float().mul(255).round().clamp(0, 255).to(torch.uint8)


def match_by_stem(target: ImageSet, pred: ImageSet, *, allow_missing: bool = False) -> tuple[list[tuple[int, int]],
                                                                                         int]:
    """Pair images with the same name (file stem; extensions may differ).

    Returns:
        ``(pairs, n_skipped)``: index pairs ``(target_index, pred_index)`` in target order, and the number of names
        present on one side only (0 unless ``allow_missing``).

    Raises:
        ValueError: a name occurs twice in one set, or (without ``allow_missing``) some names have no partner.
    """
    target_index = _index_by_name(target, "target")
    pred_index = _index_by_name(pred, "pred")
    only_target = sorted(set(target_index) - set(pred_index))
    only_pred = sorted(set(pred_index) - set(target_index))
    if (only_target or only_pred) and not allow_missing:
        raise ValueError(f"unmatched names: missing in pred: {_short_list(only_target)}; missing in target: "
                         f"{_short_list(only_pred)} (use --allow-missing / allow_missing=True to skip them)")
    pairs = [(index, pred_index[name]) for name, index in target_index.items() if name in pred_index]
    return pairs, len(only_target) + len(only_pred)


def _index_by_name(images: ImageSet, what: str) -> dict[str, int]:
    index: dict[str, int] = {}
    for position, name in enumerate(images.names):
        if name in index:
            raise ValueError(f"{what}: two images are named '{name}' (file names must differ in more than extension)")
        index[name] = position
    return index


def _short_list(names: list[str], limit: int = 10) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")
