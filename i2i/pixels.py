"""Conversions between the networks' pixel range and 8-bit pixels, in one place.

Networks work on float images in [-1, 1] (``pixels / 127.5 - 1``); files and displays hold uint8 in [0, 255].
Every function keeps the tensor's layout (``(C, H, W)``, ``(N, C, H, W)`` or channels-last) and device.
"""
from __future__ import annotations

import torch
from torch import Tensor


def from_uint8(pixels: Tensor) -> Tensor:
    """uint8 (or float) in [0, 255] -> float32 in [-1, 1]."""
    return pixels.float().div(127.5).sub_(1.0)


def to_uint8(images: Tensor) -> Tensor:
    """Float in [-1, 1] (clamped) -> uint8 in [0, 255], rounded to nearest."""
    return to_unit(images).mul_(255.0).round_().to(torch.uint8)


def to_unit(images: Tensor) -> Tensor:
    """Float in [-1, 1] (clamped) -> float32 in [0, 1], for display (``make_grid``) and metrics."""
    return (images.float().clamp(-1, 1) + 1.0) / 2.0
