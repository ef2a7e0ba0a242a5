"""Small deterministic synthetic datasets written as PNG files, so that training runs offline.

- ``paired`` (pix2pix, aligned layout ``root/train/*.png``, ``root/test/*.png``): each file is A|B side by side
  (width ``2 * size``). A is an edge map (white outlines on black) of a few shapes; B shows the same shapes filled
  with their kind's colour (circles red, squares blue, triangles yellow) shaded by a diagonal gradient, on a light
  background. The task: edges -> filled, coloured shapes.
- ``unpaired`` (CycleGAN layout ``root/trainA``, ``trainB``, ``testA``, ``testB``): A holds solid-colour circles,
  squares and triangles on a light background; B holds shapes of the same kinds filled with horizontal stripes.
  The task: add / remove stripes.

Every image is drawn from its own ``RandomState([seed, split, domain, index])``, so the bytes depend only on the
seed and the file's index. The dataset is written into a temporary folder that is renamed into place at the end,
so an interrupted run never leaves half a dataset.
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Callable, Literal

import cv2
import numpy as np

from i2i.data.io import save_image

SHAPE_KINDS = ("circle", "square", "triangle")
# Paired data: the fill colour follows from the shape's kind, so an edge map determines its target image.
KIND_COLOURS = {"circle": (225.0, 50.0, 40.0), "square": (40.0, 90.0, 220.0), "triangle": (235.0, 190.0, 30.0)}
STRIPE_PERIOD = 6


def _random_colour(rng: np.random.RandomState) -> np.ndarray:
    """A saturated RGB colour (one channel high, one low) so shapes stand out from the light background."""
    colour = rng.randint(0, 256, size=3)
    high, low = rng.permutation(3)[:2]
    colour[high], colour[low] = rng.randint(180, 256), rng.randint(0, 80)
    return colour.astype(np.float32)


def _draw_shape_mask(size: int, kind: str, rng: np.random.RandomState) -> np.ndarray:
    """``(size, size)`` uint8 mask (1 inside) of one random shape of ``kind``."""
    mask = np.zeros((size, size), np.uint8)
    radius = int(rng.randint(size // 8, size // 4 + 1))
    cx, cy = (int(v) for v in rng.randint(radius, size - radius, size=2))
    if kind == "circle":
        ys, xs = np.ogrid[0:size, 0:size]
        mask[(xs - cx) ** 2 + (ys - cy) ** 2 <= radius * (radius + 1)] = 1  # (r + 0.5)², no one-pixel nubs.
    elif kind == "square":
        cv2.rectangle(mask, (cx - radius, cy - radius), (cx + radius, cy + radius), 1, thickness=-1)
    else:
        angle = rng.uniform(0, 2 * np.pi)
        corners = [(cx + radius * np.cos(angle + k * 2 * np.pi / 3), cy + radius * np.sin(angle + k * 2 * np.pi / 3))
                   for k in range(3)]
        cv2.fillPoly(mask, [np.round(corners).astype(np.int32)], 1)
    return mask


def _background(size: int, rng: np.random.RandomState) -> np.ndarray:
    return np.full((size, size, 3), rng.randint(215, 246, size=3), np.float32)


def _paired_image(size: int, rng: np.random.RandomState) -> np.ndarray:
    """``(size, 2 * size, 3)`` uint8: edge map | shaded filled shapes."""
    filled = _background(size, rng)
    labels = np.zeros((size, size), np.uint8)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    for label in range(1, rng.randint(1, 4) + 1):
        kind = SHAPE_KINDS[rng.randint(len(SHAPE_KINDS))]
        mask = _draw_shape_mask(size, kind, rng).astype(bool)
        ramp = xs + ys  # lit from the bottom right, the same for every shape
        ramp = (ramp - ramp[mask].min()) / max(float(np.ptp(ramp[mask])), 1e-6)
        filled[mask] = np.array(KIND_COLOURS[kind], np.float32) * (0.45 + 0.55 * ramp[mask, None])
        labels[mask] = label
    edges = cv2.morphologyEx(labels, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    edge_image = np.repeat(np.where(edges, 255, 0).astype(np.uint8)[:, :, None], 3, axis=2)
    return np.concatenate([edge_image, np.rint(filled).astype(np.uint8)], axis=1)


def _unpaired_image(size: int, striped: bool, rng: np.random.RandomState) -> np.ndarray:
    """``(size, size, 3)`` uint8: solid (A) or striped (B) shapes."""
    image = _background(size, rng)
    stripes = ((np.arange(size) // (STRIPE_PERIOD // 2)) % 2 == 0)[:, None].repeat(size, axis=1)
    for _ in range(rng.randint(1, 3) + 1):
        mask = _draw_shape_mask(size, SHAPE_KINDS[rng.randint(len(SHAPE_KINDS))], rng).astype(bool)
        colour = _random_colour(rng)
        image[mask] = colour
        if striped:
            image[mask & ~stripes] = colour * 0.2
    return np.rint(image).astype(np.uint8)


def _write_split(folder: Path, count: int, draw: Callable[[int], np.ndarray]) -> None:
    folder.mkdir(parents=True)
    for index in range(count):
        save_image(folder / f"{index:04d}.png", draw(index))


def make_synthetic_dataset(root: str | Path, kind: Literal["paired", "unpaired"], *, n_train: int = 200,
                           n_test: int = 20, size: int = 64, seed: int = 0) -> Path:
    """Write a synthetic dataset to ``root`` (which must be missing or empty).

    Args:
        root: Destination folder.
        kind: ``paired`` (aligned A|B files in ``train/``, ``test/``) or ``unpaired`` (``trainA/``, ``trainB/``,
            ``testA/``, ``testB/``).
        n_train: Training images (per domain for ``unpaired``).
        n_test: Test images (per domain for ``unpaired``).
        size: Side of each (square) image; paired files are ``2 * size`` wide.
        seed: Same seed -> byte-identical files.

    Returns:
        ``root``.

    Raises:
        FileExistsError: ``root`` exists and is not empty.
    """
    if kind not in ("paired", "unpaired"):
        raise ValueError(f"synthetic dataset kind must be 'paired' or 'unpaired', got {kind!r}")
    if size < 16:
        raise ValueError(f"synthetic dataset size must be >= 16, got {size}")
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"'{root}' already exists and is not empty")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        for split_id, (split, count) in enumerate((("train", n_train), ("test", n_test))):
            if kind == "paired":
                _write_split(tmp / split, count,
                             lambda i: _paired_image(size, np.random.RandomState([seed, split_id, 0, i])))
                continue
            for domain_id, domain in enumerate("AB"):
                _write_split(tmp / f"{split}{domain}", count, lambda i: _unpaired_image(
                    size, domain == "B", np.random.RandomState([seed, split_id, domain_id + 1, i])))
        _move_into_place(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _move_into_place(tmp: Path, root: Path) -> None:
    """Rename ``tmp`` to ``root``; if another process got there first with a full dataset, keep theirs."""
    try:
        if root.is_dir() and not any(root.iterdir()):
            root.rmdir()
        os.rename(tmp, root)
    except OSError:
        if not (root.is_dir() and any(root.iterdir())):
            raise


def ensure_synthetic_dataset(root: str | Path, kind: Literal["paired", "unpaired"], **kwargs: int) -> Path:
    """Write the synthetic dataset unless ``root`` already holds files; returns ``root``."""
    root = Path(root)
    if root.is_dir() and any(root.iterdir()):
        return root
    return make_synthetic_dataset(root, kind, **kwargs)
