"""Data pipeline: image I/O, pair-consistent transforms, datasets, loaders, synthetic data, GPU augmentation."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.data import (
    DATASETS,
    DataConfig,
    ImageReadError,
    PairedGPUAugment,
    PairTransform,
    build_dataloader,
    build_dataset,
    list_images,
    load_image,
    make_synthetic_dataset,
    save_image,
    to_tensor,
)


def random_image(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, (height, width, channels), dtype=np.uint8)


def write_aligned(folder: Path, count: int, height: int = 32, width: int = 32) -> list[Path]:
    """count A|B images whose A half is black and B half white."""
    pair = np.concatenate([np.zeros((height, width, 3), np.uint8), np.full((height, width, 3), 255, np.uint8)], 1)
    return [save_image(folder / f"{i:03d}.png", pair) for i in range(count)]


def tiny_cfg(root: Path, **kwargs) -> DataConfig:
    values = dict(root=str(root), load_size=40, crop_size=32, num_workers=0, batch_size=2)
    values.update(kwargs)
    return DataConfig(**values)


# Transforms.

@pytest.mark.parametrize("resize_filter", ["pil_bicubic", "cv2_area"])
@pytest.mark.parametrize("preprocess", ["resize_and_crop", "crop", "scale_width_and_crop"])
def test_paired_transform_keeps_a_and_b_aligned(preprocess, resize_filter):
    image = random_image(50, 60)
    cfg = DataConfig(preprocess=preprocess, load_size=40, crop_size=32, resize_filter=resize_filter)
    transform = PairTransform(cfg, train=True)
    for seed in range(12):
        out_a, out_b = transform(image, image[:, :, :1].copy(), seed=seed)
        assert out_a.shape == (3, 32, 32) and out_b.shape == (1, 32, 32)
        assert torch.equal(out_a[:1], out_b)


def test_random_crop_and_flip_vary_and_seed_reproduces():
    image = random_image(32, 32)
    transform = PairTransform(DataConfig(preprocess="crop", crop_size=32), train=True)
    plain, mirrored = to_tensor(image), to_tensor(image[:, ::-1])
    outputs = [transform(image, image, seed=seed)[0] for seed in range(20)]
    flips = sum(torch.equal(out, mirrored) for out in outputs)
    assert all(torch.equal(out, plain) or torch.equal(out, mirrored) for out in outputs)
    assert 0 < flips < 20
    assert torch.equal(transform(image, seed=5)[0], transform(image, seed=5)[0])
    crop = PairTransform(DataConfig(preprocess="crop", crop_size=16, flip=False), train=True)
    assert len({crop(image, seed=seed)[0].sum().item() for seed in range(10)}) > 1


@pytest.mark.parametrize("preprocess, train_shape, eval_shape", [
    ("resize_and_crop", (32, 32), (32, 32)),
    ("crop", (32, 32), (32, 32)),
    ("scale_width", (28, 40), (28, 40)),
    ("scale_width_and_crop", (32, 32), (32, 32)),
    ("none", (48, 68), (48, 68)),
])
def test_preprocess_output_shapes(preprocess, train_shape, eval_shape):
    cfg = DataConfig(preprocess=preprocess, load_size=40, crop_size=32)
    image = random_image(50, 70)
    assert PairTransform(cfg, train=True)(image, seed=0)[0].shape == (3, *train_shape)
    assert PairTransform(cfg, train=False)(image)[0].shape == (3, *eval_shape)


def test_value_range_and_eval_is_a_deterministic_centre_crop():
    image = random_image(40, 40)
    image[0, 0], image[-1, -1] = 0, 255
    tensor = to_tensor(image)
    assert tensor.dtype == torch.float32 and tensor.min() == -1.0 and tensor.max() == 1.0
    out = PairTransform(DataConfig(preprocess="crop", crop_size=32), train=False)(image)[0]
    assert torch.equal(out, to_tensor(image[4:36, 4:36]))
    assert out.min() >= -1.0 and out.max() <= 1.0


def test_crop_larger_than_image_names_file_and_sizes():
    transform = PairTransform(DataConfig(preprocess="crop", crop_size=64), train=True)
    with pytest.raises(ValueError, match=r"small\.png is 40x32 but data\.crop_size is 64; set data\.preprocess"):
        transform(random_image(32, 40), seed=0, name="small.png")


def test_config_validate_cross_field_errors():
    with pytest.raises(ValueError, match="data.crop_size"):
        DataConfig(load_size=64, crop_size=128).validate()
    with pytest.raises(ValueError, match="data.synthetic"):
        DataConfig(dataset="unaligned", synthetic="paired").validate()
    with pytest.raises(ValueError, match="data.gpu_augment"):
        DataConfig(gpu_augment=True, preprocess="none").validate()
    DataConfig().validate()


# Image I/O.

def test_load_image_modes(tmp_path):
    rgb = random_image(8, 10)
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "gray.png")
    assert np.array_equal(load_image(tmp_path / "gray.png", 3), np.repeat(rgb[:, :, :1], 3, 2))
    assert load_image(tmp_path / "gray.png", 1).shape == (8, 10, 1)
    rgba = np.concatenate([rgb, np.zeros((8, 10, 1), np.uint8)], 2)
    rgba[:4, :, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    loaded = load_image(tmp_path / "rgba.png", 3)
    assert np.array_equal(loaded[:4], rgb[:4]) and (loaded[4:] == 255).all()  # Transparent -> white.
    palette = Image.fromarray(rgb).convert("P")
    palette.save(tmp_path / "palette.png")
    assert np.array_equal(load_image(tmp_path / "palette.png", 3), np.asarray(palette.convert("RGB")))
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert np.abs(load_image(tmp_path / "cmyk.jpg").astype(int) - rgb).mean() < 8
    luma = np.asarray(Image.fromarray(rgb).convert("L")).astype(int)
    assert np.abs(load_image(tmp_path / "rgba.png", 1)[:4, :, 0] - luma[:4]).max() <= 1


def test_load_16bit_png_is_scaled_not_clipped(tmp_path):
    Image.fromarray(np.array([[0, 32768, 65535]], np.uint16)).save(tmp_path / "gray16.png")
    tensor = to_tensor(load_image(tmp_path / "gray16.png", 1))
    assert tensor[0, 0, 0] == -1.0 and tensor[0, 0, 2] == 1.0 and abs(tensor[0, 0, 1].item()) < 0.01
    save_image(tmp_path / "rgb16.png", np.full((2, 2, 3), 65535, np.uint16))
    assert (load_image(tmp_path / "rgb16.png") == 255).all()


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # Rotate 90° clockwise on display.
    Image.fromarray(random_image(20, 30)).save(tmp_path / "rotated.jpg", exif=exif)
    assert load_image(tmp_path / "rotated.jpg").shape == (30, 20, 3)


@pytest.mark.parametrize("content", [b"", b"not an image at all", "truncated"])
def test_corrupt_file_error_names_the_file(tmp_path, content):
    path = tmp_path / "broken.jpg"
    if content == "truncated":
        Image.fromarray(random_image(32, 32)).save(path)
        content = path.read_bytes()[:200]
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match="broken.jpg"):
        load_image(path)


def test_list_images_sorts_filters_and_counts(tmp_path):
    for name in ("b.PNG", "a.jpg", "c.JpEg", "notes.txt", ".DS_Store", "sub/d.webp"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    paths, skipped = list_images(tmp_path)
    assert [p.name for p in paths] == ["a.jpg", "b.PNG", "c.JpEg"] and skipped == 2
    assert [p.name for p in list_images(tmp_path, recursive=True).paths][-1] == "d.webp"
    with pytest.raises(FileNotFoundError, match="missing"):
        list_images(tmp_path / "missing")


def test_save_image_round_trip_and_creates_parents(tmp_path):
    tensor = torch.rand(3, 8, 8) * 2 - 1
    path = save_image(tmp_path / "deep" / "dir" / "out.png", tensor)
    assert (to_tensor(load_image(path)) - tensor).abs().max() <= 1 / 127.5
    assert [p.name for p in path.parent.iterdir()] == ["out.png"]


# Datasets.

def test_registry_names():
    assert DATASETS.names() == ["aligned", "paired", "single", "unaligned"]


@pytest.mark.parametrize("direction, a_value", [("AtoB", -1.0), ("BtoA", 1.0)])
def test_aligned_dataset_items_and_direction(tmp_path, direction, a_value):
    write_aligned(tmp_path / "train", 3)
    dataset = build_dataset(tiny_cfg(tmp_path, direction=direction, output_nc=1))
    item = dataset[0]
    assert item["A"].shape == (3, 32, 32) and item["B"].shape == (1, 32, 32) and len(dataset) == 3
    assert torch.all(item["A"] == a_value) and torch.all(item["B"] == -a_value)
    assert item["A_path"] == item["B_path"] == str(tmp_path / "train" / "000.png")


def test_unaligned_dataset_direction_length_and_serial(tmp_path):
    for domain, count in (("A", 3), ("B", 5)):
        for i in range(count):
            save_image(tmp_path / f"train{domain}" / f"{i}.png", random_image(32, 32, seed=i))
    dataset = build_dataset(tiny_cfg(tmp_path, dataset="unaligned", serial_batches=True, direction="BtoA",
                                     input_nc=1))
    assert len(dataset) == 5
    item = dataset[4]
    assert "trainB" in item["A_path"] and item["A_path"].endswith("4.png") and item["B_path"].endswith("1.png")
    assert item["A"].shape == (1, 32, 32) and item["B"].shape == (3, 32, 32)


def test_paired_folder_dataset_matches_stems(tmp_path):
    for side, ext in (("A", ".png"), ("B", ".jpg")):
        for name in ("x", "y"):
            save_image(tmp_path / "train" / side / f"{name}{ext}", random_image(32, 32))
    dataset = build_dataset(tiny_cfg(tmp_path, dataset="paired"))
    assert len(dataset) == 2 and dataset[1]["B_path"].endswith("y.jpg")


def test_paired_folder_name_mismatch_lists_names(tmp_path):
    for side, names in (("A", "abc"), ("B", "abd")):
        for name in names:
            save_image(tmp_path / side / f"{name}.png", random_image(8, 8))
    with pytest.raises(ValueError, match=r"1 name\(s\) missing in '.*B': c; 1 name\(s\) missing in '.*A': d"):
        build_dataset(tiny_cfg(tmp_path, dataset="paired"))


def test_single_dataset_and_max_dataset_size(tmp_path):
    for i in range(4):
        save_image(tmp_path / f"{i}.png", random_image(32, 32))
    dataset = build_dataset(tiny_cfg(tmp_path, dataset="single", max_dataset_size=3), train=False)
    assert len(dataset) == 3 and set(dataset[0]) == {"A", "A_path"}


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data\.root: folder '.*nowhere.train' does not exist"):
        build_dataset(tiny_cfg(tmp_path / "nowhere"))
    (tmp_path / "trainA").mkdir()
    (tmp_path / "trainA" / "readme.txt").write_text("hi")
    with pytest.raises(FileNotFoundError, match=r"trainA' has no images \(1 other files\)"):
        build_dataset(tiny_cfg(tmp_path, dataset="unaligned"))


def test_bad_images_fail_or_are_skipped_and_counted(tmp_path):
    write_aligned(tmp_path / "train", 3)
    (tmp_path / "train" / "001.png").write_bytes(b"garbage")
    (tmp_path / "train" / "notes.txt").write_text("not an image")
    with pytest.raises(ImageReadError, match="001.png.*; set data.skip_bad_images=true"):
        build_dataset(tiny_cfg(tmp_path))[1]
    dataset = build_dataset(tiny_cfg(tmp_path, skip_bad_images=True))
    assert dataset.skipped_files == 1
    items = [dataset[i] for i in range(len(dataset))]  # the loader, not the dataset, warns (once per file)
    assert dataset.bad_images == 1 and items[1]["A_path"].endswith("002.png")
    assert "001.png" in items[1]["skipped_images"] and items[0]["skipped_images"] == ""


def test_gpu_augment_mode_only_resizes_on_cpu(tmp_path):
    write_aligned(tmp_path / "train", 2)
    item = build_dataset(tiny_cfg(tmp_path, gpu_augment=True))[0]
    assert item["A"].shape == (3, 40, 40)


# Synthetic data.

def test_synthetic_datasets_are_deterministic_with_expected_layout(tmp_path):
    layouts = (("paired", ["test", "train"], 64), ("unpaired", ["testA", "testB", "trainA", "trainB"], 32))
    for kind, folders, width in layouts:
        first = make_synthetic_dataset(tmp_path / f"{kind}1", kind, n_train=6, n_test=2, size=32, seed=3)
        second = make_synthetic_dataset(tmp_path / f"{kind}2", kind, n_train=6, n_test=2, size=32, seed=3)
        assert sorted(p.name for p in first.iterdir()) == folders
        files = sorted(p.relative_to(first) for p in first.rglob("*.png"))
        assert len(files) == (8 if kind == "paired" else 16)
        assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
        assert load_image(first / files[0]).shape == (32, width, 3)
    other = make_synthetic_dataset(tmp_path / "other", "paired", n_train=6, n_test=2, size=32, seed=4)
    assert (other / "train/0000.png").read_bytes() != (tmp_path / "paired1/train/0000.png").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "paired1", "paired2", "unpaired1", "unpaired2"]


def test_build_dataset_writes_synthetic_data_once(tmp_path):
    root = tmp_path / "synthetic"
    root.mkdir()
    dataset = build_dataset(tiny_cfg(root, dataset="unaligned", synthetic="unpaired"))
    assert len(dataset) == 200 and dataset[0]["A"].shape == (3, 32, 32)
    stamp = (root / "trainA" / "0000.png").stat().st_mtime_ns
    build_dataset(tiny_cfg(root, dataset="unaligned", synthetic="unpaired", phase="test"))
    assert (root / "trainA" / "0000.png").stat().st_mtime_ns == stamp


# Loaders and GPU augmentation.

def _batches(dataset, cfg, seed):
    torch.manual_seed(0)
    loader = build_dataloader(dataset, cfg, shuffle=True, seed=seed, drop_last=True)
    return [(batch["A"], batch["A_path"]) for batch in loader]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_dataloader_is_reproducible_for_a_seed(tmp_path, num_workers):
    make_synthetic_dataset(tmp_path, "paired", n_train=8, n_test=1, size=32)
    cfg = tiny_cfg(tmp_path, num_workers=num_workers, persistent_workers=False)
    dataset = build_dataset(cfg)
    first, second, other = _batches(dataset, cfg, 7), _batches(dataset, cfg, 7), _batches(dataset, cfg, 8)
    assert len(first) == 4
    assert all(torch.equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(first, second))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, other))


def test_dataloader_rejects_batch_larger_than_dataset(tmp_path):
    write_aligned(tmp_path / "train", 1)
    cfg = tiny_cfg(tmp_path, batch_size=4)
    with pytest.raises(ValueError, match="data.batch_size: 4 is larger than the dataset"):
        build_dataloader(build_dataset(cfg), cfg, shuffle=True, seed=0, drop_last=True)


def test_gpu_augment_applies_the_same_crop_and_flip_to_a_and_b():
    torch.manual_seed(0)
    a = torch.rand(16, 3, 12, 12) * 2 - 1
    augment = PairedGPUAugment(crop_size=8, flip=True)
    out_a, out_b = augment(a, a[:, :1].clone())
    assert out_a.shape == (16, 3, 8, 8) and out_b.shape == (16, 1, 8, 8)
    assert torch.equal(out_a[:, :1], out_b)
    flipped, _ = PairedGPUAugment(crop_size=None, flip=True)(a)
    is_flipped = [torch.equal(f, x.flip(-1)) for f, x in zip(flipped, a)]
    assert all(flip or torch.equal(f, x) for flip, f, x in zip(is_flipped, flipped, a)) and 0 < sum(is_flipped) < 16
    augment.eval()
    assert torch.equal(augment(a)[0], a[:, :, 2:10, 2:10])
    with pytest.raises(ValueError, match="smaller than data.crop_size"):
        augment(torch.zeros(1, 3, 4, 4))


def test_no_warnings_on_a_clean_dataset(tmp_path):
    write_aligned(tmp_path / "train", 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_dataset(tiny_cfg(tmp_path))[0]
