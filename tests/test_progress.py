"""Progress output (bars on a terminal, one line per interval elsewhere, off on request) for evaluation and
translation, and decode-error messages that name the file and the reason only."""
from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.data.io import ImageReadError, load_image
from i2i.metrics.features import build_feature_extractor, extract_features
from i2i.progress import progress_bar

ROOT = Path(__file__).resolve().parents[1]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("I2I_PROGRESS", raising=False)
    log = io.StringIO()
    with progress_bar(3, desc="work", unit="img", file=log, interval=0) as bar:
        for _ in range(3):
            bar.update(1)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) >= 2
    assert lines[0].startswith("work:   0%") and "3/3" in lines[-1] and "img/s" in lines[-1]
    terminal = FakeTerminal()
    with progress_bar(3, desc="work", file=terminal) as bar:
        bar.update(3)
    assert "\r" in terminal.getvalue()  # tqdm's redrawn bar on a terminal.


@pytest.mark.parametrize("how", ["disabled", "env"])
def test_off(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("I2I_PROGRESS", "off" if how == "env" else "")
    log = FakeTerminal()
    with progress_bar(5, desc="work", file=log, enabled=how != "disabled") as bar:
        bar.update(5)
    assert log.getvalue() == ""


def test_feature_extraction_reports_count_rate_and_eta(capsys: pytest.CaptureFixture) -> None:
    extractor = build_feature_extractor("random")
    images = [torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8) for _ in range(5)]
    features = extract_features(images, extractor, batch_size=2, progress="random features, real")
    assert features.shape == (5, extractor.num_features)
    err = capsys.readouterr().err
    assert "\r" not in err and err.splitlines()[-1].startswith("random features, real: 100%")
    assert "5/5 [" in err and "<00:00" in err  # Elapsed<remaining (the ETA) as tqdm prints it.
    extract_features(images, extractor, batch_size=2)
    assert capsys.readouterr().err == ""


def test_evaluate_cli_shows_progress(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for side in ("target", "pred"):
        (tmp_path / side).mkdir()
        for index in range(3):
            pixels = np.full((16, 16, 3), 40 * index + (side == "pred"), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / side / f"{index}.png")
    spec = importlib.util.spec_from_file_location("evaluate_progress_cli", ROOT / "tools" / "evaluate.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.main(["--target", str(tmp_path / "target"), "--pred", str(tmp_path / "pred")]) == 0
    captured = capsys.readouterr()
    assert "paired metrics: 100%" in captured.err and "3/3" in captured.err and "PSNR" in captured.out
    assert cli.main(["--target", str(tmp_path / "target"), "--pred", str(tmp_path / "pred"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_decode_error_names_file_and_reason_only(tmp_path: Path) -> None:
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"this is text, not a PNG")
    with pytest.raises(ImageReadError) as error:
        load_image(bad)
    assert str(error.value) == f"image '{bad}' could not be read: not an image, or a format that Pillow cannot read"
    truncated = tmp_path / "cut.gif"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, format="GIF")
    truncated.write_bytes(buffer.getvalue()[:40])
    with pytest.raises(ImageReadError) as error:
        load_image(truncated)
    assert str(error.value).startswith(f"image '{truncated}' could not be read: ")
    assert "BytesIO" not in str(error.value) and "0x" not in str(error.value)
