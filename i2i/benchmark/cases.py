"""The benchmark presets (:data:`CASES`), the settings applied to them (:class:`BenchmarkOptions`) and their configs."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import torch

from i2i.algorithms import ALGORITHMS
from i2i.config import Config, load_config
from i2i.registry import nearest

PRECISIONS = ("fp32", "bf16", "fp16")
DEFAULT_STEPS = {"cuda": (5, 20), "cpu": (2, 5)}  # (warm-up, timed) when neither the case nor the caller sets them

CYCLEGAN_MODEL = {"algorithm": "cyclegan", "generator": "resnet_9blocks", "norm": "instance", "dropout": False,
                  "discriminator": "basic"}
PIX2PIX_MODEL = {"algorithm": "pix2pix", "generator": "unet_256", "norm": "batch", "dropout": True,
                 "discriminator": "basic"}
CUT_MODEL = {**CYCLEGAN_MODEL, "algorithm": "cut", "init": "xavier"}  # anti-aliased G and D: the cut section's default


@dataclass(frozen=True)
class BenchmarkCase:
    """A named benchmark setting.

    Attributes:
        name: Preset name, e.g. ``cyclegan_256_b1``.
        kind: ``train`` times ``Algorithm.train_step``; ``inference`` times one generator forward in eval mode.
        model: The config's ``model`` section (algorithm, generator, norm, ...).
        gan_mode: ``loss.gan_mode``.
        resolution: Square image side in pixels.
        batch: Images per step; ``None`` means the caller's ``best_batch``.
        warmup: Untimed steps first (at least 1: it compiles and autotunes); ``None`` picks a device default.
        steps: Timed steps; ``None`` picks a default for the device.
        description: One line for ``--list``.
        options: The algorithm's own config section, e.g. ``{"mode": "fastcut"}`` for ``cut``.
    """

    name: str
    kind: Literal["train", "inference"]
    model: dict[str, Any]
    gan_mode: str
    resolution: int
    batch: int | None
    warmup: int | None = None
    steps: int | None = None
    description: str = ""
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


def _infer_case(batch: int) -> BenchmarkCase:
    return BenchmarkCase(f"infer_resnet9_256_b{batch}", "inference", CYCLEGAN_MODEL, "lsgan", 256, batch,
                         description=f"resnet_9blocks generator forward, eval + inference_mode, 256 px, batch {batch}")


CASES: dict[str, BenchmarkCase] = {case.name: case for case in (
    BenchmarkCase("cyclegan_256_b1", "train", CYCLEGAN_MODEL, "lsgan", 256, 1,
                  description="CycleGAN train step: resnet_9blocks, basic D, instance norm, lsgan, 256 px, batch 1"),
    BenchmarkCase("cyclegan_256_best", "train", CYCLEGAN_MODEL, "lsgan", 256, None,
                  description="as cyclegan_256_b1 with batch --best-batch"),
    BenchmarkCase("cut_256_b1", "train", CUT_MODEL, "lsgan", 256, 1, options={"mode": "cut"},
                  description="CUT train step: as cyclegan_256_b1 with one G and D (anti-aliased), F, identity NCE"),
    BenchmarkCase("fastcut_256_b1", "train", CUT_MODEL, "lsgan", 256, 1, options={"mode": "fastcut"},
                  description="FastCUT train step: as cut_256_b1 without identity NCE"),
    BenchmarkCase("pix2pix_256_b1", "train", PIX2PIX_MODEL, "vanilla", 256, 1,
                  description="pix2pix train step: unet_256, basic D, batch norm, vanilla GAN, 256 px, batch 1"),
    BenchmarkCase("pix2pix_256_best", "train", PIX2PIX_MODEL, "vanilla", 256, None,
                  description="as pix2pix_256_b1 with batch --best-batch"),
    BenchmarkCase("cyclegan_128_b1", "train", CYCLEGAN_MODEL, "lsgan", 128, 1,
                  description="as cyclegan_256_b1 at 128 px (the reference: 3.67 s/step on the CPU)"),
    _infer_case(1), _infer_case(8), _infer_case(64),
    BenchmarkCase("tiny", "train", {**CYCLEGAN_MODEL, "generator": "resnet", "n_blocks": 2, "ngf": 4, "ndf": 4},
                  "lsgan", 32, 1, warmup=2, steps=3,
                  description="CycleGAN, generic resnet with 2 blocks, ngf=ndf=4, 32 px, batch 1 (seconds on a CPU)"),
    BenchmarkCase("tiny_infer", "inference", {**CYCLEGAN_MODEL, "generator": "resnet", "n_blocks": 2, "ngf": 4},
                  "lsgan", 32, 2, warmup=1, steps=3,
                  description="generic resnet generator with 2 blocks, ngf=4, forward at 32 px, batch 2"),
    BenchmarkCase("tiny_cut", "train", {**CUT_MODEL, "generator": "resnet", "n_blocks": 2, "ngf": 4, "ndf": 4},
                  "lsgan", 32, 1, warmup=2, steps=3, options={"nce_layers": [0, 4, 8, 12, 13], "num_patches": 64},
                  description="CUT as tiny: 2 blocks, ngf=ndf=4, 32 px, batch 1, 64 patches (seconds on a CPU)"),
)}


@dataclass
class BenchmarkOptions:
    """Settings applied to every case; ``None`` keeps the case's own value."""

    device: str = "auto"
    precision: str = "fp32"
    compile: bool = False
    compile_mode: str = "default"
    channels_last: bool = False
    warmup: int | None = None
    steps: int | None = None
    threads: int | None = None
    resolution: int | None = None
    batch: int | None = None
    best_batch: int = 8
    tf32: bool = True
    seed: int = 0


