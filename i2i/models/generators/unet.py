"""U-Net generator, the pix2pix default: the reference's recursive `UnetGenerator`, written as a list of levels."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from i2i.models._builder import GENERATORS, variant
from i2i.models.layers import check_spatial_size, conv_bias, get_norm_layer

MIN_DOWNS = 5


class UnetLevel(nn.Module):
    """One resolution level: a 4x4 stride-2 conv on the way down and a 4x4 stride-2 transposed conv on the way up.

    The outermost level has no norms (its up path ends in tanh); the innermost has no down norm and its up conv
    reads only its own down output, every other level's up conv reads [skip, deeper output] concatenated.
    """

    def __init__(
        self, *, outer_channels: int, inner_channels: int, in_channels: int, norm: str, position: str, use_dropout: bool
    ) -> None:
        """Args:
            outer_channels: Channels this level returns on the way up (the image channels at the outermost).
            inner_channels: Channels of the down conv output.
            in_channels: Channels of this level's input (the image channels at the outermost, else outer_channels).
            norm: Norm name, see `get_norm_layer`.
            position: "outermost", "middle" or "innermost".
            use_dropout: Dropout (p=0.5) after the up norm.
        """
        super().__init__()
        bias = conv_bias(norm)
        self.down_conv = nn.Conv2d(in_channels, inner_channels, 4, stride=2, padding=1, bias=bias)
        self.down_norm = get_norm_layer(norm, inner_channels) if position == "middle" else nn.Identity()
        up_in = inner_channels if position == "innermost" else 2 * inner_channels
        up_bias = True if position == "outermost" else bias
        self.up_conv = nn.ConvTranspose2d(up_in, outer_channels, 4, stride=2, padding=1, bias=up_bias)
        self.up_norm = get_norm_layer(norm, outer_channels) if position != "outermost" else nn.Identity()
        self.dropout = nn.Dropout(0.5) if use_dropout else nn.Identity()

    def down(self, x: torch.Tensor) -> torch.Tensor:
        """Halve the resolution: (N, in_channels, H, W) -> (N, inner_channels, H/2, W/2)."""
        return self.down_norm(self.down_conv(x))

    def up(self, x: torch.Tensor) -> torch.Tensor:
        """Double the resolution: (N, up_in, H, W) -> (N, outer_channels, 2H, 2W), before the level's activation."""
        return self.dropout(self.up_norm(self.up_conv(x)))


class UnetGenerator(nn.Module):
    """Encoder-decoder with skip connections between mirrored levels, 1x1 at the bottleneck for 2**num_downs px.

    Attributes:
        size_multiple: Input height and width must be multiples of 2**num_downs.
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        num_downs: int = 8,
        ngf: int = 64,
        norm: str = "batch",
        use_dropout: bool = False,
    ) -> None:
        """Args:
            in_channels: Channels of the input image.
            out_channels: Channels of the output image.
            num_downs: Number of stride-2 downsamplings (7 for 128 px, 8 for 256 px); at least 5.
            ngf: Channels after the first conv; doubled per level up to 8 * ngf.
            norm: "batch", "instance" or "none".
            use_dropout: Dropout (p=0.5) in the num_downs - 5 decoder levels next to the innermost one.
        """
        super().__init__()
        if num_downs < MIN_DOWNS:
            raise ValueError(f"num_downs must be >= {MIN_DOWNS}, got {num_downs}")
        self.size_multiple = 2**num_downs
        levels = []
        for index in range(num_downs):
            inner = ngf * min(2**index, 8)
            outer = out_channels if index == 0 else ngf * min(2 ** (index - 1), 8)
            position = "outermost" if index == 0 else "innermost" if index == num_downs - 1 else "middle"
            levels.append(
                UnetLevel(
                    outer_channels=outer,
                    inner_channels=inner,
                    in_channels=in_channels if index == 0 else outer,
                    norm=norm,
                    position=position,
                    use_dropout=use_dropout and MIN_DOWNS - 1 <= index < num_downs - 1,
                )
            )
        self.levels = nn.ModuleList(levels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate images.

        Args:
            x: (N, in_channels, H, W) images in [-1, 1]; H and W multiples of `size_multiple`.

        Returns:
            (N, out_channels, H, W) images in [-1, 1].
        """
        check_spatial_size(x, self.size_multiple, type(self).__name__)
        skips = []
        h = self.levels[0].down(x)
        for level in self.levels[1:]:
            skips.append(h)
            h = level.down(F.leaky_relu(h, 0.2))
        for level in reversed(self.levels[1:]):
            h = torch.cat([skips.pop(), level.up(F.relu(h))], dim=1)
        return torch.tanh(self.levels[0].up(F.relu(h)))


@GENERATORS.register("unet")
@variant("generator", UnetGenerator)
def unet(**kwargs: Any) -> UnetGenerator:
    """U-Net with any depth (`num_downs`, default 8)."""


@GENERATORS.register("unet_128")
@variant("generator", UnetGenerator, num_downs=7)
def unet_128(**kwargs: Any) -> UnetGenerator:
    """U-Net with 7 downsamplings, for 128 px images."""


@GENERATORS.register("unet_256")
@variant("generator", UnetGenerator, num_downs=8)
def unet_256(**kwargs: Any) -> UnetGenerator:
    """U-Net with 8 downsamplings, for 256 px images (pix2pix)."""
