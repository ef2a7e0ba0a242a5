"""The library API: Translator on reference fixtures, PIL/numpy/tensor inputs, tiling, modes and bad checkpoints."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.checkpoint import CheckpointError
from i2i.export import export_generator
from i2i.inference import Translator
from i2i.inference.tiling import pad_to_multiple, translate_padded
from i2i.models import build_discriminator, build_generator

FIXTURES = Path(__file__).parent / "fixtures" / "reference"
GENERATOR_FIXTURES = ["legacy_instance_norm_stats", "resnet_6blocks_ngf8_instance_dropout",
                      "resnet_9blocks_ngf8_instance", "unet_128_ngf8_instance", "unet_256_ngf8_batch_dropout"]
EXPECTED_FROM = {"legacy_instance_norm_stats": "resnet_9blocks_ngf8_instance"}


def tiny_export(folder: Path, architecture: str = "resnet", seed: int = 0, **kwargs) -> Path:
    """A tiny generator (ngf 4) exported as i2i does after training."""
    kwargs = {"ngf": 4, **({"n_blocks": 1} if architecture == "resnet" else {"num_downs": 5}), **kwargs}
    torch.manual_seed(seed)
    net = build_generator(architecture, **kwargs)
    if kwargs.get("norm", "batch" if architecture == "unet" else "instance") == "batch":
        net.train()
        with torch.no_grad():  # Non-trivial running statistics.
            for _ in range(3):
                net(torch.rand(2, kwargs.get("in_channels", 3), 64, 64) * 2 - 1)
    return export_generator(net, folder, architecture=architecture, kwargs=kwargs, direction="AtoB")


def reference_fixture(folder: str) -> tuple[Path, torch.Tensor, torch.Tensor]:
    meta = json.loads((FIXTURES / folder / "meta.json").read_text())
    data = FIXTURES / EXPECTED_FROM.get(folder, folder)
    x = torch.load(data / "input.pt", weights_only=True)
    return FIXTURES / folder / meta["file"], x, torch.load(data / "output_eval.pt", weights_only=True)


@pytest.fixture(scope="module")
def rgb_model(tmp_path_factory) -> Path:
    return tiny_export(tmp_path_factory.mktemp("rgb") / "G")


# Reference checkpoints.

@pytest.mark.parametrize("folder", GENERATOR_FIXTURES)
def test_reference_fixture_reproduces_output_eval(folder: str) -> None:
    path, x, expected = reference_fixture(folder)
    translator = Translator.from_pretrained(path, device="cpu")
    output = translator(x)
    assert output.shape == expected.shape and output.dtype == expected.dtype
    assert (output - expected).abs().max().item() <= 1e-5


def test_cyclegan_fixture_is_the_same_in_train_mode() -> None:
    path, x, expected = reference_fixture("resnet_9blocks_ngf8_instance")
    output = Translator.from_pretrained(path, device="cpu", mode="train")(x)
    assert (output - expected).abs().max().item() <= 1e-5


# Input kinds.

@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P", "I;16", "CMYK", "1"])
@pytest.mark.parametrize("size", [(257, 131), (1, 1)])
def test_pil_in_pil_out(rgb_model: Path, mode: str, size: tuple[int, int]) -> None:
    translator = Translator.from_pretrained(rgb_model, device="cpu")
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    image = image.convert(mode) if mode != "I;16" else Image.fromarray(np.full(size[::-1], 40000, dtype=np.uint16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Grayscale inputs warn; tested below.
        output = translator(image)
    assert isinstance(output, Image.Image)
    assert output.size == size and output.mode == "RGB"


def test_numpy_and_tensor_keep_their_kind(rgb_model: Path) -> None:
    translator = Translator.from_pretrained(rgb_model, device="cpu")
    array = np.random.default_rng(0).integers(0, 255, (37, 50, 3), dtype=np.uint8)
    output = translator(array)
    assert isinstance(output, np.ndarray) and output.dtype == np.uint8 and output.shape == (37, 50, 3)
    chw = torch.rand(3, 37, 50, dtype=torch.float64) * 2 - 1
    out_chw = translator(chw)
    assert out_chw.shape == (3, 37, 50) and out_chw.dtype == torch.float64 and out_chw.device == chw.device
    assert out_chw.abs().max() <= 1
    nchw = torch.rand(2, 3, 37, 50) * 2 - 1
    out_nchw = translator(nchw)
    assert out_nchw.shape == (2, 3, 37, 50) and out_nchw.dtype == torch.float32
    # The uint8 path and the tensor path agree (up to quantisation of the input and output).
    from_array = translator(torch.from_numpy(array).permute(2, 0, 1).float() / 127.5 - 1)
    assert np.abs(((from_array + 1) * 127.5).round().permute(1, 2, 0).numpy() - output).max() <= 1
    with pytest.raises(ValueError, match="float"):
        translator(torch.zeros(3, 8, 8, dtype=torch.uint8))
    with pytest.raises(TypeError, match="PIL image, numpy array or torch tensor"):
        translator([1, 2, 3])


def test_padding_crops_back_to_the_input(rgb_model: Path) -> None:
    translator = Translator.from_pretrained(rgb_model, device="cpu")
    x = torch.rand(1, 3, 21, 30) * 2 - 1
    padded = pad_to_multiple(x, 4)
    assert padded.shape[-2:] == (24, 32) and torch.equal(padded[..., :21, :30], x)
    with torch.no_grad():
        expected = translator.net(padded)[..., :21, :30]
    assert torch.allclose(translator(x), expected, atol=1e-6)
    one_pixel = torch.full((1, 3, 1, 1), 0.5)
    assert pad_to_multiple(one_pixel, 4).shape[-2:] == (8, 8)  # Replicate padding; ResNets need >= 8 px.
    assert translator(one_pixel).shape == (1, 3, 1, 1)


def test_channel_mismatch_converts_with_one_warning(tmp_path: Path) -> None:
    gray = Translator.from_pretrained(tiny_export(tmp_path / "gray", in_channels=1, out_channels=1), device="cpu")
    rgb = np.random.default_rng(0).integers(0, 255, (16, 24, 3), dtype=np.uint8)
    with pytest.warns(UserWarning, match="1-channel input; color images are converted to grayscale"):
        output = gray(Image.fromarray(rgb))
    assert output.mode == "L" and output.size == (24, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # The second conversion does not warn again.
        assert gray(rgb).shape == (16, 24, 1)
    assert gray(rgb[:, :, 0]).shape == (16, 24)  # 2-D in, 2-D out for a one-channel generator.
    rgb_model = Translator.from_pretrained(tiny_export(tmp_path / "rgb"), device="cpu")
    with pytest.warns(UserWarning, match="grayscale images are converted to RGB"):
        assert rgb_model(torch.zeros(1, 1, 8, 8)).shape == (1, 3, 8, 8)


# Tiling, modes, precision.

@pytest.mark.parametrize("norm", ["batch", "none"])
def test_tiled_matches_untiled(tmp_path: Path, norm: str) -> None:
    model = tiny_export(tmp_path / "G", norm=norm)
    whole = Translator.from_pretrained(model, device="cpu")
    tiled = Translator.from_pretrained(model, device="cpu", tile=64, tile_overlap=32)
    x = torch.rand(1, 3, 101, 139) * 2 - 1
    expected = whole(x)
    output = tiled.translate_tensor(x, batch_size=3)
    assert output.shape == expected.shape
    assert (output - expected).abs().max().item() <= 1e-3
    assert (output - tiled.translate_tensor(x, batch_size=1)).abs().max() <= 1e-6
    assert torch.equal(tiled(torch.zeros(1, 3, 40, 40)), whole(torch.zeros(1, 3, 40, 40)))  # Fits in one tile.


def test_train_mode_differs_for_dropout_unet_and_eval_is_deterministic(tmp_path: Path) -> None:
    model = tiny_export(tmp_path / "G", "unet", norm="batch", use_dropout=True, num_downs=6)
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    evaluation = Translator.from_pretrained(model, device="cpu")
    assert torch.equal(evaluation(x), evaluation(x))
    training = Translator.from_pretrained(model, device="cpu", mode="train")
    statistics = {k: v.clone() for k, v in training.net.state_dict().items() if "running" in k}
    first, second = training(x), training(x)
    assert (first - evaluation(x)).abs().max() > 1e-3
    assert (first - second).abs().max() > 1e-3  # Dropout is on.
    assert all(torch.equal(training.net.state_dict()[k], v) for k, v in statistics.items())
    with pytest.raises(ValueError, match="mode: unknown mode 'test'; valid: eval, train"):
        Translator.from_pretrained(model, mode="test")


def test_bf16_autocast_on_cpu(rgb_model: Path) -> None:
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    fp32 = Translator.from_pretrained(rgb_model, device="cpu")(x)
    bf16 = Translator.from_pretrained(rgb_model, device="cpu", precision="bf16")(x)
    assert bf16.dtype == torch.float32 and (bf16 - fp32).abs().max() < 0.1
    with pytest.raises(ValueError, match="precision: unknown precision 'fp8'"):
        Translator.from_pretrained(rgb_model, precision="fp8")


def test_device_checks() -> None:
    from i2i.inference.translator import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device: 'cuda' requested but CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.cuda
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_gpu_autocast_matches_fp32(rgb_model: Path, precision: str) -> None:
    x = torch.rand(2, 3, 45, 61) * 2 - 1
    fp32 = Translator.from_pretrained(rgb_model, device="cuda")(x.cuda())
    low = Translator.from_pretrained(rgb_model, device="cuda", precision=precision)(x.cuda())
    assert low.dtype == torch.float32 and low.device.type == "cuda" and (low - fp32).abs().max() < 0.05
    array = np.zeros((45, 61, 3), dtype=np.uint8)
    assert Translator.from_pretrained(rgb_model, device="cuda", precision=precision)(array).shape == (45, 61, 3)


def test_translate_padded_is_the_shared_core(rgb_model: Path) -> None:
    translator = Translator.from_pretrained(rgb_model, device="cpu")
    x = torch.rand(2, 3, 13, 9) * 2 - 1
    with torch.no_grad():
        assert torch.equal(translator.translate_tensor(x), translate_padded(translator.net, x, 4))


def test_training_state_file(tmp_path: Path) -> None:
    kwargs = {"ngf": 4, "n_blocks": 1}
    torch.manual_seed(0)
    nets = {"G_A": build_generator("resnet", **kwargs), "G_B": build_generator("resnet", **kwargs)}
    state = {"nets": {name: net.state_dict() for name, net in nets.items()},
             "generators": {name: {"architecture": "resnet", "kwargs": kwargs, "direction": "AtoB"} for name in nets}}
    torch.save(state, tmp_path / "state_00000010.pt")
    translator = Translator.from_pretrained(tmp_path / "state_00000010.pt", name="G_B", device="cpu")
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(translator(x), nets["G_B"].eval()(x), atol=1e-6)
    assert translator.in_channels == 3 and translator.size_multiple == 4


# Bad checkpoints.

class Marker:
    """Unpickling this would create a file: weights_only loading must refuse it without running it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_arbitrary_pickle_is_refused_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "latest_net_G.pth"
    torch.save({"model.1.weight": torch.zeros(1), "payload": Marker(marker)}, path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refusing to unpickle arbitrary objects") as error:
        Translator.from_pretrained(path, device="cpu")
    assert "\n" not in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_unreadable_checkpoints(tmp_path: Path, damage: str) -> None:
    data = reference_fixture("resnet_9blocks_ngf8_instance")[0].read_bytes()
    path = tmp_path / "latest_net_G_A.pth"
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"<html>404</html>", "empty": b""}[damage])
    with pytest.raises(CheckpointError, match="latest_net_G_A.pth: ") as error:
        Translator.from_pretrained(path, device="cpu")
    assert "\n" not in str(error.value)


def test_discriminators_are_not_generators(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"D_A.pth: not a pix2pix/CycleGAN/CUT generator \(it looks like a"):
        Translator.from_pretrained(FIXTURES / "patchgan_ndf8_instance" / "latest_net_D_A.pth")
    path = tmp_path / "net_D.pth"
    torch.save(build_discriminator("basic", in_channels=3, ndf=4).state_dict(), path)
    with pytest.raises(CheckpointError, match="net_D.pth: not a pix2pix/CycleGAN/CUT generator"):
        Translator.from_pretrained(path)


def test_unknown_architecture_in_export_config(tmp_path: Path) -> None:
    folder = tiny_export(tmp_path / "G")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"architecture": "resnet_99blocks"}))
    expected = r"config.json: cannot build the generator \(unknown generator 'resnet_99blocks'.*valid:"
    with pytest.raises(CheckpointError, match=expected) as error:
        Translator.from_pretrained(folder)
    assert "\n" not in str(error.value)
