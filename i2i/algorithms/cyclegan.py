"""CycleGAN (Zhu et al. 2017): two generators and two discriminators trained on unpaired domains A and B."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from i2i.algorithms.base import Algorithm, BuildContext, GeneratorSpec, LossLog, set_requires_grad, split_batch
from i2i.algorithms.image_pool import ImagePool
from i2i.losses import cycle_loss, identity_loss


@dataclass
class CycleGANOptions:
    """The ``cyclegan`` config section.

    Attributes:
        lambda_cycle: weight of each direction's cycle-consistency L1 (10 in the paper).
        lambda_identity: identity-loss weight relative to ``lambda_cycle`` (0.5; 0 turns it off).
        pool_size: images kept in each history pool of fakes shown to the discriminators (0: no pool).
    """

    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50

    moved_from = {"loss.lambda_cycle": "lambda_cycle", "loss.lambda_identity": "lambda_identity",
                  "loss.pool_size": "pool_size"}


class CycleGAN(Algorithm):
    """G_A: A -> B, G_B: B -> A; D_A judges domain B, D_B judges domain A (the reference's naming).

    Per step, as in the reference: G phase (adversarial + cycle + identity, discriminators frozen), then D phase on
    real images and fakes drawn through the image pools, each D loss halved. One Adam for both generators, one
    for both discriminators.
    """

    Options = CycleGANOptions
    data_kind = "unpaired"

    @classmethod
    def validate(cls, options: CycleGANOptions, cfg: Any) -> None:
        if options.pool_size < 0:
            raise ValueError(f"cyclegan.pool_size: must be >= 0, got {options.pool_size}")
        if options.lambda_identity > 0 and cfg.data.input_nc != cfg.data.output_nc:
            raise ValueError("cyclegan.lambda_identity: identity loss needs data.input_nc == data.output_nc; "
                             "set it to 0")

    def __init__(self, options: CycleGANOptions, ctx: BuildContext) -> None:
        super().__init__(options, ctx)
        in_nc, out_nc = ctx.in_channels, ctx.out_channels
        self.specs = {"G_A": ctx.networks.generator_spec(in_nc, out_nc, "AtoB"),
                      "G_B": ctx.networks.generator_spec(out_nc, in_nc, "BtoA")}
        for name, spec in self.specs.items():
            self.add_net(name, spec.build())
        self.add_net("D_A", ctx.networks.build_discriminator(out_nc))
        self.add_net("D_B", ctx.networks.build_discriminator(in_nc))
        self.pools = {"fake_A": ImagePool(options.pool_size), "fake_B": ImagePool(options.pool_size)}
        self.optimizers = {
            "G": ctx.make_optimizer(itertools.chain(self.nets["G_A"].parameters(), self.nets["G_B"].parameters())),
            "D": ctx.make_optimizer(itertools.chain(self.nets["D_A"].parameters(), self.nets["D_B"].parameters())),
        }

    def _generator_losses(self, real_a: Tensor, real_b: Tensor) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        run, frozen, loss_cfg = self.run, self.frozen_run, self.options
        fake_b = run["G_A"](real_a)
        rec_a = run["G_B"](fake_b)
        fake_a = run["G_B"](real_b)
        rec_b = run["G_A"](fake_a)
        losses = {
            "G_A": self.gan_loss.g_loss(frozen["D_A"](fake_b)),
            "G_B": self.gan_loss.g_loss(frozen["D_B"](fake_a)),
            "cycle_A": cycle_loss(rec_a, real_a, loss_cfg.lambda_cycle),
            "cycle_B": cycle_loss(rec_b, real_b, loss_cfg.lambda_cycle),
        }
        if loss_cfg.lambda_identity > 0:
            losses["idt_A"] = identity_loss(run["G_A"](real_b), real_b, loss_cfg.lambda_cycle, loss_cfg.lambda_identity)
            losses["idt_B"] = identity_loss(run["G_B"](real_a), real_a, loss_cfg.lambda_cycle, loss_cfg.lambda_identity)
        return losses, fake_a.detach(), fake_b.detach()

    def train_step(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        chunks = split_batch(batch, self.grad_accum)
        k = len(chunks)
        logs = LossLog(k)

        # G phase.
        discriminators = [self.nets["D_A"], self.nets["D_B"]]
        set_requires_grad(discriminators, False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        fakes = []
        for c in chunks:
            with self.precision.autocast():
                losses, fake_a, fake_b = self._generator_losses(c["A"], c["B"])
            for name, value in losses.items():
                logs.add(name, value)
            self.precision.backward(sum(losses.values()) / k, "G")
            fakes.append((fake_a, fake_b))
        self.precision.step("G", self.optimizers["G"])

        # D phase.
        set_requires_grad(discriminators, True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        for c, (fake_a, fake_b) in zip(chunks, fakes):
            with self.precision.autocast():
                loss_d_a = self.discriminator_loss("D_A", c["B"], self.pools["fake_B"].query(fake_b))
                loss_d_b = self.discriminator_loss("D_B", c["A"], self.pools["fake_A"].query(fake_a))
            logs.add("D_A", loss_d_a)
            logs.add("D_B", loss_d_b)
            self.precision.backward((loss_d_a + loss_d_b) / k, "D")
        self.precision.step("D", self.optimizers["D"])
        return logs

    @torch.no_grad()
    def translate_visuals(self, batch: dict[str, Any], generators: Mapping[str, nn.Module]) -> dict[str, Tensor]:
        g_a, g_b = generators["G_A"], generators["G_B"]
        with self.precision.autocast():
            fake_b = g_a(batch["A"])
            rec_a = g_b(fake_b)
            fake_a = g_b(batch["B"])
            rec_b = g_a(fake_a)
        images = {"real_A": batch["A"], "fake_B": fake_b, "rec_A": rec_a,
                  "real_B": batch["B"], "fake_A": fake_a, "rec_B": rec_b}
        return {name: image.float() for name, image in images.items()}

    def generator_specs(self) -> dict[str, GeneratorSpec]:
        return dict(self.specs)

    def extra_state(self) -> dict[str, Any]:
        return {"pools": {name: pool.state_dict() for name, pool in self.pools.items()}}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        for name, pool_state in state.get("pools", {}).items():
            self.pools[name].load_state_dict(pool_state, self.device)
