"""Listing, decoding and writing image files.

Decoding uses OpenCV (faster than PIL for JPEG) and falls back to PIL for anything OpenCV cannot read.
Conventions of :func:`load_image`:

- Output is ``uint8`` RGB ``(H, W, 3)`` or grayscale ``(H, W, 1)``.
- Transparent images (RGBA, LA, palette with transparency) are composited on a white background, so transparent
  regions look like paper rather than black.
- 16-bit images are scaled by 255/65535 and rounded (65535 -> 255, 32768 -> 128), never clipped.
- JPEG EXIF orientation is applied; CMYK JPEGs are converted to RGB.
- Grayscale output uses ITU-R 601 luma (the same as PIL ``convert("L")``).
"""
from __future__ import annotations

import io
import logging
import os
import re
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from i2i.fileio import write_bytes_atomic
from i2i.pixels import to_uint8

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_JPEG_EXTENSIONS = (".jpg", ".jpeg")


class ImageReadError(ValueError):
    """An image file could not be decoded (corrupt, truncated, empty or not an image); the message names it."""


class ImageFiles(NamedTuple):
    """Result of :func:`list_images`: the image paths and how many other files were skipped."""

    paths: list[Path]
    skipped: int


def is_image_file(path: str | Path) -> bool:
    """True when the file name has an image extension (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def list_images(folder: str | Path, *, recursive: bool = False) -> ImageFiles:
    """List the image files of a folder, sorted by path.

    Args:
        folder: Folder to scan.
        recursive: Also scan sub-folders (hidden ones, such as ``.ipynb_checkpoints``, are ignored).

    Returns:
        The sorted image paths and the number of non-image files skipped (also logged).

    Raises:
        FileNotFoundError: The folder does not exist.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder '{folder}' does not exist")
    files: list[Path] = []
    for parent, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")] if recursive else []
        files.extend(Path(parent) / name for name in names)
    paths = sorted((p for p in files if is_image_file(p)), key=str)
    skipped = len(files) - len(paths)
    if skipped:
        logger.info("%s: skipped %d non-image file(s)", folder, skipped)
    return ImageFiles(paths, skipped)


# Decoding.

def load_image(path: str | Path, channels: int = 3) -> np.ndarray:
    """Read an image file as ``uint8`` pixels.

    Args:
        path: Image file (any extension in :data:`IMAGE_EXTENSIONS`, or anything PIL reads).
        channels: 3 for RGB or 1 for grayscale.

    Returns:
        ``(H, W, channels)`` uint8 array, RGB order.

    Raises:
        FileNotFoundError: The file does not exist.
        ImageReadError: The file is empty, corrupt, truncated or not an image.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image '{path}' does not exist")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ImageReadError(f"image '{path}' is empty (0 bytes)")
    pixels = _decode_cv2(data, path.suffix.lower())
    if pixels is None:
        pixels = _decode_pil(data.tobytes(), path)
    return convert_channels(_to_uint8(pixels), channels)


def _decode_cv2(data: np.ndarray, suffix: str) -> np.ndarray | None:
    """Decode with OpenCV into RGB(A) or gray; None when OpenCV cannot (PIL then decides)."""
    if suffix in _JPEG_EXTENSIONS:
        return cv2.imdecode(data, cv2.IMREAD_COLOR_RGB)  # Applies EXIF orientation, handles CMYK.
    pixels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)  # Keeps 16 bits and alpha.
    if pixels is None or pixels.ndim == 2:
        return pixels
    if pixels.shape[2] == 1:
        return pixels[:, :, 0]
    code = cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(pixels, code)


def _decode_pil(data: bytes, path: Path) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            return _pil_to_array(image)
    except Exception as err:  # PIL raises many kinds (OSError, SyntaxError, ValueError...) for bad files.
        raise ImageReadError(f"image '{path}' could not be read: {decode_reason(err)}") from None


def decode_reason(err: Exception) -> str:
    """Why Pillow could not decode an image, without the in-memory buffer's repr that its messages carry."""
    if isinstance(err, UnidentifiedImageError):
        return "not an image, or a format that Pillow cannot read"
    reason = re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-fA-F]+>", "", str(err)).strip(" :")
    return reason or type(err).__name__


def _pil_to_array(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(image).astype(np.uint16 if image.mode != "I" else np.int32)
    if image.mode == "F":
        return np.asarray(image)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode in ("LA", "PA", "RGBa", "La"):
        image = image.convert("RGBA")
    elif image.mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, 1.
    return np.asarray(image)


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Bring any bit depth to uint8: 16-bit scaled by 255/65535, floats taken as [0, 1]."""
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype.kind == "f":
        return np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
    scaled = np.rint(pixels.astype(np.float32) * (255.0 / 65535.0))
    return np.clip(scaled, 0, 255).astype(np.uint8)  # Clip only guards int32 values beyond 16 bits.


def convert_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """(H, W), (H, W, 3) RGB or (H, W, 4) RGBA -> (H, W, channels); alpha is composited on white."""
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        alpha = pixels[:, :, 3:4].astype(np.float32) / 255.0
        blended = pixels[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        pixels = np.rint(blended).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if channels == 1 and pixels.shape[2] == 3:
        return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)[:, :, None]
    if channels == 3 and pixels.shape[2] == 1:
        return np.repeat(pixels, 3, axis=2)
    return pixels


def resize_pil_bicubic(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(H, W, C)`` uint8 (C 1 or 3) -> ``(size[0], size[1], C)`` with PIL's bicubic filter, as the reference
    resizes (torchvision's ``Resize`` on PIL images): antialiased when shrinking (the kernel widens with the scale).
    """
    if pixels.shape[:2] == tuple(size):
        return pixels
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    resized = np.asarray(image.resize((size[1], size[0]), Image.Resampling.BICUBIC))
    return resized[:, :, None] if resized.ndim == 2 else resized


# Writing.

def tensor_to_image(image: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` or ``(1, C, H, W)`` tensor in [-1, 1] (or uint8) -> ``(H, W, C)`` uint8 array."""
    image = image.detach().cpu()
    if image.ndim == 4:
        if image.shape[0] != 1:
            raise ValueError(f"expected a single image, got a batch of shape {tuple(image.shape)}")
        image = image[0]
    if image.ndim != 3:
        raise ValueError(f"expected a (C, H, W) tensor, got shape {tuple(image.shape)}")
    if image.dtype != torch.uint8:
        image = to_uint8(image)
    return image.permute(1, 2, 0).numpy()


def save_image(path: str | Path, image: np.ndarray | torch.Tensor) -> Path:
    """Write an image atomically (temporary file + rename), creating parent folders.

    Args:
        path: Destination; the extension picks the format (``.png`` recommended).
        image: ``(H, W)``/``(H, W, C)`` uint8 (or uint16, for PNG/TIFF) RGB(A) array, or a ``(C, H, W)`` /
            ``(1, C, H, W)`` tensor in [-1, 1].

    Returns:
        The written path.
    """
    path = Path(path)
    pixels = tensor_to_image(image) if isinstance(image, torch.Tensor) else np.asarray(image)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"save_image '{path}': arrays must be uint8 or uint16, got {pixels.dtype}")
    if pixels.ndim == 3 and pixels.shape[2] in (3, 4):
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    ok, encoded = cv2.imencode(path.suffix.lower() or ".png", pixels)
    if not ok:
        raise ValueError(f"save_image '{path}': cannot encode an array of shape {pixels.shape} as {path.suffix}")
    write_bytes_atomic(path, encoded.tobytes())
    return path
