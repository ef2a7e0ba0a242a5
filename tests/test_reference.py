"""Importing checkpoints of the reference implementation: exact outputs on its fixtures, and clear errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from i2i.models import (
    build_discriminator,
    build_generator,
    discriminator_from_reference_state_dict,
    generator_from_reference_file,
    generator_from_reference_state_dict,
    load_reference_file,
)

FIXTURES = Path(__file__).parent / "fixtures" / "reference"
TOLERANCE = 1e-5

# folder -> the build config the importer must detect.
GENERATOR_FIXTURES = {
    "resnet_9blocks_ngf8_instance": {"name": "resnet_9blocks", "norm": "instance", "use_dropout": False},
    "resnet_6blocks_ngf8_instance_dropout": {"name": "resnet_6blocks", "norm": "instance", "use_dropout": True},
    "unet_256_ngf8_batch_dropout": {"name": "unet_256", "norm": "batch", "use_dropout": True},
    "unet_128_ngf8_instance": {"name": "unet_128", "norm": "instance", "use_dropout": True},
    "legacy_instance_norm_stats": {"name": "resnet_9blocks", "norm": "instance", "use_dropout": False},
}
# The legacy checkpoint holds the resnet_9blocks weights, so it must reproduce that folder's output.
EXPECTED_FROM = {"legacy_instance_norm_stats": "resnet_9blocks_ngf8_instance"}


def fixture(folder: str) -> tuple[Path, dict, torch.Tensor, torch.Tensor]:
    meta = json.loads((FIXTURES / folder / "meta.json").read_text())
    data = FIXTURES / EXPECTED_FROM.get(folder, folder)
    x = torch.load(data / "input.pt", weights_only=True)
    expected = torch.load(data / "output_eval.pt", weights_only=True)
    return FIXTURES / folder / meta["file"], meta, x, expected


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("folder", sorted(GENERATOR_FIXTURES))
def test_generator_reproduces_reference_output(folder: str) -> None:
    path, meta, x, expected = fixture(folder)
    generator, config = generator_from_reference_file(path)
    assert config == {"in_channels": 3, "out_channels": 3, "ngf": 8} | GENERATOR_FIXTURES[folder]
    assert not generator.training
    if "n_params" in meta:
        assert n_params(generator) == meta["n_params"]
    with torch.no_grad():
        output = generator(x)
    assert output.shape == expected.shape
    assert (output - expected).abs().max().item() <= TOLERANCE
    # The config rebuilds the same architecture under i2i's own names.
    rebuilt = build_generator(config["name"], **{k: v for k, v in config.items() if k != "name"})
    assert rebuilt.state_dict().keys() == generator.state_dict().keys()
    assert not any(key.startswith("model.") for key in generator.state_dict())


def test_patchgan_reproduces_reference_output() -> None:
    path, meta, x, expected = fixture("patchgan_ndf8_instance")
    discriminator, config = discriminator_from_reference_state_dict(load_reference_file(path))
    assert config == {"name": "basic", "in_channels": 3, "ndf": 8, "norm": "instance"}
    assert n_params(discriminator) == meta["n_params"]
    with torch.no_grad():
        output = discriminator(x)
    assert output.shape == tuple(meta["output_shape"])
    assert (output - expected).abs().max().item() <= TOLERANCE


def test_data_parallel_prefix_is_stripped() -> None:
    path, _, x, expected = fixture("resnet_6blocks_ngf8_instance_dropout")
    state_dict = {f"module.{key}": value for key, value in load_reference_file(path).items()}
    generator, config = generator_from_reference_state_dict(state_dict)
    assert config["name"] == "resnet_6blocks"
    with torch.no_grad():
        assert (generator(x) - expected).abs().max().item() <= TOLERANCE


def test_unet_dropout_is_taken_from_the_argument() -> None:
    path, *_ = fixture("unet_128_ngf8_instance")
    generator, config = generator_from_reference_file(path, use_dropout=False)
    assert config["use_dropout"] is False
    assert not any(isinstance(m, nn.Dropout) for m in generator.modules())
    with pytest.raises(ValueError, match="use_dropout=False given, but the checkpoint's residual blocks say True"):
        generator_from_reference_file(fixture("resnet_6blocks_ngf8_instance_dropout")[0], use_dropout=False)


# Reference layouts without a fixture, written out as the reference's nn.Sequential: batch-norm PatchGAN, pixel.


class ReferencePatchGAN(nn.Module):
    def __init__(self, in_channels: int, ndf: int, n_layers: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
        channels = ndf
        for index in range(1, n_layers + 1):
            out = ndf * min(2**index, 8)
            stride = 2 if index < n_layers else 1
            layers += [nn.Conv2d(channels, out, 4, stride, 1, bias=False), nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
            channels = out
        self.model = nn.Sequential(*layers, nn.Conv2d(channels, 1, 4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ReferencePixel(nn.Module):
    def __init__(self, in_channels: int, ndf: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, ndf, 1), nn.LeakyReLU(0.2), nn.Conv2d(ndf, 2 * ndf, 1, bias=False),
            nn.BatchNorm2d(2 * ndf), nn.LeakyReLU(0.2), nn.Conv2d(2 * ndf, 1, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@pytest.mark.parametrize(
    ("reference", "config"),
    [
        (ReferencePatchGAN(6, 4, 2), {"name": "n_layers", "in_channels": 6, "n_layers": 2, "ndf": 4, "norm": "batch"}),
        (ReferencePixel(3, 4), {"name": "pixel", "in_channels": 3, "ndf": 4, "norm": "batch"}),
    ],
)
def test_batch_norm_discriminators_match_their_reference_layout(reference: nn.Module, config: dict) -> None:
    torch.manual_seed(0)
    x = torch.rand(2, config["in_channels"], 32, 32) * 2 - 1
    reference(x)  # A train-mode pass gives the batch norms non-trivial running statistics.
    discriminator, detected = discriminator_from_reference_state_dict(reference.state_dict())
    assert detected == config
    with torch.no_grad():
        torch.testing.assert_close(discriminator(x), reference.eval()(x), atol=TOLERANCE, rtol=0)


# Errors.


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="latest_net_G.pth: file does not exist"):
        load_reference_file(tmp_path / "latest_net_G.pth")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_unreadable_files(tmp_path: Path, damage: str) -> None:
    data = (fixture("resnet_9blocks_ngf8_instance")[0]).read_bytes()
    content = {"truncated": data[: len(data) // 2], "garbage": b"<html>404 not found</html>", "empty": b""}[damage]
    path = tmp_path / "latest_net_G.pth"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="latest_net_G.pth: not a readable PyTorch checkpoint") as error:
        load_reference_file(path)
    assert "\n" not in str(error.value)


class Payload:
    """Stands for an arbitrary pickled object, which weights_only loading must refuse."""


def test_arbitrary_objects_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"model.1.weight": torch.zeros(1), "payload": Payload()}, path)
    with pytest.raises(ValueError, match="evil.pth: refusing to unpickle arbitrary objects.*Payload"):
        load_reference_file(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([torch.zeros(1)], r"checkpoint.pth: expected a state_dict \(dict of tensors\), got list"),
        ({"epoch": 3, "model.1.weight": torch.zeros(1)}, r"pth: expected a state_dict .*, but entry 'epoch' is int"),
        ({}, "checkpoint.pth: the state_dict is empty"),
    ],
)
def test_not_a_dict_of_tensors(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "checkpoint.pth"
    torch.save(content, path)
    with pytest.raises(ValueError, match=message):
        load_reference_file(path)


def test_not_a_generator(tmp_path: Path) -> None:
    discriminator_path = fixture("patchgan_ndf8_instance")[0]
    message = "D_A.pth: not a pix2pix/CycleGAN/CUT generator \\(it looks like a discriminator"
    with pytest.raises(ValueError, match=message):
        generator_from_reference_file(discriminator_path)
    path = tmp_path / "classifier.pth"
    torch.save(nn.Linear(4, 2).state_dict(), path)
    with pytest.raises(ValueError, match="not a pix2pix/CycleGAN/CUT generator: first keys are weight, bias"):
        generator_from_reference_file(path)
    generator_state = load_reference_file(fixture("resnet_9blocks_ngf8_instance")[0])
    message = "not a pix2pix/CycleGAN discriminator \\(it looks like a generator\\): first keys are model.1.weight"
    with pytest.raises(ValueError, match=message):
        discriminator_from_reference_state_dict(generator_state)


def test_damaged_state_dicts_name_the_reference_keys() -> None:
    state_dict = load_reference_file(fixture("resnet_9blocks_ngf8_instance")[0])
    wrong_shape = state_dict | {"model.12.conv_block.5.weight": torch.zeros(32, 32, 1, 1)}
    with pytest.raises(ValueError, match="model.12.conv_block.5.weight has shape \\[32, 32, 1, 1\\], expected"):
        generator_from_reference_state_dict(wrong_shape)
    missing = {key: value for key, value in state_dict.items() if key != "model.22.bias"}
    with pytest.raises(ValueError, match="does not match the detected .*resnet_9blocks.*: missing model.22.bias"):
        generator_from_reference_state_dict(missing)
    extra = state_dict | {"model.99.weight": torch.zeros(1)}
    with pytest.raises(ValueError, match="unexpected keys: model.99.weight"):
        generator_from_reference_state_dict(extra)


def test_i2i_state_dicts_are_not_mistaken_for_reference_ones() -> None:
    generator = build_generator("resnet", ngf=2, n_blocks=1)
    with pytest.raises(ValueError, match="not a pix2pix/CycleGAN/CUT generator: first keys are stem.conv.weight"):
        generator_from_reference_state_dict(generator.state_dict())
    discriminator = build_discriminator("basic", in_channels=3, ndf=2)
    with pytest.raises(ValueError, match="not a pix2pix/CycleGAN discriminator"):
        discriminator_from_reference_state_dict(discriminator.state_dict())
