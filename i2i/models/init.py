"""Weight initialisation as in the reference's `init_weights`."""
from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize

INIT_SCHEMES = ("normal", "xavier", "kaiming", "orthogonal")


def _weight_tensor(module: nn.Module) -> nn.Parameter:
    """The trainable weight of `module`: the original one when it is wrapped in spectral norm."""
    if parametrize.is_parametrized(module, "weight"):
        return module.parametrizations.weight.original
    return module.weight


def _init_conv_or_linear(module: nn.Module, scheme: str, gain: float) -> None:
    weight = _weight_tensor(module)
    if scheme == "normal":
        nn.init.normal_(weight, 0.0, gain)
    elif scheme == "xavier":
        nn.init.xavier_normal_(weight, gain=gain)
    elif scheme == "kaiming":
        nn.init.kaiming_normal_(weight, a=0, mode="fan_in")
    else:
        nn.init.orthogonal_(weight, gain=gain)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def init_weights(module: nn.Module, scheme: str = "normal", gain: float = 0.02) -> nn.Module:
    """Initialise every conv, linear and batch-norm layer of `module` in place.

    Conv and linear weights: "normal" ~ N(0, gain), "xavier" (normal, gain), "kaiming" (normal, fan_in, a=0) or
    "orthogonal" (gain); their biases are zeroed. Affine batch-norm weights ~ N(1, gain), biases 0.

    Args:
        module: The network to initialise.
        scheme: One of INIT_SCHEMES.
        gain: Standard deviation for "normal", gain for "xavier" and "orthogonal"; unused by "kaiming".

    Returns:
        The same module, for chaining.

    Raises:
        ValueError: Unknown scheme.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"init: unknown scheme '{scheme}'; valid: {', '.join(INIT_SCHEMES)}")
    for layer in module.modules():
        if isinstance(layer, (nn.modules.conv._ConvNd, nn.Linear)):
            _init_conv_or_linear(layer, scheme, gain)
        elif isinstance(layer, nn.modules.batchnorm._BatchNorm) and layer.affine:
            nn.init.normal_(layer.weight, 1.0, gain)
            nn.init.zeros_(layer.bias)
    return module
