"""Resizing as the reference does: PIL bicubic (torchvision Resize on PIL images), checked against torchvision."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image

from i2i.data import DataConfig, PairTransform, load_image, to_tensor

FACADES = Path(__file__).resolve().parents[2] / "shared" / "data" / "facades" / "train"


def reference_resize(pixels: np.ndarray, height: int, width: int) -> torch.Tensor:
    """The reference's resize: torchvision ``Resize`` (bicubic) on a PIL image, then [-1, 1]."""
    resized = T.Resize([height, width], T.InterpolationMode.BICUBIC)(Image.fromarray(pixels))
    return to_tensor(np.asarray(resized))


def smooth_image(height: int, width: int) -> np.ndarray:
    """Gradients with a sharp-edged square and fine stripes: shrinking them shows the filter."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // width, y * 255 // height, ((x // 2) % 2) * 255], axis=2).astype(np.uint8)
    image[height // 4: height // 2, width // 4: width // 2] = (250, 20, 120)
    return image


@pytest.mark.parametrize("preprocess, size", [
    ("resize_and_crop", (40, 40)),   # shrink both sides
    ("scale_width", (96, 72)),       # enlarge: width 50 -> 72, height 67 -> 96 (a multiple of 4 already)
    ("scale_width_and_crop", (48, 36)),  # shrink the width to 36, then centre-crop 36 x 36
])
def test_pil_bicubic_equals_the_reference_resize(preprocess: str, size: tuple[int, int]) -> None:
    image = smooth_image(67, 50)
    crop = 36 if preprocess == "scale_width_and_crop" else size[0]
    cfg = DataConfig(preprocess=preprocess, load_size=size[1], crop_size=crop, flip=False)
    out = PairTransform(cfg, train=False)(image)[0]
    if preprocess == "scale_width_and_crop":
        expected = reference_resize(image, *size)[:, 6:42, :]  # centre crop 36 of 48
    else:
        expected = reference_resize(image, *size)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


def test_the_filters_differ_when_shrinking_and_cv2_area_is_kept() -> None:
    image = smooth_image(64, 64)
    outputs = {f: PairTransform(DataConfig(load_size=40, crop_size=40, resize_filter=f), train=False)(image)[0]
               for f in ("pil_bicubic", "cv2_area")}
    assert DataConfig().resize_filter == "pil_bicubic"
    assert (outputs["pil_bicubic"] - outputs["cv2_area"]).abs().mean() * 127.5 > 1.0
    torch.testing.assert_close(outputs["pil_bicubic"], reference_resize(image, 40, 40), rtol=0, atol=1e-6)


def test_grayscale_and_pairs_resize_channel_by_channel() -> None:
    image = smooth_image(50, 60)
    cfg = DataConfig(load_size=40, crop_size=32)
    a, b = PairTransform(cfg, train=True)(image, image[:, :, 1:2].copy(), seed=3)
    assert a.shape == (3, 32, 32) and b.shape == (1, 32, 32)
    assert torch.equal(a[1:2], b)


@pytest.mark.skipif(not FACADES.is_dir(), reason="../shared/data/facades is not here")
def test_real_facades_photo_matches_the_reference_at_143_px() -> None:
    pair = load_image(FACADES / "1.jpg")
    half = pair.shape[1] // 2
    photo, labels = pair[:, :half], pair[:, half:]
    cfg = DataConfig(load_size=143, crop_size=143)
    out_photo, out_labels = PairTransform(cfg, train=False)(photo, labels)
    torch.testing.assert_close(out_photo, reference_resize(photo, 143, 143), rtol=0, atol=1e-6)
    torch.testing.assert_close(out_labels, reference_resize(labels, 143, 143), rtol=0, atol=1e-6)
    area = PairTransform(DataConfig(load_size=143, crop_size=143, resize_filter="cv2_area"), train=False)(photo)[0]
    assert 0.5 < (area - out_photo).abs().mean().item() * 127.5 < 5.0
