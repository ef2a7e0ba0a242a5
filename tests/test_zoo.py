"""The reference model zoo: names, URLs, cache location, and fetching from file:// URLs (no network)."""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest
import torch

from i2i.inference import Translator
from i2i.inference.zoo import ZooError, cache_dir, cached_path, copy_into_cache, fetch, resolve, zoo_names, zoo_url

FIXTURE = Path(__file__).parent / "fixtures" / "reference" / "resnet_9blocks_ngf8_instance"


def test_names_and_urls() -> None:
    assert len(zoo_names()) == 18 + 5
    assert zoo_url("horse2zebra") == "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/horse2zebra.pth"
    assert zoo_url("cyclegan/style_vangogh").endswith("/cyclegan/pretrained_models/style_vangogh.pth")
    assert zoo_url("pix2pix/facades_label2photo") == (
        "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/facades_label2photo.pth")
    assert resolve("sat2map").kind == "cyclegan"  # Bare names shared by both kinds mean CycleGAN.
    assert resolve("pix2pix/sat2map").kind == "pix2pix"
    assert resolve("edges2shoes").key == "pix2pix/edges2shoes"  # Only pix2pix has it.
    with pytest.raises(KeyError, match="unknown zoo model 'hors2zebra' \\(did you mean 'horse2zebra'\\?\\)"):
        resolve("hors2zebra")
    with pytest.raises(KeyError, match="unknown zoo model 'pix2pix/horse2zebra'"):
        resolve("pix2pix/horse2zebra")
    with pytest.raises(KeyError, match="unknown zoo kind 'cylegan'"):
        resolve("cylegan/horse2zebra")


def test_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("I2I_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "i2i" / "zoo"
    monkeypatch.setenv("I2I_CACHE", str(tmp_path / "models"))
    assert cache_dir() == tmp_path / "models"
    assert cached_path("map2sat") == tmp_path / "models" / "cyclegan" / "map2sat.pth"
    assert cached_path("pix2pix/map2sat") == tmp_path / "models" / "pix2pix" / "map2sat.pth"


def test_fetch_file_url_then_reuse(tmp_path: Path) -> None:
    source = tmp_path / "served.pth"
    source.write_bytes(b"weights v1")
    cache = tmp_path / "cache"
    path = fetch("horse2zebra", url=source.as_uri(), cache=cache)
    assert path == cache / "cyclegan" / "horse2zebra.pth" and path.read_bytes() == b"weights v1"
    source.write_bytes(b"weights v2")
    assert fetch("horse2zebra", url=source.as_uri(), cache=cache).read_bytes() == b"weights v1"  # Cached.
    digest = hashlib.sha256(b"weights v2").hexdigest()
    assert fetch("horse2zebra", url=source.as_uri(), cache=cache, sha256=digest).read_bytes() == b"weights v2"
    assert [p.name for p in (cache / "cyclegan").iterdir()] == ["horse2zebra.pth"]  # No temporary files left.


def test_checksum_mismatch_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "served.pth"
    source.write_bytes(b"tampered")
    cache = tmp_path / "cache"
    with pytest.raises(ZooError, match="served.pth: sha256 mismatch \\(expected 00+, got [0-9a-f]{64}\\)"):
        fetch("zebra2horse", url=source.as_uri(), cache=cache, sha256="0" * 64)
    assert list((cache / "cyclegan").iterdir()) == []


def test_failed_download_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ZooError, match="missing.pth: download failed") as error:
        fetch("horse2zebra", url=(tmp_path / "missing.pth").as_uri(), cache=tmp_path / "cache")
    assert "\n" not in str(error.value)
    assert list((tmp_path / "cache" / "cyclegan").iterdir()) == []


def test_from_zoo_and_translate_cli_use_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("I2I_CACHE", str(tmp_path / "cache"))
    copy_into_cache("horse2zebra", FIXTURE / "latest_net_G_A.pth")
    x = torch.load(FIXTURE / "input.pt", weights_only=True)
    expected = torch.load(FIXTURE / "output_eval.pt", weights_only=True)
    translator = Translator.from_zoo("cyclegan/horse2zebra", device="cpu", progress=False)
    assert (translator(x) - expected).abs().max() <= 1e-5

    from PIL import Image

    (tmp_path / "in").mkdir()
    Image.new("RGB", (10, 6)).save(tmp_path / "in" / "horse.jpg")
    spec = importlib.util.spec_from_file_location("translate_tool", Path(__file__).parents[1] / "tools/translate.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    argv = ["--zoo", "horse2zebra", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--quiet",
            "--device", "cpu", "--num-workers", "0"]
    assert tool.main(argv) == 0
    assert "translated 1" in capsys.readouterr().out
    assert Image.open(tmp_path / "out" / "horse.png").size == (10, 6)
