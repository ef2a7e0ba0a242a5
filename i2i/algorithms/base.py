"""Common machinery of the GAN algorithms: networks, optimisers, wrapping for DDP/compile, state."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor, nn

from i2i.config import Config
from i2i.engine.precision import Precision
from i2i.losses import GANLoss
from i2i.models import build_discriminator, build_generator, init_weights


@dataclass
class GeneratorSpec:
    """What is needed to rebuild a generator without the training code (written to the export's config.json)."""

    name: str
    kwargs: dict[str, Any]
    direction: str  # "AtoB" or "BtoA", in the dataset's domain names after data.direction is applied

    def build(self) -> nn.Module:
        return build_generator(self.name, **self.kwargs)


def generator_spec(cfg: Config, in_channels: int, out_channels: int, direction: str) -> GeneratorSpec:
    kwargs: dict[str, Any] = {"in_channels": in_channels, "out_channels": out_channels, "ngf": cfg.model.ngf,
                              "norm": cfg.model.norm, "use_dropout": cfg.model.dropout}
    if cfg.model.generator.startswith("resnet"):
        kwargs["upsample"] = cfg.model.upsample
    if cfg.model.generator == "resnet":
        kwargs["n_blocks"] = cfg.model.n_blocks
    if cfg.model.generator == "unet":
        kwargs["num_downs"] = cfg.model.num_downs
    return GeneratorSpec(cfg.model.generator, kwargs, direction)


def build_patch_discriminator(cfg: Config, in_channels: int) -> nn.Module:
    kwargs: dict[str, Any] = {"in_channels": in_channels, "ndf": cfg.model.ndf,
                              "norm": cfg.model.norm if cfg.model.norm_d == "same" else cfg.model.norm_d}
    if cfg.model.discriminator != "pixel":
        kwargs["spectral_norm"] = cfg.model.spectral_norm
    if cfg.model.discriminator == "n_layers":
        kwargs["n_layers"] = cfg.model.n_layers_d
    return build_discriminator(cfg.model.discriminator, **kwargs)


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


def make_adam(params, cfg: Config, device: torch.device) -> torch.optim.Adam:
    impl = cfg.optim.adam_impl
    kwargs: dict[str, Any] = {}
    if impl == "fused" or (impl == "auto" and device.type == "cuda"):
        kwargs["fused"] = True
    elif impl == "foreach":
        kwargs["foreach"] = True
    elif impl == "loop":
        kwargs["foreach"] = False
    return torch.optim.Adam(params, lr=cfg.optim.lr, betas=(cfg.optim.beta1, cfg.optim.beta2), **kwargs)


class Algorithm:
    """An image-translation GAN: owns its networks, losses and optimisers and runs one training step.

    Subclasses fill ``self.nets`` (name -> module) and ``self.optimizers`` (name -> optimiser) and implement
    :meth:`train_step`, :meth:`translate_visuals` and :meth:`generator_specs`. The trainer may replace the
    callables in ``self.run`` (DDP and/or torch.compile wrappers) and ``self.frozen_run`` (compile only, used
    where discriminators are frozen) through :meth:`prepare`; ``self.nets`` always holds the plain modules that
    get saved.
    """

    def __init__(self, cfg: Config, device: torch.device, precision: Precision) -> None:
        self.cfg = cfg
        self.device = device
        self.precision = precision
        self.grad_accum = cfg.train.grad_accum
        self.gan_loss = GANLoss(cfg.loss.gan_mode)
        self.nets: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.run: dict[str, Callable[[Tensor], Tensor]] = {}
        self.frozen_run: dict[str, Callable[[Tensor], Tensor]] = {}

    def _add_net(self, name: str, net: nn.Module) -> None:
        init_weights(net, scheme=self.cfg.model.init, gain=self.cfg.model.init_gain)
        net.to(self.device)
        self.nets[name] = net
        self.run[name] = net
        self.frozen_run[name] = net

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

    # Subclass API.

    def train_step(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """One D and G update on a batch {"A": (N, C_in, H, W), "B": (N, C_out, H, W)} in [-1, 1].

        Returns:
            Detached scalar losses by name.
        """
        raise NotImplementedError

    @torch.no_grad()
    def translate_visuals(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Images for sample grids, name -> (N, C, H, W) in [-1, 1]."""
        raise NotImplementedError

    def generator_specs(self) -> dict[str, GeneratorSpec]:
        """Exportable generators: net name -> spec."""
        raise NotImplementedError

    def extra_state(self) -> dict[str, Any]:
        """State beyond networks and optimisers (image pools)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass
