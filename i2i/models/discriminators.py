"""Discriminators: the reference's PatchGAN (`NLayerDiscriminator`) and `PixelDiscriminator`, and pix2pixHD's
multi-scale PatchGAN.

Output contract: `forward(x)` returns the real/fake logits, a Tensor for single-scale discriminators and a list of
Tensors (one per scale, finest first) for :class:`MultiscaleDiscriminator`; the GAN losses take either.
PatchGANs also have `forward_features(x) -> list[list[Tensor]]` (scales x layers, the last entry of each scale
being its logits) for the feature-matching loss.
"""
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
        self,
        *,
        in_channels: int,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "batch",
        spectral_norm: bool = False,
        antialias: bool = False,
    ) -> None:
        """Args:
            in_channels: Channels of the input (6 for pix2pix's conditional [A, B] pair, 3 for CycleGAN).
            ndf: Channels of the first conv.
            n_layers: Number of stride-2 convs (>= 1); 3 is the 70x70 PatchGAN.
            norm: "batch", "instance" or "none".
            spectral_norm: Wrap every conv weight in spectral normalisation.
            antialias: CUT's default: each stride-2 conv becomes a stride-1 conv followed (after norm and LeakyReLU)
                by a blur-pool `Downsample`.
        """
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        conv_args: dict[str, Any] = {"kernel_size": 4, "padding": 1, "spectral_norm": spectral_norm,
                                     "antialias": antialias}
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
        return self.forward_features(x)[0][-1]

    def forward_features(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """Score image patches and keep every layer's output (feature matching).

        Returns:
            One scale: ``[[stem, block_1, ..., block_n_layers, logits]]``, n_layers + 1 feature maps then the logits.
        """
        features = [self.stem(x)]
        for block in self.blocks:
            features.append(block(features[-1]))
        features.append(self.head(features[-1]))
        return [features]

    @property
    def min_input_size(self) -> int:
        """Smallest height and width that give a logit map of at least 1x1."""
        return 3 * 2 ** len(self.blocks)


NLayerDiscriminator = PatchDiscriminator


def multiscale_min_input_size(num_D: int, n_layers: int) -> int:
    """Smallest image side a :class:`MultiscaleDiscriminator` of ``num_D`` scales of ``n_layers`` takes."""
    patch = 3 * 2**n_layers  # a PatchGAN needs 3 px left after its n_layers halvings
    # Each pooling maps s to ceil(s / 2), and ceil(s / 2**k) >= m  <=>  s >= 2**k * (m - 1) + 1.
    return 2 ** (num_D - 1) * (patch - 1) + 1


class MultiscaleDiscriminator(nn.Module):
    """pix2pixHD's multi-scale discriminator: ``num_D`` PatchGANs of one layout; scale k sees the input average-pooled
    k times (3x3, stride 2, padding 1, padding not counted), so coarser scales judge global structure.

    Unlike pix2pixHD (padding 2) every conv keeps the reference PatchGAN's padding 1, so scale 0 is exactly
    :class:`PatchDiscriminator`.
    """

    def __init__(self, *, in_channels: int, ndf: int = 64, n_layers: int = 3, num_D: int = 2, norm: str = "batch",
                 spectral_norm: bool = False) -> None:
        """Args:
            in_channels: Channels of the input (6 for pix2pix's conditional [A, B] pair, 3 for CycleGAN).
            ndf: Channels of the first conv of every scale.
            n_layers: Stride-2 convs per scale (>= 1).
            num_D: Number of scales, 1 to 4 (pix2pixHD: 2 by default, 3 for 2048 x 1024 px).
            norm: "batch", "instance" or "none".
            spectral_norm: Wrap every conv weight in spectral normalisation.
        """
        super().__init__()
        if not 1 <= num_D <= 4:
            raise ValueError(f"num_D must be 1 to 4 scales, got {num_D}")
        self.scales = nn.ModuleList(
            PatchDiscriminator(in_channels=in_channels, ndf=ndf, n_layers=n_layers, norm=norm,
                               spectral_norm=spectral_norm)
            for _ in range(num_D)
        )
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    @property
    def min_input_size(self) -> int:
        """Smallest height and width for which the coarsest scale still gives a 1x1 logit map."""
        return multiscale_min_input_size(len(self.scales), len(self.scales[0].blocks))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Score image patches at every scale.

        Args:
            x: (N, in_channels, H, W) images in [-1, 1], H and W at least :attr:`min_input_size`.

        Returns:
            num_D logit maps (N, 1, h_k, w_k), finest first.

        Raises:
            ValueError: The images are too small for the coarsest scale.
        """
        return [features[-1] for features in self.forward_features(x)]

    def forward_features(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """Every scale's layer outputs: ``num_D`` lists of n_layers + 1 feature maps followed by the logits."""
        self._check_size(x)
        outputs = []
        for index, scale in enumerate(self.scales):
            if index:
                x = self.downsample(x)
            outputs.extend(scale.forward_features(x))
        return outputs

    def _check_size(self, x: torch.Tensor) -> None:
        height, width = x.shape[-2:]
        need = self.min_input_size
        if min(height, width) < need:
            raise ValueError(f"multiscale discriminator: {width}x{height} px images are too small for num_D="
                             f"{len(self.scales)} with n_layers={len(self.scales[0].blocks)} (needs at least "
                             f"{need}x{need}); use larger images (data.crop_size) or fewer scales / layers")


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


@DISCRIMINATORS.register("multiscale")
@variant("discriminator", MultiscaleDiscriminator)
def multiscale(**kwargs: Any) -> MultiscaleDiscriminator:
    """pix2pixHD's multi-scale PatchGAN (``num_D`` scales, default 2); forward returns one logit map per scale."""


@DISCRIMINATORS.register("pixel")
@variant("discriminator", PixelDiscriminator)
def pixel(**kwargs: Any) -> PixelDiscriminator:
    """Per-pixel (1x1) discriminator."""
