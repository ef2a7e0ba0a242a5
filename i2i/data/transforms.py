"""Pair-consistent resize / crop / flip pipelines (albumentations) and the uint8 -> [-1, 1] tensor conversion.

One random crop and one flip decision are drawn per call and applied to both images of a pair (A is ``image``,
B is the additional target ``image_b``), so A and B stay pixel-aligned.

Resizing filters (``data.resize_filter``): ``pil_bicubic`` resamples with PIL's bicubic filter as the reference does
(torchvision ``Resize`` on PIL images; antialiased when shrinking); ``cv2_area`` is OpenCV bicubic when enlarging
and area averaging when shrinking (albumentations' ``INTER_CUBIC`` with ``area_for_downscale``). Shrinking facades
photos from 256 to 143 px, the two differ by 1.4/255 per pixel on average (0.9 to 2.5 over 40 images).
"""
from __future__ import annotations

import os
from functools import partial

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # Its import otherwise blocks on a PyPI version check.

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from i2i.data.config import DataConfig  # noqa: E402
from i2i.data.io import resize_pil_bicubic  # noqa: E402
from i2i.pixels import from_uint8  # noqa: E402

SIZE_MULTIPLE = 4


def round_to_multiple(image: np.ndarray, base: int = SIZE_MULTIPLE, resize_filter: str = "cv2_area",
                      **_: object) -> np.ndarray:
    """Resize ``(H, W, C)`` so both sides are rounded down to a multiple of ``base`` (at least ``base``)."""
    height, width = image.shape[:2]
    new_height, new_width = max(base, height // base * base), max(base, width // base * base)
    if (new_height, new_width) == (height, width):
        return image
    if resize_filter == "pil_bicubic":
        return resize_pil_bicubic(image, (new_height, new_width))
    resized = cv2.resize(image, (new_width, new_height), interpolation=cv2.INTER_AREA)
    return resized[:, :, None] if resized.ndim == 2 else resized


class PILResize(A.Resize):
    """``A.Resize`` resampling with PIL bicubic (the reference's filter) on images; same sizes, same targets."""

    def apply(self, img: np.ndarray, **params: object) -> np.ndarray:
        return resize_pil_bicubic(img, (self.height, self.width))


class PILSmallestMaxSize(A.SmallestMaxSize):
    """``A.SmallestMaxSize`` resampling with PIL bicubic on images; the output size rule is albumentations'."""

    def apply(self, img: np.ndarray, scale: float, **params: object) -> np.ndarray:
        height, width = img.shape[:2]
        return resize_pil_bicubic(img, (max(1, round(height * scale)), max(1, round(width * scale))))


def _resize_steps(cfg: DataConfig) -> list[A.BasicTransform]:
    """The deterministic resizing of ``cfg.preprocess`` (everything before the crop) with ``cfg.resize_filter``."""
    pil = cfg.resize_filter == "pil_bicubic"
    resize, smallest_max_size = (PILResize, PILSmallestMaxSize) if pil else (A.Resize, A.SmallestMaxSize)
    interpolation = {"interpolation": cv2.INTER_CUBIC, "area_for_downscale": None if pil else "image"}
    multiple = A.Lambda(image=partial(round_to_multiple, base=SIZE_MULTIPLE, resize_filter=cfg.resize_filter),
                        name="round_to_multiple_of_4")
    if cfg.preprocess == "resize_and_crop":
        return [resize(cfg.load_size, cfg.load_size, **interpolation)]
    if cfg.preprocess == "scale_width":
        return [smallest_max_size(max_size_hw=(None, cfg.load_size), **interpolation), multiple]
    if cfg.preprocess == "scale_width_and_crop":
        # Width to load_size; very wide images are scaled further so that the height still fits the crop.
        return [smallest_max_size(max_size_hw=(cfg.crop_size, cfg.load_size), **interpolation)]
    if cfg.preprocess == "none":
        return [multiple]
    return []  # "crop"


def build_compose(cfg: DataConfig, *, train: bool) -> A.Compose:
    """Build the albumentations pipeline for ``cfg.preprocess``.

    Args:
        cfg: Data settings (preprocess, load_size, crop_size, flip, gpu_augment).
        train: Random crop and flip when True; centre crop and no flip when False. With ``cfg.gpu_augment``
            the training pipeline stops after resizing (crop and flip happen on the GPU).

    Returns:
        A Compose taking ``image=`` and optionally ``image_b=`` (``(H, W, C)`` uint8 arrays of equal H, W).
    """
    steps = _resize_steps(cfg)
    on_gpu = train and cfg.gpu_augment
    if cfg.preprocess in ("resize_and_crop", "crop", "scale_width_and_crop") and not on_gpu:
        crop = A.RandomCrop if train else A.CenterCrop
        steps.append(crop(cfg.crop_size, cfg.crop_size))
    if train and cfg.flip and not on_gpu:
        steps.append(A.HorizontalFlip(p=0.5))
    return A.Compose(steps, additional_targets={"image_b": "image"}, seed=0)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H, W, C)`` uint8 -> ``(C, H, W)`` float32 in [-1, 1] (``x / 127.5 - 1``)."""
    return from_uint8(torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))))


class PairTransform:
    """Applies one pipeline to an image or an aligned pair and returns [-1, 1] tensors.

    Example:
        transform = PairTransform(cfg, train=True)
        a, b = transform(image_a, image_b, seed=123, name="x.png")  # (C_a, h, w), (C_b, h, w)
    """

    def __init__(self, cfg: DataConfig, *, train: bool) -> None:
        self.preprocess = cfg.preprocess
        self.crop_size = cfg.crop_size
        self.train = train
        self.compose = build_compose(cfg, train=train)

    def __call__(self, image: np.ndarray, image_b: np.ndarray | None = None, *, seed: int | None = None,
                 name: str = "image") -> tuple[torch.Tensor, torch.Tensor | None]:
        """Transform ``image`` (and ``image_b`` with the same random parameters).

        Args:
            image: ``(H, W, C)`` uint8.
            image_b: ``(H, W, C')`` uint8 of the same H, W, or None.
            seed: Seeds the random crop/flip of this call (same seed -> same output).
            name: File name used in error messages.

        Raises:
            ValueError: ``preprocess`` is ``crop`` and the image is smaller than ``crop_size``.
        """
        self._check_crop_fits(image, name)
        if seed is not None:
            self.compose.set_random_seed(seed)
        if image_b is None:
            return to_tensor(self.compose(image=image)["image"]), None
        if image_b.shape[:2] != image.shape[:2]:
            raise ValueError(f"{name}: A is {_size(image)} but B is {_size(image_b)}; paired images need one size")
        out = self.compose(image=image, image_b=image_b)
        return to_tensor(out["image"]), to_tensor(out["image_b"])

    def _check_crop_fits(self, image: np.ndarray, name: str) -> None:
        height, width = image.shape[:2]
        if self.preprocess == "crop" and (height < self.crop_size or width < self.crop_size):
            raise ValueError(f"{name} is {width}x{height} but data.crop_size is {self.crop_size}; "
                             f"set data.preprocess=resize_and_crop or a smaller data.crop_size")


def _size(image: np.ndarray) -> str:
    return f"{image.shape[1]}x{image.shape[0]}"
