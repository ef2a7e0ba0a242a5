"""Registries of networks and the checked keyword-argument construction behind the named variants."""
from __future__ import annotations

import inspect
from typing import Any, TypeVar

from torch import nn

from i2i.registry import Registry

GENERATORS: Registry = Registry("generator")
DISCRIMINATORS: Registry = Registry("discriminator")

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def keyword_arguments(cls: type) -> list[str]:
    """Names of the keyword arguments accepted by the constructor of `cls`."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]


def instantiate(kind: str, name: str, cls: type[ModuleT], kwargs: dict[str, Any], **fixed: Any) -> ModuleT:
    """Construct `cls(**kwargs, **fixed)` after checking the keyword names.

    Args:
        kind: "generator" or "discriminator", for messages.
        name: Registered name of the variant, for messages.
        cls: Network class.
        kwargs: User-given keyword arguments.
        **fixed: Arguments the variant pins (e.g. n_blocks=9 for "resnet_9blocks"); the user may not pass them.

    Raises:
        TypeError: An argument the network does not take, or one that the variant fixes.
    """
    accepted = keyword_arguments(cls)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        valid = ", ".join(a for a in accepted if a not in fixed)
        raise TypeError(f"{kind} '{name}' ({cls.__name__}) got unexpected arguments {unknown}; valid: {valid}")
    pinned = sorted(set(kwargs) & set(fixed))
    if pinned:
        given = ", ".join(f"{key}={fixed[key]!r}" for key in pinned)
        raise TypeError(f"{kind} '{name}' fixes {given}; use the generic variant to choose {', '.join(pinned)}")
    return cls(**kwargs, **fixed)


def build_generator(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered generator, e.g. `build_generator("unet_256", ngf=64, norm="batch")`.

    Raises:
        KeyError: Unknown name (the message lists the valid ones).
        TypeError: An argument the network does not take.
    """
    return GENERATORS.get(name)(**kwargs)


def build_discriminator(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered discriminator, e.g. `build_discriminator("basic", in_channels=6)`.

    Raises:
        KeyError: Unknown name (the message lists the valid ones).
        TypeError: An argument the network does not take.
    """
    return DISCRIMINATORS.get(name)(**kwargs)
