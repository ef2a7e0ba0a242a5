"""Registries of networks and the checked keyword-argument construction behind the named variants."""
from __future__ import annotations

import functools
import inspect
import typing
from typing import Any, Callable, TypeVar

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


def variant(kind: str, cls: type[ModuleT], **fixed: Any) -> Callable[[Callable[..., Any]], Callable[..., ModuleT]]:
    """Turn a documented stub ``def name(**kwargs) -> Cls`` into a named variant of ``cls`` with ``fixed`` arguments.

    The variant checks keyword names (see :func:`instantiate`) and records ``network_class`` and
    ``fixed_arguments``, from which :func:`accepted_arguments` knows what a config may pass to it.
    """
    def decorate(stub: Callable[..., Any]) -> Callable[..., ModuleT]:
        @functools.wraps(stub)
        def build(**kwargs: Any) -> ModuleT:
            return instantiate(kind, stub.__name__, cls, kwargs, **fixed)

        build.network_class = cls  # type: ignore[attr-defined]
        build.fixed_arguments = dict(fixed)  # type: ignore[attr-defined]
        return build

    return decorate


def accepted_arguments(factory: Callable[..., Any]) -> set[str]:
    """Keyword arguments a registered network factory takes (for building it from a config's settings).

    Uses the variant's class and fixed arguments (:func:`variant`); else the factory's own keyword parameters; else,
    for a ``**kwargs`` factory, its return annotation's constructor.
    """
    if hasattr(factory, "network_class"):
        return set(keyword_arguments(factory.network_class)) - set(factory.fixed_arguments)
    parameters = inspect.signature(factory).parameters.values()
    if isinstance(factory, type):
        return set(keyword_arguments(factory))
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        returned = typing.get_type_hints(factory).get("return")
        if isinstance(returned, type):
            return set(keyword_arguments(returned))
    return {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def accepted_settings(registry: Registry, name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The part of ``settings`` that ``registry[name]``'s constructor accepts (the others are ignored).

    This is how a config's network settings (``ngf``, ``norm``, ``n_blocks`` ...) reach networks whose
    constructors differ: driven by each entry's signature.
    """
    accepted = accepted_arguments(registry.get(name))
    return {k: v for k, v in settings.items() if k in accepted}


def build_from_settings(registry: Registry, name: str, settings: dict[str, Any], **required: Any) -> nn.Module:
    """Build ``registry[name]`` with ``required`` plus the ``settings`` it accepts (:func:`accepted_settings`)."""
    return registry.get(name)(**accepted_settings(registry, name, settings), **required)


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
