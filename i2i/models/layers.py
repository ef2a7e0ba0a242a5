"""Building blocks shared by the generators and discriminators: norm/activation factories, ConvNormAct and the
anti-aliased (blur) down/upsampling layers of CUT."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm

NORMS = ("instance", "batch", "none")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "none")
PADDING_TYPES = {"reflect": "reflect", "replicate": "replicate", "zero": "zeros"}


def get_norm_layer(norm: str, num_channels: int) -> nn.Module:
    """Build a 2-D normalisation layer by name, as the reference configures them.

    Args:
        norm: "instance" (InstanceNorm2d without affine parameters or running statistics), "batch" (BatchNorm2d
            with affine parameters and running statistics) or "none" (Identity).
        num_channels: Number of feature channels to normalise.

    Raises:
        ValueError: The name is not one of NORMS.
    """
    if norm == "instance":
        return nn.InstanceNorm2d(num_channels, affine=False, track_running_stats=False)
    if norm == "batch":
        return nn.BatchNorm2d(num_channels, affine=True, track_running_stats=True)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm: unknown norm '{norm}'; valid: {', '.join(NORMS)}")


def conv_bias(norm: str) -> bool:
    """Whether a conv followed by `norm` has a bias: not before batch norm, whose shift makes it redundant."""
    get_norm_layer(norm, 1)  # Validates the name.
    return norm != "batch"


def get_activation(activation: str) -> nn.Module:
    """Build an activation by name: "relu", "leaky_relu" (slope 0.2, as in pix2pix), "tanh" or "none"."""
    if activation == "relu":
        return nn.ReLU(inplace=True)
    if activation == "leaky_relu":
        return nn.LeakyReLU(0.2, inplace=True)
    if activation == "tanh":
        return nn.Tanh()
    if activation == "none":
        return nn.Identity()
    raise ValueError(f"activation: unknown activation '{activation}'; valid: {', '.join(ACTIVATIONS)}")


def get_padding_mode(padding_type: str) -> str:
    """Map the reference's padding_type ("reflect", "replicate", "zero") onto a Conv2d padding_mode."""
    if padding_type not in PADDING_TYPES:
        raise ValueError(f"padding_type: unknown padding '{padding_type}'; valid: {', '.join(PADDING_TYPES)}")
    return PADDING_TYPES[padding_type]


def maybe_spectral_norm(module: nn.Module, enabled: bool) -> nn.Module:
    """Wrap the weight of `module` in a spectral-norm parametrisation when `enabled`."""
    return apply_spectral_norm(module) if enabled else module


def _binomial_filter(taps: tuple[float, ...], channels: int, scale: float = 1.0) -> torch.Tensor:
    """(channels, 1, k, k) depthwise filter: the outer product of `taps` with itself, summing to `scale`."""
    row = torch.tensor(taps, dtype=torch.float32)
    kernel = row[:, None] * row[None, :]
    return (kernel / kernel.sum() * scale)[None, None].repeat(channels, 1, 1, 1)


class Downsample(nn.Module):
    """Anti-aliased stride-2 downsampling (blur pool, Zhang 2019), as CUT's `Downsample`.

    Reflect-pad 1, then a depthwise 3x3 blur with the normalised [1, 2, 1] x [1, 2, 1] filter at stride 2. The
    filter is a buffer `filt` of shape (channels, 1, 3, 3) kept in the state_dict, as in CUT's checkpoints.
    """

    def __init__(self, *, channels: int) -> None:
        """Args:
            channels: Feature channels (unchanged).
        """
        super().__init__()
        self.register_buffer("filt", _binomial_filter((1.0, 2.0, 1.0), channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, C, H, W) features to (N, C, floor((H - 1) / 2) + 1, floor((W - 1) / 2) + 1)."""
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


class Upsample(nn.Module):
    """Anti-aliased x2 upsampling, as CUT's `Upsample`.

    Replicate-pad 1, a depthwise stride-2 transposed conv with the [1, 3, 3, 1] x [1, 3, 3, 1] filter normalised to
    sum 4 (padding 2), then the first and last row and column are cropped. The filter is a buffer `filt` of shape
    (channels, 1, 4, 4) kept in the state_dict, as in CUT's checkpoints.
    """

    def __init__(self, *, channels: int) -> None:
        """Args:
            channels: Feature channels (unchanged).
        """
        super().__init__()
        self.register_buffer("filt", _binomial_filter((1.0, 3.0, 3.0, 1.0), channels, scale=4.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, C, H, W) features to (N, C, 2H, 2W)."""
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
        return F.conv_transpose2d(padded, self.filt, stride=2, padding=2, groups=x.shape[1])[:, :, 1:-1, 1:-1]


class ConvNormAct(nn.Module):
    """Conv2d, then a norm layer, then an activation; with `antialias`, then a blur-pool `Downsample`.

    Padding other than zeros is done by the conv's `padding_mode`, which equals an explicit ReflectionPad2d /
    ReplicationPad2d before an unpadded conv.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        padding_mode: str = "zeros",
        norm: str = "none",
        activation: str = "relu",
        bias: bool | None = None,
        spectral_norm: bool = False,
        antialias: bool = False,
    ) -> None:
        """Args:
            in_channels: Input feature channels.
            out_channels: Output feature channels.
            kernel_size: Square kernel size.
            stride: Conv stride.
            padding: Padding on each side.
            padding_mode: Conv2d padding mode: "zeros", "reflect" or "replicate".
            norm: Norm name, see `get_norm_layer`.
            activation: Activation name, see `get_activation`.
            bias: Whether the conv has a bias; by default only when `norm` is not batch norm.
            spectral_norm: Wrap the conv weight in spectral normalisation.
            antialias: With stride 2, run the conv at stride 1 and downsample after the activation with a blur-pool
                `Downsample` (module `downsample`), as CUT's anti-aliased layers; no effect at stride 1.
        """
        super().__init__()
        bias = conv_bias(norm) if bias is None else bias
        blur = antialias and stride == 2
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, 1 if blur else stride, padding, bias=bias,
                         padding_mode=padding_mode)
        self.conv = maybe_spectral_norm(conv, spectral_norm)
        self.norm = get_norm_layer(norm, out_channels)
        self.act = get_activation(activation)
        self.downsample = Downsample(channels=out_channels) if blur else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N, in_channels, H, W) features to (N, out_channels, H', W')."""
        return self.downsample(self.act(self.norm(self.conv(x))))


def check_spatial_size(x: torch.Tensor, multiple: int, network: str) -> None:
    """Raise ValueError when the height or width of `x` (N, C, H, W) is not a multiple of `multiple`.

    Skipped while tracing or compiling so that exported graphs keep dynamic shapes.
    """
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return
    if x.dim() != 4:
        raise ValueError(f"{network}: expected an (N, C, H, W) tensor, got shape {tuple(x.shape)}")
    height, width = x.shape[-2:]
    if height % multiple or width % multiple:
        raise ValueError(f"{network}: input height and width must be multiples of {multiple}, got {height}x{width}")