def get_case(name: str) -> BenchmarkCase:
    """The preset called ``name``.

    Raises:
        KeyError: unknown name; the message lists the presets and the nearest one.
    """
    if name not in CASES:
        raise KeyError(f"--cases: unknown case '{name}'{nearest(name, list(CASES))}; valid: {', '.join(CASES)}")
    return CASES[name]


def check_precision(name: str) -> str:
    """Return ``name`` if it is one of :data:`PRECISIONS`, else raise a one-line ValueError."""
    if name not in PRECISIONS:
        raise ValueError(f"--precision: unknown '{name}'{nearest(name, PRECISIONS)}; valid: {', '.join(PRECISIONS)}")
    return name


def resolve_case(case: BenchmarkCase, options: BenchmarkOptions, device: torch.device) -> BenchmarkCase:
    """Apply the caller's resolution/batch/warm-up/steps to ``case`` and fill the device defaults."""
    default_warmup, default_steps = DEFAULT_STEPS["cuda" if device.type == "cuda" else "cpu"]
    resolved = dataclasses.replace(
        case,
        resolution=_first(options.resolution, case.resolution),
        batch=_first(options.batch, case.batch, options.best_batch),
        warmup=_first(options.warmup, case.warmup, default_warmup),
        steps=_first(options.steps, case.steps, default_steps),
    )
    for key in ("resolution", "batch", "steps", "warmup"):
        if getattr(resolved, key) <= 0:
            raise ValueError(f"--{key}: must be > 0, got {getattr(resolved, key)} (case {case.name})")
    return resolved


def _first(*values: int | None) -> int:
    return next(v for v in values if v is not None)


def case_config(case: BenchmarkCase, options: BenchmarkOptions) -> Config:
    """The training config a case stands for (data settings are only used for channel counts)."""
    algorithm = case.model["algorithm"]
    dataset = "unaligned" if ALGORITHMS.get(algorithm).data_kind == "unpaired" else "aligned"
    return load_config({"seed": options.seed, "model": dict(case.model), "loss": {"gan_mode": case.gan_mode},
                        algorithm: dict(case.options),
                        "data": {"dataset": dataset, "crop_size": case.resolution, "load_size": case.resolution,
                                 "batch_size": case.batch},
                        "train": {"channels_last": options.channels_last, "compile": options.compile,
                                  "compile_mode": options.compile_mode, "tf32": options.tf32}})
