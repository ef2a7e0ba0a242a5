"""Generators, discriminators, registries, builders and weight init, on tiny settings."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from i2i.models import (
    DISCRIMINATORS,
    GENERATORS,
    INIT_SCHEMES,
    PatchDiscriminator,
    PixelDiscriminator,
    ResnetGenerator,
    UnetGenerator,
    build_discriminator,
    build_generator,
    init_weights,
)
from i2i.models.layers import NORMS

# name -> (kwargs, image size): the smallest settings each registered network accepts.
GENERATOR_CASES = {
    "resnet": ({"ngf": 4, "n_blocks": 2}, 32),
    "resnet_6blocks": ({"ngf": 4}, 32),
    "resnet_9blocks": ({"ngf": 4}, 32),
    "unet": ({"ngf": 4, "num_downs": 5}, 32),
    "unet_128": ({"ngf": 2}, 128),
    "unet_256": ({"ngf": 2}, 256),
}
# name -> (kwargs, image size, expected output size).
DISCRIMINATOR_CASES = {
    "basic": ({"in_channels": 6, "ndf": 4}, 32, 2),
    "n_layers": ({"in_channels": 3, "ndf": 4, "n_layers": 2}, 32, 6),
    "pixel": ({"in_channels": 3, "ndf": 4}, 16, 16),
}


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def assert_all_gradients_finite(module: nn.Module, output: torch.Tensor) -> None:
    output.square().mean().backward()
    for name, param in module.named_parameters():
        assert param.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(param.grad).all(), f"{name} has a non-finite gradient"


def images(size: int, channels: int = 3, batch: int = 2) -> torch.Tensor:
    return torch.rand(batch, channels, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_registries_are_covered() -> None:
    assert GENERATORS.names() == sorted(GENERATOR_CASES)
    assert DISCRIMINATORS.names() == sorted([*DISCRIMINATOR_CASES, "multiscale"])  # lists: test_multiscale.py


@pytest.mark.parametrize("name", sorted(GENERATOR_CASES))
def test_generator_shape_range_and_gradients(name: str) -> None:
    kwargs, size = GENERATOR_CASES[name]
    torch.manual_seed(0)
    generator = build_generator(name, in_channels=3, out_channels=2, **kwargs)
    assert size % generator.size_multiple == 0
    output = generator(images(size))
    assert output.shape == (2, 2, size, size)
    assert output.min() >= -1 and output.max() <= 1
    assert_all_gradients_finite(generator, output)


@pytest.mark.parametrize("name", sorted(DISCRIMINATOR_CASES))
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_discriminator_shape_and_gradients(name: str, spectral_norm: bool) -> None:
    kwargs, size, out_size = DISCRIMINATOR_CASES[name]
    discriminator = build_discriminator(name, spectral_norm=spectral_norm, **kwargs)
    output = discriminator(images(size, kwargs["in_channels"]))
    assert output.shape == (2, 1, out_size, out_size)
    assert_all_gradients_finite(discriminator, output)
    convs = [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(parametrize.is_parametrized(conv, "weight") == spectral_norm for conv in convs)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("family", ["resnet", "unet", "basic", "pixel"])
def test_every_norm(family: str, norm: str) -> None:
    if family == "resnet":
        network, x = ResnetGenerator(ngf=4, n_blocks=1, norm=norm), images(16)
    elif family == "unet":
        network, x = UnetGenerator(ngf=4, num_downs=5, norm=norm), images(32)
    elif family == "basic":
        network, x = PatchDiscriminator(in_channels=3, ndf=4, norm=norm), images(32)
    else:
        network, x = PixelDiscriminator(in_channels=3, ndf=4, norm=norm), images(8)
    norm_layers = [m for m in network.modules() if isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d))]
    expected_type = {"batch": nn.BatchNorm2d, "instance": nn.InstanceNorm2d}.get(norm)
    assert all(type(m) is expected_type for m in norm_layers) and bool(norm_layers) == (norm != "none")
    # Convs feeding a norm have a bias unless that norm is batch norm (the reference's use_bias).
    conv_before_norm = {
        "resnet": lambda: network.stem.conv,
        "unet": lambda: network.levels[1].down_conv,
        "basic": lambda: network.blocks[0].conv,
        "pixel": lambda: network.block.conv,
    }[family]()
    assert (conv_before_norm.bias is not None) == (norm != "batch")
    output = network(x)
    assert torch.isfinite(output).all()
    assert_all_gradients_finite(network, output)


def test_instance_norm_has_no_parameters_or_statistics() -> None:
    generator = ResnetGenerator(ngf=4, n_blocks=1, norm="instance")
    assert not any(".norm" in key for key in generator.state_dict())


@pytest.mark.parametrize("upsample", ["convtranspose", "upsample_conv"])
@pytest.mark.parametrize("padding_type", ["reflect", "replicate", "zero"])
def test_resnet_upsample_and_padding(upsample: str, padding_type: str) -> None:
    generator = ResnetGenerator(ngf=4, n_blocks=1, upsample=upsample, padding_type=padding_type)
    output = generator(images(16))
    assert output.shape == (2, 3, 16, 16)
    assert isinstance(generator.up1.conv, nn.ConvTranspose2d) == (upsample == "convtranspose")
    assert isinstance(generator.up1.upsample, nn.Upsample) == (upsample == "upsample_conv")
    assert_all_gradients_finite(generator, output)


def test_bad_choices_raise_value_error() -> None:
    with pytest.raises(ValueError, match="upsample.*'bilinear'.*convtranspose, upsample_conv"):
        ResnetGenerator(upsample="bilinear")
    with pytest.raises(ValueError, match="padding_type.*circular"):
        ResnetGenerator(padding_type="circular")
    with pytest.raises(ValueError, match="norm.*'group'.*instance, batch, none"):
        UnetGenerator(norm="group")
    with pytest.raises(ValueError, match="num_downs must be >= 5"):
        UnetGenerator(num_downs=4)


def test_dropout_placement_matches_the_reference() -> None:
    resnet = ResnetGenerator(ngf=4, n_blocks=3, use_dropout=True)
    assert sum(isinstance(m, nn.Dropout) for m in resnet.modules()) == 3
    unet = UnetGenerator(ngf=2, num_downs=8, use_dropout=True)
    with_dropout = [i for i, level in enumerate(unet.levels) if isinstance(level.dropout, nn.Dropout)]
    assert with_dropout == [4, 5, 6]  # The num_downs - 5 levels around the innermost one (7).
    assert not any(isinstance(m, nn.Dropout) for m in UnetGenerator(ngf=2, num_downs=5, use_dropout=True).modules())


def test_eval_is_deterministic_and_train_dropout_is_not() -> None:
    torch.manual_seed(0)
    generator = ResnetGenerator(ngf=4, n_blocks=2, use_dropout=True)
    x = images(16)
    with torch.no_grad():
        assert not torch.equal(generator(x), generator(x))
        generator.eval()
        assert torch.equal(generator(x), generator(x))


@pytest.mark.parametrize("generator", [ResnetGenerator(ngf=2, n_blocks=1), UnetGenerator(ngf=2, num_downs=5)])
def test_size_multiple_is_enforced(generator: nn.Module) -> None:
    multiple = generator.size_multiple
    assert multiple == (4 if isinstance(generator, ResnetGenerator) else 32)
    with pytest.raises(ValueError, match=f"multiples of {multiple}, got {multiple + 2}x{multiple}"):
        generator(torch.zeros(1, 3, multiple + 2, multiple))


def test_module_names_are_descriptive() -> None:
    keys = list(ResnetGenerator(ngf=2, n_blocks=1, norm="batch").state_dict())
    assert keys[:2] == ["stem.conv.weight", "stem.norm.weight"]
    assert "blocks.0.conv2.weight" in keys and "up2.conv.weight" in keys and "head.bias" in keys
    assert "levels.1.down_norm.running_mean" in UnetGenerator(ngf=2, num_downs=5).state_dict()
    assert not any(key.startswith("model.") for key in keys)


def test_default_parameter_counts_equal_the_reference() -> None:
    assert n_params(build_generator("resnet_9blocks")) == 11_378_179
    assert n_params(build_generator("unet_256")) == 54_413_955
    assert n_params(build_discriminator("basic", in_channels=3, norm="instance")) == 2_764_737


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="unet_512.*valid: resnet, resnet_6blocks, resnet_9blocks, unet, unet_128"):
        build_generator("unet_512")
    with pytest.raises(KeyError, match="valid: basic, multiscale, n_layers, pixel"):
        build_discriminator("patch")


def test_bad_keyword_arguments_name_the_network() -> None:
    with pytest.raises(TypeError, match="generator 'unet_256' \\(UnetGenerator\\).*\\['n_blocks'\\]"):
        build_generator("unet_256", n_blocks=9)
    with pytest.raises(TypeError, match="generator 'resnet_9blocks' fixes n_blocks=9"):
        build_generator("resnet_9blocks", n_blocks=6)
    with pytest.raises(TypeError, match="discriminator 'pixel' \\(PixelDiscriminator\\).*\\['n_layers'\\]"):
        build_discriminator("pixel", in_channels=3, n_layers=2)


def conv_weights(module: nn.Module) -> list[torch.Tensor]:
    return [m.weight.detach() for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
def test_init_schemes(scheme: str) -> None:
    torch.manual_seed(0)
    network = init_weights(ResnetGenerator(ngf=16, n_blocks=2, norm="batch"), scheme, gain=0.05)
    block_conv = network.blocks[0].conv1.weight.detach()  # (64, 64, 3, 3), fan_in = fan_out = 576.
    expected_std = {"normal": 0.05, "xavier": 0.05 * (2 / (576 + 576)) ** 0.5, "kaiming": (2 / 576) ** 0.5}
    if scheme == "orthogonal":
        rows = block_conv.flatten(1)
        torch.testing.assert_close(rows @ rows.T, 0.05**2 * torch.eye(64), atol=1e-6, rtol=0)
    else:
        assert block_conv.mean().abs() < 0.1 * expected_std[scheme]
        assert block_conv.std().item() == pytest.approx(expected_std[scheme], rel=0.05)
    biases = [m.bias for m in network.modules() if isinstance(m, nn.Conv2d) and m.bias is not None]
    assert biases and all(torch.count_nonzero(b) == 0 for b in biases)
    norm_weights = torch.cat([m.weight.detach() for m in network.modules() if isinstance(m, nn.BatchNorm2d)])
    assert norm_weights.mean().item() == pytest.approx(1.0, abs=0.02)
    assert norm_weights.std().item() == pytest.approx(0.05, rel=0.2)
    assert all(torch.count_nonzero(m.bias) == 0 for m in network.modules() if isinstance(m, nn.BatchNorm2d))


def test_init_reaches_spectral_norm_weights_and_rejects_unknown_schemes() -> None:
    discriminator = PatchDiscriminator(in_channels=3, ndf=16, spectral_norm=True)
    init_weights(discriminator, "normal", gain=0.5)
    original = discriminator.blocks[0].conv.parametrizations.weight.original
    assert original.std().item() == pytest.approx(0.5, rel=0.05)
    with pytest.raises(ValueError, match="unknown scheme 'uniform'; valid: normal, xavier, kaiming, orthogonal"):
        init_weights(discriminator, "uniform")


def test_spectral_norm_bounds_the_largest_singular_value() -> None:
    torch.manual_seed(0)
    discriminator = PatchDiscriminator(in_channels=3, ndf=4, n_layers=1, norm="none", spectral_norm=True)
    x = images(16)
    for _ in range(30):  # Power iterations run in training-mode forwards.
        discriminator(x)
    for weight in conv_weights(discriminator):
        assert torch.linalg.matrix_norm(weight.flatten(1), ord=2).item() == pytest.approx(1.0, abs=0.02)
