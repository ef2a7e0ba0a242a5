"""Common machinery of the GAN algorithms: the build context, networks, optimisers, wrapping for DDP/compile.

An algorithm is a plug-in: a subclass of :class:`Algorithm` registered in ``i2i.algorithms.ALGORITHMS`` with

- ``Options``: a dataclass for its own config section (YAML key = its registry name), e.g. ``pix2pix: {lambda_l1}``;
- ``data_kind``: the training data it needs ("paired", "unpaired" or "single"), checked against the dataset layout;
- ``validate(options, cfg)``: cross-checks raising ``ValueError("<key>: ...")``;
- ``__init__(options, ctx)`` with a :class:`BuildContext` (never the whole config) and ``train_step(batch)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import Tensor, nn

from i2i.losses import GANLoss, gradient_penalty
from i2i.models import DISCRIMINATORS, GENERATORS, build_generator, init_weights
from i2i.models._builder import accepted_settings, build_from_settings
from i2i.runtime import Precision


@dataclass
class GeneratorSpec:
    """What is needed to rebuild a generator without the training code (written to the export's config.json)."""

    name: str
    kwargs: dict[str, Any]
    direction: str  # "AtoB" or "BtoA", in the dataset's domain names after data.direction is applied

    def build(self) -> nn.Module:
        return build_generator(self.name, **self.kwargs)


@dataclass
class NetworkFactory:
    """Builds the run's generators and discriminators from registry names and settings (``model`` section).

    Each network receives the settings its constructor accepts (see ``i2i.models._builder.build_from_settings``).
    """

    generator: str
    generator_settings: dict[str, Any]
    discriminator: str
    discriminator_settings: dict[str, Any]
    init: str = "normal"
    init_gain: float = 0.02

    def generator_spec(self, in_channels: int, out_channels: int, direction: str) -> GeneratorSpec:
        kwargs = {"in_channels": in_channels, "out_channels": out_channels,
                  **accepted_settings(GENERATORS, self.generator, self.generator_settings)}
        return GeneratorSpec(self.generator, kwargs, direction)

    def build_discriminator(self, in_channels: int) -> nn.Module:
        return build_from_settings(DISCRIMINATORS, self.discriminator, self.discriminator_settings,
                                   in_channels=in_channels)


@dataclass
class AdamFactory:
    """Adam with the run's learning rate, betas and implementation (fused on CUDA with ``auto``)."""

    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    impl: str = "auto"
    device_type: str = "cpu"

    def __call__(self, params: Iterable[nn.Parameter]) -> torch.optim.Adam:
        kwargs: dict[str, Any] = {}
        if self.impl == "fused" or (self.impl == "auto" and self.device_type == "cuda"):
            kwargs["fused"] = True
        elif self.impl == "foreach":
            kwargs["foreach"] = True
        elif self.impl == "loop":
            kwargs["foreach"] = False
        return torch.optim.Adam(params, lr=self.lr, betas=self.betas, **kwargs)


@dataclass
class BuildContext:
    """Everything an algorithm gets from its run besides its own options.

    Attributes:
        in_channels, out_channels: channels of the A (input) and B (target) images.
        networks: builds generators and discriminators named in the ``model`` section.
        make_optimizer: ``params -> Optimizer`` (Adam with the ``optim`` settings).
        gan_loss: the ``loss.gan_mode`` objective; ``gp_weight`` its WGAN-GP penalty weight.
        grad_accum: micro-batches per step (``train.grad_accum``).
    """

    device: torch.device
    precision: Precision
    in_channels: int
    out_channels: int
    networks: NetworkFactory
    make_optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
    gan_loss: GANLoss
    gp_weight: float = 10.0
    grad_accum: int = 1


@dataclass
class NoOptions:
    """An algorithm without options of its own."""


def split_batch(batch: dict[str, Any], parts: int) -> list[dict[str, Any]]:
    """Split every tensor of a batch into ``parts`` micro-batches along dim 0 (gradient accumulation)."""
    if parts == 1:
        return [batch]
    size = next(v for v in batch.values() if isinstance(v, Tensor)).size(0)
    if size % parts:
        raise ValueError(f"train.grad_accum={parts} does not divide the per-process batch size {size}")
    return [{k: v.chunk(parts)[i] if isinstance(v, Tensor) else v for k, v in batch.items()} for i in range(parts)]


class LossLog(dict):
    """Detached float losses averaged over the ``parts`` micro-batches of one step (name -> scalar tensor)."""

    def __init__(self, parts: int) -> None:
        super().__init__()
        self.parts = parts

    def add(self, name: str, value: Tensor) -> None:
        self[name] = self.get(name, 0) + value.detach().float() / self.parts


def set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


class Algorithm:
    """An image-translation GAN: owns its networks, losses and optimisers and runs one training step.

    Subclasses fill ``self.nets`` (name -> module, via :meth:`add_net`) and ``self.optimizers`` (name ->
    optimiser) and implement :meth:`train_step`, :meth:`translate_visuals` and :meth:`generator_specs`. The trainer
    may replace the callables in ``self.run`` (DDP and/or torch.compile wrappers) and ``self.frozen_run`` (compile
    only, used where discriminators are frozen) through :meth:`prepare`; ``self.nets`` always holds the plain
    modules that get saved.
    """

    Options: type = NoOptions
    data_kind: str = "paired"

    @classmethod
    def validate(cls, options: Any, cfg: Any) -> None:
        """Cross-checks of ``options`` against the run's config; raise ``ValueError("<key>: ...")``."""

    def __init__(self, options: Any, ctx: BuildContext) -> None:
        self.options = options
        self.ctx = ctx
        self.device = ctx.device
        self.precision = ctx.precision
        self.grad_accum = ctx.grad_accum
        self.gan_loss = ctx.gan_loss
        self.nets: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.run: dict[str, Callable[[Tensor], Any]] = {}
        self.frozen_run: dict[str, Callable[[Tensor], Any]] = {}

    def add_net(self, name: str, net: nn.Module) -> nn.Module:
        """Initialise ``net`` with the run's scheme, move it to the device and register it under ``name``."""
        init_weights(net, scheme=self.ctx.networks.init, gain=self.ctx.networks.init_gain)
        net.to(self.device)
        self.nets[name] = net
        self.run[name] = net
        self.frozen_run[name] = net
        return net

    def prepare(self, *, channels_last: bool = False, compile_mode: str | None = None,
                wrap_trained: Callable[[nn.Module], nn.Module] | None = None) -> None:
        """Set up the networks for speed: channels_last weights, then the callables used in :meth:`train_step`.

        Args:
            channels_last: store conv weights as NHWC (inputs should then be channels_last too).
            compile_mode: ``torch.compile`` mode for every callable; None runs eagerly.
            wrap_trained: wraps the trained callables inside compile (e.g. DistributedDataParallel); the frozen
                callables (discriminators in the G phase) stay unwrapped.
        """
        if channels_last:
            for net in self.nets.values():
                net.to(memory_format=torch.channels_last)

        def compiled(module: nn.Module) -> Callable[[Tensor], Tensor]:
            return module if compile_mode is None else torch.compile(module, mode=compile_mode)

        for name, net in self.nets.items():
            self.run[name] = compiled(wrap_trained(net) if wrap_trained is not None else net)
            self.frozen_run[name] = compiled(net)

    def train(self, mode: bool = True) -> None:
        for net in self.nets.values():
            net.train(mode)

    def discriminator_loss(self, name: str, real: Tensor, fake: Tensor) -> Tensor:
        """Loss of discriminator ``name`` on real and (detached) fake images, plus WGAN-GP's penalty in that mode.

        D sees the fakes first, then the reals (the reference's order, which matters for batch-norm statistics).
        """
        pred_fake = self.run[name](fake)
        pred_real = self.run[name](real)
        loss = self.gan_loss.d_loss(pred_real, pred_fake)
        if self.gan_loss.mode == "wgangp":
            loss = loss + gradient_penalty(self.run[name], real, fake, self.ctx.gp_weight)
        return loss

    # Subclass API.

    def train_step(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """One D and G update on a batch {"A": (N, C_in, H, W), "B": (N, C_out, H, W)} in [-1, 1].

        Returns:
            Detached scalar losses by name.
        """
        raise NotImplementedError

    @torch.no_grad()
    def translate_visuals(self, batch: dict[str, Any], generators: Mapping[str, nn.Module]) -> dict[str, Tensor]:
        """Images for sample grids, name -> (N, C, H, W) in [-1, 1].

        Args:
            generators: the generator modules to use by net name (the trained ones, or their EMA copies).
        """
        raise NotImplementedError

    def generator_specs(self) -> dict[str, GeneratorSpec]:
        """Exportable generators: net name -> spec. The first one is the one validation scores."""
        raise NotImplementedError

    def extra_state(self) -> dict[str, Any]:
        """State beyond networks and optimisers (image pools)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass
