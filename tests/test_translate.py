"""tools/translate.py and folder translation: mixed sizes and modes, bad files, skipping, refusals, HTML."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.export import export_generator
from i2i.inference import Translator
from i2i.models import build_generator

ROOT = Path(__file__).resolve().parents[1]
TRANSLATE = ROOT / "tools" / "translate.py"
BAD = ("empty.png", "corrupt.jpg", "text.png")


def tiny_export(folder: Path, **kwargs) -> Path:
    kwargs = {"ngf": 4, "n_blocks": 1, "norm": "instance", **kwargs}
    torch.manual_seed(0)
    net = build_generator("resnet", **kwargs)
    return export_generator(net, folder, architecture="resnet", kwargs=kwargs, direction="AtoB")


def load_tool():
    spec = importlib.util.spec_from_file_location("translate_tool", TRANSLATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_mixed_folder(root: Path) -> dict[str, tuple[int, int]]:
    """Images of many sizes and modes, plus bad files. Returns good input name -> (width, height)."""
    rng = np.random.default_rng(0)

    def rgb(height: int, width: int) -> np.ndarray:
        return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)

    (root / "sub").mkdir(parents=True)
    Image.fromarray(rgb(131, 257)).save(root / "wide.png")
    Image.fromarray(rgb(1, 1)).save(root / "dot.png")
    Image.fromarray(np.dstack([rgb(20, 30), rng.integers(0, 256, (20, 30, 1), dtype=np.uint8)])).save(root / "rgba.png")
    Image.fromarray(rgb(17, 23)).convert("P").save(root / "palette.png")
    Image.fromarray(rng.integers(0, 65535, (19, 21), dtype=np.uint16)).save(root / "deep16.png")
    Image.fromarray(rgb(24, 16)).convert("L").save(root / "gray.png")
    Image.fromarray(rgb(18, 26)).convert("CMYK").save(root / "cmyk.jpg")
    Image.fromarray(rgb(33, 12)).save(root / "sub" / "nested.jpg")
    (root / "empty.png").write_bytes(b"")
    (root / "corrupt.jpg").write_bytes((root / "cmyk.jpg").read_bytes()[:40] + b"\x00garbage" * 8)
    (root / "text.png").write_text("not an image")
    (root / "notes.txt").write_text("ignored: not an image extension")
    return {name: Image.open(root / name).size for name in ("wide.png", "dot.png", "rgba.png", "palette.png",
                                                             "deep16.png", "gray.png", "cmyk.jpg", "sub/nested.jpg")}


def test_translate_cli_on_a_mixed_folder(tmp_path: Path) -> None:
    model = tiny_export(tmp_path / "model")
    sizes = make_mixed_folder(tmp_path / "in")
    out = tmp_path / "out"
    command = [sys.executable, str(TRANSLATE), "--ckpt", str(model), "--input", str(tmp_path / "in"), "--output",
               str(out), "--recursive", "--html", "--num-workers", "2", "--batch-size", "2", "--device", "cpu"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=os.environ | {"I2I_DEBUG": ""})
    assert result.returncode == 1, result.stderr
    for name in BAD:
        assert f"failed: image '{tmp_path / 'in' / name}'" in result.stderr
    assert "translated 8, skipped 0 (output exists), failed 3, ignored 1 non-image file(s)" in result.stdout
    for name, size in sizes.items():
        output = Image.open(out / Path(name).with_suffix(".png"))
        assert output.size == size and output.mode == "RGB", name
    assert not (out / "empty.png").exists() and not (out / "notes.png").exists()
    page = (out / "index.html").read_text()
    assert page.count("<tr>") == 1 + len(sizes) + len(BAD)
    assert 'src="sub/nested.png"' in page  # Outputs relative to the page, inputs as thumbnails in the output folder
    assert f'<a href="{(tmp_path / "in" / "sub" / "nested.jpg").as_uri()}"><img src="_inputs/sub/nested.png"' in page
    assert f"model: {model} (" in page and f"{len(sizes) + len(BAD)} images · translated 8, skipped 0, failed 3" in page
    assert sorted(p.name for p in (tmp_path / "in").rglob("*")) == sorted(  # Nothing written into the input.
        [*(Path(n).name for n in sizes), *BAD, "notes.txt", "sub"])

    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 1
    assert "translated 0, skipped 8 (output exists), failed 3" in rerun.stdout
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in mtimes.items())


def test_output_inside_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tool = load_tool()
    model = tiny_export(tmp_path / "model")
    Image.new("RGB", (8, 8)).save((tmp_path / "in").mkdir() or tmp_path / "in" / "a.png")
    base = ["--ckpt", str(model), "--device", "cpu", "--quiet", "--input", str(tmp_path / "in")]
    assert tool.main([*base, "--output", str(tmp_path / "in" / "out"), "--recursive"]) == 2
    assert "is inside the input folder" in capsys.readouterr().err
    assert tool.main([*base, "--output", str(tmp_path / "in")]) == 2
    assert "is the input folder" in capsys.readouterr().err
    assert not (tmp_path / "in" / "out").exists()
    single = ["--ckpt", str(model), "--device", "cpu", "--quiet", "--input", str(tmp_path / "in" / "a.png")]
    assert tool.main([*single, "--output", str(tmp_path / "in")]) == 2
    assert "would replace an input image" in capsys.readouterr().err
    assert tool.main(["--ckpt", str(tmp_path / "missing.pth"), "--input", "x", "--output", "y"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_zero_byte_and_corrupt_checkpoints_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tool = load_tool()
    (tmp_path / "latest_net_G.pth").write_bytes(b"")
    assert tool.main(["--ckpt", str(tmp_path / "latest_net_G.pth"), "--input", "x", "--output", "y"]) == 2
    assert "latest_net_G.pth: not a readable PyTorch checkpoint: the file is empty (0 bytes)" in capsys.readouterr().err


def test_folder_options(tmp_path: Path) -> None:
    translator = Translator.from_pretrained(tiny_export(tmp_path / "model"), device="cpu")
    src = tmp_path / "in"
    src.mkdir()
    Image.new("RGB", (30, 20), "red").save(src / "a.png")
    Image.new("RGB", (30, 20), "blue").save(src / "a.jpg")
    Image.new("RGB", (9, 40), "green").save(src / "b.jpg")
    summary = translator.translate_folder(src, tmp_path / "out", ext="jpg", size=16, num_workers=0, progress=False)
    assert summary.translated == 3 and not summary.failed
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["a.jpg", "a_png.jpg", "b.jpg"]  # a.jpg keeps its name, a.png gets a distinct one.
    assert Image.open(tmp_path / "out" / "b.jpg").size == (9, 40)  # Translated at 16x16, resized back.
    glob_summary = translator.translate_folder(str(src / "*.jpg"), tmp_path / "glob", num_workers=0, progress=False)
    assert glob_summary.translated == 2 and sorted(p.name for p in (tmp_path / "glob").iterdir()) == ["a.png", "b.png"]
    single = translator.translate_folder(src / "b.jpg", tmp_path / "single", overwrite=True, progress=False)
    assert single.translated == 1 and (tmp_path / "single" / "b.png").is_file()
    with pytest.raises(FileNotFoundError, match="no file matches"):
        translator.translate_folder(str(src / "*.tif"), tmp_path / "none")
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no images in folder .*nested' \\(sub-folders need --recursive\\)"):
        translator.translate_folder(tmp_path / "nested", tmp_path / "none")


def test_tiled_folder_translation_matches_image_sizes(tmp_path: Path) -> None:
    translator = Translator.from_pretrained(tiny_export(tmp_path / "model", norm="none"), device="cpu", tile=32)
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(src / "big.png")
    summary = translator.translate_folder(src, tmp_path / "out", num_workers=0, progress=False)
    assert summary.translated == 1 and Image.open(tmp_path / "out" / "big.png").size == (70, 50)


def test_grayscale_model_on_rgb_folder_warns_once(tmp_path: Path) -> None:
    model = tiny_export(tmp_path / "model", in_channels=1, out_channels=1)
    translator = Translator.from_pretrained(model, device="cpu")
    src = tmp_path / "in"
    src.mkdir()
    for index in range(3):
        Image.new("RGB", (12, 12), (index * 80, 10, 200)).save(src / f"{index}.png")
    with pytest.warns(UserWarning, match="color images are converted to grayscale") as record:
        summary = translator.translate_folder(src, tmp_path / "out", num_workers=0, progress=False)
    assert len(record) == 1 and summary.translated == 3
    assert Image.open(tmp_path / "out" / "0.png").mode == "L"
