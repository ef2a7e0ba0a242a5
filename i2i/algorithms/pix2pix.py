"""pix2pix (Isola et al. 2017): a conditional GAN with an L1 term, trained on aligned pairs A -> B; optionally with
pix2pixHD's discriminator feature matching (Wang et al. 2018)."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from i2i.algorithms.base import Algorithm, BuildContext, GeneratorSpec, LossLog, set_requires_grad, split_batch
from i2i.losses import feature_matching_loss, l1_loss


@dataclass
class Pix2PixOptions:
    """The ``pix2pix`` config section.

    Attributes:
        lambda_l1: weight of the L1 term between fake and real B (100 in the paper).
        lambda_feat: weight of the feature-matching loss between D's intermediate features on the real and the fake
            pair (pix2pixHD: 10 with ``model.discriminator: multiscale``); 0 turns it off.
    """

    lambda_l1: float = 100.0
    lambda_feat: float = 0.0

    moved_from = {"loss.lambda_l1": "lambda_l1"}


class Pix2Pix(Algorithm):
    """G: A -> B; D sees (A, B) concatenated on channels. G loss = GAN + lambda_l1 * L1; D loss halved.

    Order per step, as in the reference: generate, update D on (real pair, detached fake pair), update G with D
    frozen. With ``train.grad_accum`` k > 1 the batch is split in k micro-batches and G runs again in the G phase.
    """

    Options = Pix2PixOptions
    data_kind = "paired"

    @classmethod
    def validate(cls, options: Pix2PixOptions, cfg: Any) -> None:
        if options.lambda_feat < 0:
            raise ValueError(f"pix2pix.lambda_feat: must be >= 0 (0 = no feature matching), got {options.lambda_feat}")

    def __init__(self, options: Pix2PixOptions, ctx: BuildContext) -> None:
        super().__init__(options, ctx)
        self.spec = ctx.networks.generator_spec(ctx.in_channels, ctx.out_channels, "AtoB")
        self.add_net("G", self.spec.build())
        self.add_net("D", ctx.networks.build_discriminator(ctx.in_channels + ctx.out_channels))
        if options.lambda_feat > 0 and not hasattr(self.nets["D"], "forward_features"):
            raise ValueError(f"pix2pix.lambda_feat: discriminator '{ctx.networks.discriminator}' has no intermediate "
                             f"features to match; use model.discriminator=multiscale (or basic, n_layers) or set "
                             f"pix2pix.lambda_feat=0")
        self.optimizers = {"G": ctx.make_optimizer(self.nets["G"].parameters()),
                           "D": ctx.make_optimizer(self.nets["D"].parameters())}

    def _d_loss(self, real_a: Tensor, real_b: Tensor, fake_b: Tensor) -> Tensor:
        return self.discriminator_loss("D", torch.cat([real_a, real_b], 1), torch.cat([real_a, fake_b], 1))

    def train_step(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        chunks = split_batch(batch, self.grad_accum)
        k = len(chunks)
        logs = LossLog(k)

        # Generate: kept with its graph when the G phase can reuse it (k == 1).
        with contextlib.nullcontext() if k == 1 else torch.no_grad(), self.precision.autocast():
            fakes = [self.run["G"](c["A"]) for c in chunks]

        # D phase.
        set_requires_grad([self.nets["D"]], True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        for c, fake_b in zip(chunks, fakes):
            with self.precision.autocast():
                loss_d = self._d_loss(c["A"], c["B"], fake_b.detach())
            logs.add("D", loss_d)
            self.precision.backward(loss_d / k, "D")
        self.precision.step("D", self.optimizers["D"])

        # G phase.
        set_requires_grad([self.nets["D"]], False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        for c, fake_b in zip(chunks, fakes):
            with self.precision.autocast():
                if k > 1:
                    fake_b = self.run["G"](c["A"])
                loss_gan, loss_feat = self._g_adversarial(c["A"], c["B"], fake_b)
                loss_l1 = l1_loss(fake_b, c["B"]) * self.options.lambda_l1
            logs.add("G_GAN", loss_gan)
            logs.add("G_L1", loss_l1)
            loss_g = loss_gan + loss_l1
            if loss_feat is not None:
                logs.add("G_feat", loss_feat)
                loss_g = loss_g + loss_feat
            self.precision.backward(loss_g / k, "G")
        self.precision.step("G", self.optimizers["G"])
        set_requires_grad([self.nets["D"]], True)
        return logs

    def _g_adversarial(self, real_a: Tensor, real_b: Tensor, fake_b: Tensor) -> tuple[Tensor, Tensor | None]:
        """G's GAN loss on the fake pair and, with ``lambda_feat``, the feature-matching loss (else None)."""
        fake_pair = torch.cat([real_a, fake_b], 1)
        if self.options.lambda_feat == 0:
            return self.gan_loss.g_loss(self.frozen_run["D"](fake_pair)), None
        # The plain module: forward_features is not the wrapped forward; D is frozen here, so no DDP is needed.
        fake_features = self.nets["D"].forward_features(fake_pair)
        with torch.no_grad():
            real_features = self.nets["D"].forward_features(torch.cat([real_a, real_b], 1))
        loss_gan = self.gan_loss.g_loss([features[-1] for features in fake_features])
        return loss_gan, feature_matching_loss(real_features, fake_features, self.options.lambda_feat)

    @torch.no_grad()
    def translate_visuals(self, batch: dict[str, Any], generators: Mapping[str, nn.Module]) -> dict[str, Tensor]:
        with self.precision.autocast():
            fake_b = generators["G"](batch["A"]).float()
        return {"real_A": batch["A"], "fake_B": fake_b, "real_B": batch["B"]}

    def generator_specs(self) -> dict[str, GeneratorSpec]:
        return {"G": self.spec}
