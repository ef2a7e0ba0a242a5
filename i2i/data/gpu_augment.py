"""Random crop and horizontal flip of whole batches on the training device (kornia), for ``data.gpu_augment``.

With ``gpu_augment`` the DataLoader only decodes and resizes (to load_size); this module then crops crop_size and
flips on the GPU, drawing its randomness from torch's RNG on the host.
"""
from __future__ import annotations

import kornia.augmentation as K
import torch
from torch import nn

from i2i.data.config import DataConfig


class PairedGPUAugment(nn.Module):
    """Random crop + horizontal flip with the same parameters for the A and B batches of a pair.

    Args:
        crop_size: Side of the square crop; None skips cropping.
        flip: Flip horizontally with probability 0.5 per sample.
        paired: Give B the same crop and flip as A (pairs); False draws them independently (unaligned data).

    In eval mode the crop is centred and nothing is flipped.
    """

    def __init__(self, *, crop_size: int | None, flip: bool = True, paired: bool = True) -> None:
        super().__init__()
        self.crop_size = crop_size
        self.paired = paired
        steps: list[nn.Module] = []
        if crop_size is not None:
            steps.append(K.RandomCrop((crop_size, crop_size)))
        if flip:
            steps.append(K.RandomHorizontalFlip(p=0.5))
        self.augment = K.AugmentationSequential(*steps) if steps else None

    def forward(self, a: torch.Tensor, b: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Crop and flip a batch.

        Args:
            a: ``(N, C_a, H, W)`` in [-1, 1].
            b: ``(N, C_b, H, W)`` in [-1, 1] (C_b may differ from C_a), or None.

        Returns:
            ``(N, C_a, crop, crop)`` and ``(N, C_b, crop, crop)`` (or None).
        """
        self._check(a, b)
        if not self.training:
            return self._center_crop(a), None if b is None else self._center_crop(b)
        if self.augment is None:
            return a, b
        if b is None:
            return self.augment(a), None
        if self.paired:
            out_a, out_b = self.augment(a, b, data_keys=["input", "input"])
            return out_a, out_b
        return self.augment(a), self.augment(b)

    def _center_crop(self, x: torch.Tensor) -> torch.Tensor:
        if self.crop_size is None:
            return x
        top, left = (x.shape[2] - self.crop_size) // 2, (x.shape[3] - self.crop_size) // 2
        return x[:, :, top : top + self.crop_size, left : left + self.crop_size]

    def _check(self, a: torch.Tensor, b: torch.Tensor | None) -> None:
        if a.ndim != 4:
            raise ValueError(f"PairedGPUAugment: expected (N, C, H, W) batches, got shape {tuple(a.shape)}")
        if b is not None and self.paired and (b.shape[0] != a.shape[0] or b.shape[2:] != a.shape[2:]):
            raise ValueError(f"PairedGPUAugment: A {tuple(a.shape)} and B {tuple(b.shape)} differ in N, H or W")
        for name, x in (("A", a), ("B", b)):
            if x is not None and self.crop_size is not None and min(x.shape[2:]) < self.crop_size:
                raise ValueError(f"PairedGPUAugment: {name} batch is {x.shape[3]}x{x.shape[2]}, smaller than "
                                 f"data.crop_size {self.crop_size}")


def build_gpu_augment(cfg: DataConfig) -> PairedGPUAugment | None:
    """The batch augmentation for ``cfg`` when ``cfg.gpu_augment`` is set, else None."""
    if not cfg.gpu_augment:
        return None
    return PairedGPUAugment(crop_size=cfg.crop_size, flip=cfg.flip, paired=cfg.dataset != "unaligned")
