"""CUT and FastCUT (Park et al., ECCV 2020): contrastive unpaired translation with one generator and one critic.

G: A -> B is trained by an adversarial loss and PatchNCE: patches of G(x) must match the patches of x at the same
positions rather than other patches of x (in the features of G's own encoder, projected by the heads F). CUT adds
the same loss on G(y) for y in B (identity NCE); FastCUT drops it, weights PatchNCE by 10 and enforces flip
equivariance instead.
"""
from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

import torch
from torch import Tensor, nn

from i2i.algorithms.base import (Algorithm, BuildContext, GeneratorSpec, LossLog, NetworkFactory, set_requires_grad,
                                 split_batch)
from i2i.losses import PatchSampler, patch_nce_loss, sample_patch_ids
from i2i.models import supports_feature_taps

# mode -> the paper's settings for the options left unset (None).
PRESETS: dict[str, dict[str, Any]] = {
    "cut": {"lambda_nce": 1.0, "nce_idt": True, "flip_equivariance": False},
    "fastcut": {"lambda_nce": 10.0, "nce_idt": False, "flip_equivariance": True},
}


@dataclass
class CUTOptions:
    """The ``cut`` config section. Options left null take the ``mode``'s preset (CUT or FastCUT, as in the paper).

    Attributes:
        mode: "cut" (lambda_nce 1, identity NCE) or "fastcut" (lambda_nce 10, no identity NCE, flip
            equivariance; the paper trains it 150 + 50 epochs instead of 200 + 200: set ``optim`` accordingly).
        lambda_gan: weight of the adversarial loss.
        lambda_nce: weight of PatchNCE (null: the preset).
        nce_idt: also apply PatchNCE between B images and G(B) (null: the preset); needs equal channels of A and B.
        flip_equivariance: each step, flip the inputs horizontally with probability 1/2 and the query features back
            (null: the preset).
        nce_layers: generator layers tapped for PatchNCE (the reference's ``nn.Sequential`` numbering; CUT's
            0, 4, 8, 12, 16 on resnet_9blocks are the padded input, the two downsampling convs and residual
            blocks 1 and 5).
        num_patches: patch positions sampled per layer and step.
        nce_t: temperature of the NCE softmax.
        nce_negatives: "image" (negatives from the same image, CUT's default) or "batch" (from every image).
        netf_units: width of F's 2-layer MLP heads and of the projected features.
        antialias: anti-aliased (blur) down/upsampling in G and D, CUT's default (its ``--no_antialias`` is false).
    """

    mode: Literal["cut", "fastcut"] = "cut"
    lambda_gan: float = 1.0
    lambda_nce: float | None = None
    nce_idt: bool | None = None
    flip_equivariance: bool | None = None
    nce_layers: list[int] = field(default_factory=lambda: [0, 4, 8, 12, 16])
    num_patches: int = 256
    nce_t: float = 0.07
    nce_negatives: Literal["image", "batch"] = "image"
    netf_units: int = 256
    antialias: bool = True

    def __post_init__(self) -> None:
        for key, value in PRESETS.get(self.mode, {}).items():
            if getattr(self, key) is None:
                setattr(self, key, value)


