"""Training algorithms: each owns its networks, losses and optimisers and exposes ``train_step(batch) -> dict``.

Register a new one with ``@ALGORITHMS.register("name")`` on an :class:`Algorithm` subclass; the config, trainer and
tools then know it (its options section, data needs and checks come from the class).
"""
from __future__ import annotations

from typing import Any

import torch

from i2i.algorithms.base import (AdamFactory, Algorithm, BuildContext, GeneratorSpec, LossLog, NetworkFactory,
                                 NoOptions)
from i2i.algorithms.cut import CUT, CUTOptions
from i2i.algorithms.cyclegan import CycleGAN, CycleGANOptions
from i2i.algorithms.image_pool import ImagePool
from i2i.algorithms.pix2pix import Pix2Pix, Pix2PixOptions
from i2i.losses import GANLoss
from i2i.registry import Registry

ALGORITHMS: Registry[type[Algorithm]] = Registry("algorithm")
ALGORITHMS.register("pix2pix")(Pix2Pix)
ALGORITHMS.register("cyclegan")(CycleGAN)
ALGORITHMS.register("cut")(CUT)


def build_context(cfg: Any, device: torch.device, precision) -> BuildContext:
    """The :class:`BuildContext` of a run's config (``model``, ``loss``, ``optim``, ``data``, ``train`` sections)."""
    model, optim = cfg.model, cfg.optim
    networks = NetworkFactory(model.generator, model.generator_settings(), model.discriminator,
                              model.discriminator_settings(), init=model.init, init_gain=model.init_gain)
    return BuildContext(device=device, precision=precision, in_channels=cfg.data.input_nc,
                        out_channels=cfg.data.output_nc, networks=networks,
                        make_optimizer=AdamFactory(optim.lr, (optim.beta1, optim.beta2), optim.adam_impl, device.type),
                        gan_loss=GANLoss(cfg.loss.gan_mode), gp_weight=cfg.loss.gp_weight,
                        grad_accum=cfg.train.grad_accum)


def build_algorithm(cfg: Any, device: torch.device, precision) -> Algorithm:
    """Build the algorithm named by ``cfg.model.algorithm`` with its options section, on ``device``."""
    cls = ALGORITHMS.get(cfg.model.algorithm)
    options = cfg.options if cfg.options is not None else cls.Options()
    return cls(options, build_context(cfg, device, precision))


__all__ = ["ALGORITHMS", "AdamFactory", "Algorithm", "BuildContext", "CUT", "CUTOptions", "CycleGAN", "CycleGANOptions",
           "GeneratorSpec", "ImagePool", "LossLog", "NetworkFactory", "NoOptions", "Pix2Pix", "Pix2PixOptions",
           "build_algorithm", "build_context"]
