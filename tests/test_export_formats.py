"""ONNX / torch.export / TorchScript export: dynamic shapes, equality with PyTorch, and the CLI."""
from __future__ import annotations

import importlib.util
import stat
from pathlib import Path

import pytest
import torch

from i2i.export import export_generator, load_generator_with_config
from i2i.inference import export_formats
from i2i.inference.export_formats import check_shapes, check_size, export_model
from i2i.models import build_generator

ROOT = Path(__file__).resolve().parents[1]
HAS_ORT = importlib.util.find_spec("onnxruntime") is not None


def tiny(tmp_path: Path, architecture: str, **kwargs):
    torch.manual_seed(0)
    net = build_generator(architecture, **kwargs)
    folder = export_generator(net, tmp_path / architecture, architecture=architecture, kwargs=kwargs,
                              direction="AtoB")
    return load_generator_with_config(folder)


@pytest.mark.skipif(not HAS_ORT, reason="onnxruntime not installed")
@pytest.mark.parametrize(("architecture", "kwargs"), [
    ("resnet", {"ngf": 4, "n_blocks": 1, "norm": "instance"}),
    ("unet", {"ngf": 4, "num_downs": 5, "norm": "batch", "use_dropout": True}),
])
def test_onnx_matches_pytorch_at_two_sizes(tmp_path: Path, architecture: str, kwargs: dict) -> None:
    net, config = tiny(tmp_path, architecture, **kwargs)
    report = export_model(net, config, tmp_path / "g.onnx", "onnx")
    shapes = check_shapes(config["in_channels"], config["size_multiple"])
    assert list(report.max_abs_diff)[:2] == shapes and shapes[0][2:] != shapes[1][2:] and shapes[0][0] != shapes[1][0]
    odd = list(report.max_abs_diff)[2]  # Not a multiple of the size multiple: padded inside the graph.
    assert odd[2] % config["size_multiple"] and odd[3] % config["size_multiple"]
    assert max(report.max_abs_diff.values()) <= 1e-4 and report.ok
    import onnx

    metadata = {p.key: p.value for p in onnx.load(str(tmp_path / "g.onnx")).metadata_props}
    assert metadata["i2i_architecture"] == architecture
    assert metadata["i2i_size_multiple"] == str(config["size_multiple"])


@pytest.mark.parametrize("fmt", ["torchscript", "pt2"])
def test_torchscript_and_pt2_match_pytorch(tmp_path: Path, fmt: str) -> None:
    net, config = tiny(tmp_path, "resnet", ngf=4, n_blocks=1, norm="batch")
    report = export_model(net, config, tmp_path / f"g.{fmt}", fmt)
    assert len(report.max_abs_diff) == {"pt2": 2, "torchscript": 3}[fmt]  # TorchScript also checks an odd size.
    assert max(report.max_abs_diff.values()) <= 1e-5
    assert stat.S_IMODE((tmp_path / f"g.{fmt}").stat().st_mode) & 0o644 == 0o644


def test_pt2_program_refuses_sizes_that_are_not_multiples(tmp_path: Path) -> None:
    net, config = tiny(tmp_path, "unet", ngf=4, num_downs=5, norm="batch")
    export_model(net, config, tmp_path / "g.pt2", "pt2", check=False)
    program = torch.export.load(str(tmp_path / "g.pt2")).module()
    assert program(torch.zeros(1, 3, 64, 96)).shape == (1, 3, 64, 96)  # Batch 1, multiples of 32.
    with pytest.raises(Exception, match="% 32 == 0"):
        program(torch.zeros(1, 3, 72, 96))


def test_pt2_size_check_names_the_multiple() -> None:
    check_size(64, 96, 4)
    with pytest.raises(ValueError, match="input 34 x 32 px: this pt2 program takes H and W that are multiples of 4 "
                                         "\\(e.g. pad to 36 x 32"):
        check_size(34, 32, 4)


def test_missing_onnxruntime_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(export_formats.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a))
    net, config = tiny(tmp_path, "resnet", ngf=4, n_blocks=1)
    report = export_model(net, config, tmp_path / "g.onnx", "onnx")
    assert report.max_abs_diff is None and report.ok
    assert 'pip install "i2i[onnx]"' in report.note and (tmp_path / "g.onnx").is_file()


def test_unknown_format(tmp_path: Path) -> None:
    net, config = tiny(tmp_path, "resnet", ngf=4, n_blocks=1)
    with pytest.raises(ValueError, match="format: unknown export format 'tflite'; valid: onnx, pt2, torchscript"):
        export_model(net, config, tmp_path / "g.tflite", "tflite")


@pytest.mark.skipif(not HAS_ORT, reason="onnxruntime not installed")
def test_export_cli_on_a_reference_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = importlib.util.spec_from_file_location("export_tool", ROOT / "tools" / "export.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    checkpoint = ROOT / "tests/fixtures/reference/resnet_6blocks_ngf8_instance_dropout/latest_net_G.pth"
    assert tool.main(["--ckpt", str(checkpoint), "--format", "onnx", "--output", str(tmp_path / "g.onnx")]) == 0
    out = capsys.readouterr().out
    assert "any H and W (padded inside the graph to multiples of 4)" in out
    assert out.count("max |exported - PyTorch|") == 3
    assert tool.main(["--ckpt", str(tmp_path / "nothing.pth"), "--format", "onnx", "--output", "x.onnx"]) == 2
    assert "nothing.pth: checkpoint file does not exist" in capsys.readouterr().err
