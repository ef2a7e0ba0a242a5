"""ResNet generator (Johnson et al.), the CycleGAN default: the reference's `ResnetGenerator` with named layers."""
from __future__ import annotations

from functools import partial
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from i2i.models._builder import GENERATORS, variant
from i2i.models.features import FeatureTaps, TapLayer
from i2i.models.layers import (ConvNormAct, Downsample, Upsample, check_spatial_size, conv_bias, get_norm_layer,
                               get_padding_mode)

UPSAMPLE_MODES = ("convtranspose", "upsample_conv")
_REFLECT_PAD_3 = partial(F.pad, pad=(3, 3, 3, 3), mode="reflect")


class ResnetBlock(nn.Module):
    """Residual block: x + norm(conv(dropout(relu(norm(conv(x)))))), 3x3 convs that keep the resolution."""

    def __init__(self, *, channels: int, norm: str, use_dropout: bool, padding_mode: str) -> None:
        """Args:
            channels: Feature channels (unchanged by the block).
            norm: Norm name, see `get_norm_layer`.
            use_dropout: Dropout with p=0.5 between the two convs.
            padding_mode: Conv2d padding mode of both convs.
        """
        super().__init__()
        bias = conv_bias(norm)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, padding_mode=padding_mode, bias=bias)
        self.norm1 = get_norm_layer(norm, channels)
        self.act = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(0.5) if use_dropout else nn.Identity()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, padding_mode=padding_mode, bias=bias)
        self.norm2 = get_norm_layer(norm, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, C, H, W) features to (N, C, H, W) features."""
        residual = self.dropout(self.act(self.norm1(self.conv1(x))))
        return x + self.norm2(self.conv2(residual))


class UpsampleBlock(nn.Module):
    """Doubles the resolution: a stride-2 ConvTranspose2d, or an x2 upsampling (nearest, or CUT's anti-aliased
    `Upsample`) then a 3x3 conv; then norm, ReLU."""

    def __init__(
        self, *, in_channels: int, out_channels: int, norm: str, mode: str, padding_mode: str, antialias: bool = False
    ) -> None:
        """Args:
            in_channels: Input feature channels.
            out_channels: Output feature channels.
            norm: Norm name, see `get_norm_layer`.
            mode: "convtranspose" (the reference) or "upsample_conv" (avoids checkerboard artefacts).
            padding_mode: Conv2d padding mode for "upsample_conv".
            antialias: CUT's layout instead of `mode` "convtranspose": blur `Upsample`, then a zero-padded 3x3 conv.
        """
        super().__init__()
        if mode not in UPSAMPLE_MODES:
            raise ValueError(f"upsample: unknown mode '{mode}'; valid: {', '.join(UPSAMPLE_MODES)}")
        if antialias and mode != "convtranspose":
            raise ValueError(f"upsample: '{mode}' cannot be combined with antialias=True, whose upsampling is a blur "
                             "Upsample then a 3x3 conv; leave upsample at 'convtranspose'")
        bias = conv_bias(norm)
        if antialias:
            self.upsample = Upsample(channels=in_channels)
            self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias)
        elif mode == "convtranspose":
            self.upsample: nn.Module = nn.Identity()
            self.conv: nn.Module = nn.ConvTranspose2d(
                in_channels, out_channels, 3, stride=2, padding=1, output_padding=1, bias=bias
            )
        else:
            self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
            self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, padding_mode=padding_mode, bias=bias)
        self.norm = get_norm_layer(norm, out_channels)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, in_channels, H, W) features to (N, out_channels, 2H, 2W)."""
        return self.act(self.norm(self.conv(self.upsample(x))))


class _UnpaddedConv:
    """A reflect-padded Conv2d without its padding: the reference pads with a separate layer, which taps can see."""

    def __init__(self, conv: nn.Conv2d) -> None:
        self.conv = conv

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        return F.conv2d(x, conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)


