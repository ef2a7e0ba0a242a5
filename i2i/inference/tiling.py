"""The translation core shared by the library API and the CLI: pad to the generator's size multiple, run, crop back;
and tiled translation with feathered seams for images too large to translate in one pass.

All tensors here are ``(N, C, H, W)`` images in [-1, 1].
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

RunFn = Callable[[torch.Tensor], torch.Tensor]

# The smallest side a generator accepts: a ResNet's reflect padding needs >= 2 px at 1/4 resolution.
MIN_SIDE = 8


def padded_size(height: int, width: int, size_multiple: int) -> tuple[int, int]:
    """The size an image is padded to: the next multiples of ``size_multiple``, and at least ``MIN_SIDE``."""
    smallest = math.ceil(MIN_SIDE / size_multiple) * size_multiple
    return (max(math.ceil(height / size_multiple) * size_multiple, smallest),
            max(math.ceil(width / size_multiple) * size_multiple, smallest))


def pad_to_multiple(images: torch.Tensor, size_multiple: int) -> torch.Tensor:
    """Pad ``(N, C, H, W)`` at the bottom and right to :func:`padded_size`.

    Reflect padding where the image allows it (pad < side), replicate padding otherwise (e.g. a 1x1 px image).
    """
    height, width = images.shape[-2:]
    target_h, target_w = padded_size(height, width, size_multiple)
    pad_h, pad_w = target_h - height, target_w - width
    if pad_h == 0 and pad_w == 0:
        return images
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(images, (0, pad_w, 0, pad_h), mode=mode)


def translate_padded(run: RunFn, images: torch.Tensor, size_multiple: int) -> torch.Tensor:
    """Pad ``images`` to the size multiple, apply ``run`` and crop the result back to the input's H x W."""
    height, width = images.shape[-2:]
    return run(pad_to_multiple(images, size_multiple))[..., :height, :width]


# Tiling.

def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Offsets of tiles of size ``tile`` covering ``length``, ``stride`` apart, the last one flush with the end."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def _ramp(length: int, overlap: int, rise_at_start: bool, rise_at_end: bool) -> torch.Tensor:
    """1-D blending weights: 1 inside, a raised-cosine ramp over ``overlap`` px on sides that meet another tile.

    The outer quarter of each ramp is (almost) zero, so the pixels nearest a tile's border, which see that tile's
    padding rather than the true neighbourhood, hardly contribute where another tile covers them.
    """
    distance = torch.arange(length, dtype=torch.float32)
    weight = torch.ones(length)
    margin = overlap / 4
    width = max(overlap - 2 * margin, 1.0)
    for rises, dist in ((rise_at_start, distance), (rise_at_end, distance.flip(0))):
        if rises:
            phase = ((dist + 0.5 - margin) / width).clamp(0, 1)
            weight = weight * (0.5 - 0.5 * torch.cos(math.pi * phase)).clamp_min(1e-6)
    return weight


def _window(tile: tuple[int, int], corner: tuple[int, int], full: tuple[int, int], overlap: int) -> torch.Tensor:
    """``(h, w)`` blending weights of the tile at ``corner``, ramped on the sides where a neighbouring tile lies."""
    (tile_h, tile_w), (top, left), (full_h, full_w) = tile, corner, full
    return (_ramp(tile_h, overlap, top > 0, top + tile_h < full_h)[:, None]
            * _ramp(tile_w, overlap, left > 0, left + tile_w < full_w)[None, :])


def default_overlap(tile: int) -> int:
    """A quarter of the tile, but at least 64 px (or half the tile): a generator's receptive field does not shrink
    with the tile."""
    return max(tile // 4, min(64, tile // 2))


def translate_tiled(run: RunFn, image: torch.Tensor, *, size_multiple: int, tile: int, overlap: int | None = None,
                    batch_size: int = 1, device: torch.device | str = "cpu") -> torch.Tensor:
    """Translate one image in overlapping tiles and blend them; the result has the input's size.

    Tiles are ``tile`` x ``tile`` px (rounded down to the size multiple), start at multiples of the size multiple so
    that every tile sees the same stride-2 sampling grid as the whole image, and overlap by at least ``overlap``
    px (default: :func:`default_overlap`). Networks whose output depends only on a bounded neighbourhood (batch
    norm in eval mode, no norm) give the untiled result up to tiny seam differences; instance norm normalises each
    tile with its own statistics, so its output differs slightly per tile. The result is accumulated on the CPU.

    Args:
        run: The network call, ``(N, C, h, w) -> (N, C_out, h, w)`` for h, w multiples of ``size_multiple``.
        image: ``(1, C, H, W)`` in [-1, 1], any H, W (kept on its device; tiles are moved to ``device``).
        size_multiple: The generator's size multiple.
        tile: Tile side in px.
        overlap: Minimum overlap between neighbouring tiles in px.
        batch_size: Tiles translated per call of ``run``.
        device: Where ``run`` expects its input.

    Returns:
        ``(1, C_out, H, W)`` float32 on the CPU.
    """
    if image.shape[0] != 1:
        raise ValueError(f"tiled translation takes one image at a time, got a batch of {image.shape[0]}")
    height, width = image.shape[-2:]
    padded = pad_to_multiple(image, size_multiple)
    full_h, full_w = padded.shape[-2:]
    tile = max(tile // size_multiple * size_multiple, padded_size(1, 1, size_multiple)[0])
    overlap = default_overlap(tile) if overlap is None else max(0, min(overlap, tile // 2))
    stride = max((tile - overlap) // size_multiple * size_multiple, size_multiple)
    tile_h, tile_w = min(tile, full_h), min(tile, full_w)
    boxes = [(top, left) for top in tile_starts(full_h, tile_h, stride) for left in tile_starts(full_w, tile_w, stride)]
    output: torch.Tensor | None = None
    weights = torch.zeros(1, 1, full_h, full_w)
    for first in range(0, len(boxes), batch_size):
        chunk = boxes[first:first + batch_size]
        tiles = torch.cat([padded[..., t:t + tile_h, l:l + tile_w] for t, l in chunk]).to(device)
        results = run(tiles).float().cpu()
        if output is None:
            output = torch.zeros(1, results.shape[1], full_h, full_w)
        for (top, left), result in zip(chunk, results):
            window = _window((tile_h, tile_w), (top, left), (full_h, full_w), overlap)
            output[0, :, top:top + tile_h, left:left + tile_w] += result * window
            weights[0, :, top:top + tile_h, left:left + tile_w] += window
    assert output is not None
    return (output / weights)[..., :height, :width]