class CUT(Algorithm):
    """G: A -> B, D judges domain B, F projects G's features for PatchNCE. LSGAN, no image pool, in the paper.

    Per step, as CUT's code: generate G(A) (and G(B) for identity NCE, in one batch), update D on real B and the
    detached fake, then update G and F with D frozen on lambda_gan * GAN + PatchNCE (the mean of the two NCE terms
    with identity NCE). F's heads are built from the tapped channels before the optimisers, so checkpoints and DDP
    hold them from the start; F is trained by G's Adam (same settings as CUT's separate optimiser; one optimiser
    keeps one fp16 loss scale for the loss they share).
    """

    Options = CUTOptions
    data_kind = "unpaired"

    @classmethod
    def validate(cls, options: CUTOptions, cfg: Any) -> None:
        for key, value, minimum in (("num_patches", options.num_patches, 1), ("netf_units", options.netf_units, 1),
                                    ("lambda_gan", options.lambda_gan, 0), ("lambda_nce", options.lambda_nce, 0)):
            if value < minimum:
                raise ValueError(f"cut.{key}: must be >= {minimum}, got {value}")
        if options.nce_t <= 0:
            raise ValueError(f"cut.nce_t: the temperature must be > 0, got {options.nce_t}")
        if options.nce_idt and cfg.data.input_nc != cfg.data.output_nc:
            raise ValueError("cut.nce_idt: identity NCE feeds B images to G, which needs data.input_nc == "
                             "data.output_nc; set it to false")
        networks = NetworkFactory(cfg.model.generator, cfg.model.generator_settings(), cfg.model.discriminator,
                                  cfg.model.discriminator_settings())
        spec = _with_antialias(networks, options).generator_spec(cfg.data.input_nc, cfg.data.output_nc, "AtoB")
        try:
            with torch.device("meta"):  # Shapes only: no memory, no time.
                generator = spec.build()
        except (TypeError, ValueError) as err:
            raise ValueError(f"model.generator: '{cfg.model.generator}' cannot be built with cut's settings "
                             f"(antialias={options.antialias}): {err}") from None
        if not supports_feature_taps(generator):
            raise ValueError(f"model.generator: cut taps the generator's features, which '{cfg.model.generator}' "
                             f"({type(generator).__name__}) does not provide; use a ResNet generator "
                             "(resnet_9blocks, resnet_6blocks or resnet)")
        try:
            generator.tap_indices(options.nce_layers)
        except ValueError as err:
            raise ValueError(f"cut.nce_layers: {str(err).removeprefix('layers: ')}") from None

    def __init__(self, options: CUTOptions, ctx: BuildContext) -> None:
        super().__init__(options, ctx)
        networks = _with_antialias(ctx.networks, options)
        self.spec = networks.generator_spec(ctx.in_channels, ctx.out_channels, "AtoB")
        generator = self.add_net("G", self.spec.build())
        channels = generator.feature_channels(options.nce_layers)
        self.add_net("F", PatchSampler(in_channels=channels, num_units=options.netf_units))
        self.add_net("D", networks.build_discriminator(ctx.out_channels))
        self.optimizers = {
            "G": ctx.make_optimizer([*self.nets["G"].parameters(), *self.nets["F"].parameters()]),
            "D": ctx.make_optimizer(self.nets["D"].parameters()),
        }

    # Losses.

    def _generate(self, chunk: dict[str, Tensor], flipped: bool) -> tuple[Tensor, Tensor | None]:
        """G(A) and, with identity NCE, G(B), in one batch (flipped horizontally when `flipped`)."""
        real = torch.cat([chunk["A"], chunk["B"]]) if self.options.nce_idt else chunk["A"]
        fake = self.run["G"](real.flip(3) if flipped else real)
        count = chunk["A"].shape[0]
        return fake[:count], (fake[count:] if self.options.nce_idt else None)

    def _nce(self, source: Tensor, translated: Tensor, flipped: bool) -> Tensor:
        """PatchNCE between `source` (keys) and its translation (queries, computed from a flipped input when
        `flipped`), averaged over the tapped layers."""
        opts = self.options
        queries = self.run["G"](translated, layers=opts.nce_layers)
        if flipped:
            queries = [query.flip(3) for query in queries]
        with torch.no_grad():  # The keys are targets: PatchNCE detaches them (as CUT), so no graph is kept.
            keys = self.frozen_run["G"](source, layers=opts.nce_layers)
            patch_ids = sample_patch_ids(keys, opts.num_patches)
            keys = self.frozen_run["F"](keys, patch_ids)
        queries = self.run["F"](queries, patch_ids)
        losses = [patch_nce_loss(q, k, temperature=opts.nce_t, negatives=opts.nce_negatives)
                  for q, k in zip(queries, keys)]
        return torch.stack(losses).mean() * opts.lambda_nce

    def _generator_losses(self, chunk: dict[str, Tensor], fake_b: Tensor, idt_b: Tensor | None,
                          flipped: bool) -> tuple[dict[str, Tensor], Tensor]:
        """The G-phase terms by name (logged as CUT logs them) and the loss to minimise."""
        losses = {"G_GAN": self.gan_loss.g_loss(self.frozen_run["D"](fake_b)) * self.options.lambda_gan,
                  "NCE": self._nce(chunk["A"], fake_b, flipped)}
        if idt_b is None:
            return losses, losses["G_GAN"] + losses["NCE"]
        losses["NCE_Y"] = self._nce(chunk["B"], idt_b, flipped)
        return losses, losses["G_GAN"] + 0.5 * (losses["NCE"] + losses["NCE_Y"])  # The mean of both, as CUT.

    # Training step.

    def train_step(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        chunks = split_batch(batch, self.grad_accum)
        k = len(chunks)
        logs = LossLog(k)
        flipped = bool(self.options.flip_equivariance) and torch.rand(()).item() < 0.5

        # Generate: kept with its graph when the G phase can reuse it (k == 1).
        with contextlib.nullcontext() if k == 1 else torch.no_grad(), self.precision.autocast():
            fakes = [self._generate(c, flipped) for c in chunks]

        # D phase.
        set_requires_grad([self.nets["D"]], True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        for c, (fake_b, _) in zip(chunks, fakes):
            with self.precision.autocast():
                loss_d = self.discriminator_loss("D", c["B"], fake_b.detach())
            logs.add("D", loss_d)
            self.precision.backward(loss_d / k, "D")
        self.precision.step("D", self.optimizers["D"])

        # G and F phase.
        set_requires_grad([self.nets["D"]], False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        for c, (fake_b, idt_b) in zip(chunks, fakes):
            with self.precision.autocast():
                if k > 1:
                    fake_b, idt_b = self._generate(c, flipped)
                losses, total = self._generator_losses(c, fake_b, idt_b, flipped)
            for name, value in losses.items():
                logs.add(name, value)
            self.precision.backward(total / k, "G")
        self.precision.step("G", self.optimizers["G"])
        set_requires_grad([self.nets["D"]], True)
        return logs

    @torch.no_grad()
    def translate_visuals(self, batch: dict[str, Any], generators: Mapping[str, nn.Module]) -> dict[str, Tensor]:
        with self.precision.autocast():
            images = {"real_A": batch["A"], "fake_B": generators["G"](batch["A"]), "real_B": batch["B"]}
            if self.options.nce_idt:
                images["idt_B"] = generators["G"](batch["B"])
        return {name: image.float() for name, image in images.items()}

    def generator_specs(self) -> dict[str, GeneratorSpec]:
        return {"G": self.spec}


def _with_antialias(networks: NetworkFactory, options: CUTOptions) -> NetworkFactory:
    """The run's networks with CUT's `antialias` setting added (networks that do not take it ignore it)."""
    return dataclasses.replace(
        networks, generator_settings={**networks.generator_settings, "antialias": options.antialias},
        discriminator_settings={**networks.discriminator_settings, "antialias": options.antialias})