class ResnetGenerator(FeatureTaps, nn.Module):
    """7x7 conv, two stride-2 downsamplings, `n_blocks` residual blocks, two upsamplings, 7x7 conv, tanh.

    With `antialias` (CUT's default), each downsampling is a stride-1 conv, norm, ReLU and a blur-pool `Downsample`,
    and each upsampling a blur `Upsample`, then a 3x3 conv, norm, ReLU. Feature taps (`forward_features`) number
    the layers as the reference's / CUT's `nn.Sequential`, see `tap_layers`.

    Attributes:
        size_multiple: Input height and width must be multiples of this (4).
    """

    size_multiple: int = 4

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        norm: str = "instance",
        use_dropout: bool = False,
        upsample: str = "convtranspose",
        padding_type: str = "reflect",
        antialias: bool = False,
    ) -> None:
        """Args:
            in_channels: Channels of the input image.
            out_channels: Channels of the output image.
            ngf: Channels after the first conv; the residual blocks work at 4 * ngf.
            n_blocks: Number of residual blocks (at 1/4 resolution).
            norm: "instance", "batch" or "none".
            use_dropout: Dropout (p=0.5) inside the residual blocks.
            upsample: "convtranspose" (the reference) or "upsample_conv" (nearest x2 then 3x3 conv).
            padding_type: "reflect", "replicate" or "zero", for the residual blocks and "upsample_conv".
            antialias: Anti-aliased down- and upsampling (CUT's default); `upsample` must then be "convtranspose".
        """
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample: unknown mode '{upsample}'; valid: {', '.join(UPSAMPLE_MODES)}")
        padding_mode = get_padding_mode(padding_type)
        self.stem = ConvNormAct(
            in_channels=in_channels, out_channels=ngf, kernel_size=7, padding=3, padding_mode="reflect", norm=norm
        )
        down_args: dict[str, Any] = {"kernel_size": 3, "stride": 2, "padding": 1, "norm": norm, "antialias": antialias}
        self.down1 = ConvNormAct(in_channels=ngf, out_channels=2 * ngf, **down_args)
        self.down2 = ConvNormAct(in_channels=2 * ngf, out_channels=4 * ngf, **down_args)
        self.blocks = nn.ModuleList(
            ResnetBlock(channels=4 * ngf, norm=norm, use_dropout=use_dropout, padding_mode=padding_mode)
            for _ in range(n_blocks)
        )
        up_args: dict[str, Any] = {"norm": norm, "mode": upsample, "padding_mode": padding_mode, "antialias": antialias}
        self.up1 = UpsampleBlock(in_channels=4 * ngf, out_channels=2 * ngf, **up_args)
        self.up2 = UpsampleBlock(in_channels=2 * ngf, out_channels=ngf, **up_args)
        self.head = nn.Conv2d(ngf, out_channels, 7, padding=3, padding_mode="reflect")

    def forward(self, x: torch.Tensor, layers: Sequence[int] | None = None) -> torch.Tensor | list[torch.Tensor]:
        """Translate images, or return feature taps (see `FeatureTaps.forward_features`) when `layers` is given.

        Args:
            x: (N, in_channels, H, W) images in [-1, 1]; H and W multiples of `size_multiple`.
            layers: Tap indices into `tap_layers`; None translates. (Not keyword-only: the TorchScript ONNX exporter
                passes every default positionally.)

        Returns:
            (N, out_channels, H, W) images in [-1, 1], or the list of tapped features.
        """
        check_spatial_size(x, self.size_multiple, type(self).__name__)
        if layers is not None:
            return self.forward_features(x, layers)
        h = self.down2(self.down1(self.stem(x)))
        for block in self.blocks:
            h = block(h)
        return torch.tanh(self.head(self.up2(self.up1(h))))

    def tap_layers(self) -> list[TapLayer]:
        """The layers in the order and numbering of the reference's `nn.Sequential` (CUT's for `antialias`).

        Reflection pad 3, 7x7 conv, norm, ReLU (0-3); per downsampling conv, norm, ReLU[, Downsample]; one layer per
        residual block; per upsampling [Upsample,] conv, norm, ReLU; reflection pad 3, 7x7 conv, tanh. For
        resnet_9blocks with antialias, CUT's `nce_layers` 0, 4, 8, 12, 16 are the padded input, the two
        downsampling convs and the outputs of residual blocks 0 and 4.
        """
        layers = [TapLayer(_REFLECT_PAD_3, self.stem.conv.in_channels)]
        layers += [TapLayer(fn, self.stem.conv.out_channels)
                   for fn in (_UnpaddedConv(self.stem.conv), self.stem.norm, self.stem.act)]
        for down in (self.down1, self.down2):
            steps = [down.conv, down.norm, down.act]
            if isinstance(down.downsample, Downsample):
                steps.append(down.downsample)
            layers += [TapLayer(fn, down.conv.out_channels) for fn in steps]
        layers += [TapLayer(block, block.conv2.out_channels) for block in self.blocks]
        for up in (self.up1, self.up2):
            if not isinstance(up.upsample, nn.Identity):
                layers.append(TapLayer(up.upsample, up.conv.in_channels))
            layers += [TapLayer(fn, up.conv.out_channels) for fn in (up.conv, up.norm, up.act)]
        layers += [TapLayer(_REFLECT_PAD_3, self.head.in_channels)]
        layers += [TapLayer(fn, self.head.out_channels) for fn in (_UnpaddedConv(self.head), torch.tanh)]
        return layers


@GENERATORS.register("resnet")
@variant("generator", ResnetGenerator)
def resnet(**kwargs: Any) -> ResnetGenerator:
    """ResNet generator with any number of blocks (`n_blocks`, default 9)."""


@GENERATORS.register("resnet_6blocks")
@variant("generator", ResnetGenerator, n_blocks=6)
def resnet_6blocks(**kwargs: Any) -> ResnetGenerator:
    """ResNet generator with 6 residual blocks (CycleGAN at 128 px)."""


@GENERATORS.register("resnet_9blocks")
@variant("generator", ResnetGenerator, n_blocks=9)
def resnet_9blocks(**kwargs: Any) -> ResnetGenerator:
    """ResNet generator with 9 residual blocks (CycleGAN at 256 px)."""
