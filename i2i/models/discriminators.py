"""PatchGAN and per-pixel discriminators: the reference's `NLayerDiscriminator` and `PixelDiscriminator`."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from i2i.models._builder import DISCRIMINATORS, variant
from i2i.models.layers import ConvNormAct, conv_bias, maybe_spectral_norm


class PatchDiscriminator(nn.Module):
    """PatchGAN: 4x4 convs that score overlapping patches (70x70 px for n_layers 3) as real or fake.

    Layout: conv stride 2 + LeakyReLU 0.2, then n_layers - 1 stride-2 conv/norm/LeakyReLU blocks, one stride-1
    conv/norm/LeakyReLU block, and a stride-1 conv to one channel; every conv has padding 1. Channels double per
    block from ndf up to 8 * ndf.
    """

    def __init__(
        self, *, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch", spectral_norm: bool = False
    ) -> None:
        """Args:
            in_channels: Channels of the input (6 for pix2pix's conditional [A, B] pair, 3 for CycleGAN).
            ndf: Channels of the first conv.
            n_layers: Number of stride-2 convs (>= 1); 3 is the 70x70 PatchGAN.
            norm: "batch", "instance" or "none".
            spectral_norm: Wrap every conv weight in spectral normalisation.
        """
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        conv_args: dict[str, Any] = {"kernel_size": 4, "padding": 1, "spectral_norm": spectral_norm}
        self.stem = ConvNormAct(
            in_channels=in_channels, out_channels=ndf, stride=2, norm="none", activation="leaky_relu", **conv_args
        )
        blocks = []
        channels = ndf
        for index in range(1, n_layers + 1):
            out = ndf * min(2**index, 8)
            stride = 2 if index < n_layers else 1
            blocks.append(
                ConvNormAct(
                    in_channels=channels, out_channels=out, stride=stride, norm=norm, activation="leaky_relu",
                    **conv_args,
                )
            )
            channels = out
        self.blocks = nn.ModuleList(blocks)
        self.head = maybe_spectral_norm(nn.Conv2d(channels, 1, 4, padding=1), spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score image patches.

        Args:
            x: (N, in_channels, H, W) images in [-1, 1].

        Returns:
            (N, 1, H', W') real/fake logits, one per patch (H' = H / 2**n_layers - 2 for H divisible by it).
        """
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return self.head(h)


NLayerDiscriminator = PatchDiscriminator


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN: scores every pixel independently (1x1 convs)."""

    def __init__(self, *, in_channels: int, ndf: int = 64, norm: str = "batch", spectral_norm: bool = False) -> None:
        """Args:
            in_channels: Channels of the input.
            ndf: Channels of the first conv.
            norm: "batch", "instance" or "none".
            spectral_norm: Wrap every conv weight in spectral normalisation.
        """
        super().__init__()
        self.stem = ConvNormAct(
            in_channels=in_channels, out_channels=ndf, kernel_size=1, norm="none", activation="leaky_relu",
            spectral_norm=spectral_norm,
        )
        self.block = ConvNormAct(
            in_channels=ndf, out_channels=2 * ndf, kernel_size=1, norm=norm, activation="leaky_relu",
            spectral_norm=spectral_norm,
        )
        head = nn.Conv2d(2 * ndf, 1, 1, bias=conv_bias(norm))
        self.head = maybe_spectral_norm(head, spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score pixels: (N, in_channels, H, W) images in [-1, 1] -> (N, 1, H, W) real/fake logits."""
        return self.head(self.block(self.stem(x)))


@DISCRIMINATORS.register("basic")
@variant("discriminator", PatchDiscriminator, n_layers=3)
def basic(**kwargs: Any) -> PatchDiscriminator:
    """The 70x70 PatchGAN (n_layers 3)."""


@DISCRIMINATORS.register("n_layers")
@variant("discriminator", PatchDiscriminator)
def n_layers(**kwargs: Any) -> PatchDiscriminator:
    """PatchGAN with `n_layers` stride-2 convs (default 3)."""


@DISCRIMINATORS.register("pixel")
@variant("discriminator", PixelDiscriminator)
def pixel(**kwargs: Any) -> PixelDiscriminator:
    """Per-pixel (1x1) discriminator."""
