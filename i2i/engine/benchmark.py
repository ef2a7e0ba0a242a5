"""Throughput, memory and FLOP benchmarks of training steps and generator inference on synthetic tensors.

No dataset or disk is needed: each case builds its algorithm (or generator) from a config with
:func:`i2i.algorithms.build_algorithm` and feeds it the same random batch in [-1, 1] every step. Networks are
prepared as :class:`i2i.engine.trainer.Trainer` does (channels_last, then ``torch.compile`` through
``Algorithm.wrap``). A case yields one result dict (see :func:`run_case`), written as one JSON line by
``tools/benchmark.py``.

FLOPs are counted with :class:`torch.utils.flop_counter.FlopCounterMode` on a copy built on the ``meta`` device (no
compute), which counts 2 FLOPs per multiply-add of convolutions and matrix products: resnet_9blocks forward at
256 px = 99.1 GFLOP, unet_256 forward = 12.1 GFLOP, a full CycleGAN training step = 1,879 GFLOP per image.
"""
from __future__ import annotations

import dataclasses
import gc
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from i2i.algorithms import build_algorithm, build_context
from i2i.algorithms.base import Algorithm
from i2i.config import Config, load_config
from i2i.runtime import Precision, resolve_precision
from i2i.errors import first_line
from i2i.models import init_weights
from i2i.registry import nearest

FLOP_CONVENTION = ("2 FLOPs per multiply-add (torch.utils.flop_counter: convolutions and matrix products, "
                   "forward and backward; norms, activations, losses and optimiser updates not counted)")
PRECISIONS = ("fp32", "bf16", "fp16")
DEFAULT_STEPS = {"cuda": (5, 20), "cpu": (2, 5)}  # (warm-up, timed) when neither the case nor the caller sets them

CYCLEGAN_MODEL = {"algorithm": "cyclegan", "generator": "resnet_9blocks", "norm": "instance", "dropout": False,
                  "discriminator": "basic"}
PIX2PIX_MODEL = {"algorithm": "pix2pix", "generator": "unet_256", "norm": "batch", "dropout": True,
                 "discriminator": "basic"}


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


def _infer_case(batch: int) -> BenchmarkCase:
    return BenchmarkCase(f"infer_resnet9_256_b{batch}", "inference", CYCLEGAN_MODEL, "lsgan", 256, batch,
                         description=f"resnet_9blocks generator forward, eval + inference_mode, 256 px, batch {batch}")


CASES: dict[str, BenchmarkCase] = {case.name: case for case in (
    BenchmarkCase("cyclegan_256_b1", "train", CYCLEGAN_MODEL, "lsgan", 256, 1,
                  description="CycleGAN train step: resnet_9blocks, basic D, instance norm, lsgan, 256 px, batch 1"),
    BenchmarkCase("cyclegan_256_best", "train", CYCLEGAN_MODEL, "lsgan", 256, None,
                  description="as cyclegan_256_b1 with batch --best-batch"),
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
    dataset = "unaligned" if case.model["algorithm"] == "cyclegan" else "aligned"
    return load_config({"seed": options.seed, "model": dict(case.model), "loss": {"gan_mode": case.gan_mode},
                        "data": {"dataset": dataset, "crop_size": case.resolution, "load_size": case.resolution,
                                 "batch_size": case.batch},
                        "train": {"channels_last": options.channels_last, "compile": options.compile,
                                  "compile_mode": options.compile_mode, "tf32": options.tf32}})


# FLOP counting.

def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs (2 per multiply-add) of the convolutions and matrix products that ``fn()`` runs, backward included."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


def _random_batch(cfg: Config, batch: int, resolution: int, device: torch.device,
                  memory_format: torch.memory_format = torch.contiguous_format) -> dict[str, Tensor]:
    generator = torch.Generator().manual_seed(cfg.seed)
    shapes = {"A": (batch, cfg.data.input_nc, resolution, resolution),
              "B": (batch, cfg.data.output_nc, resolution, resolution)}
    return {k: (torch.rand(s, generator=generator) * 2 - 1).to(device).contiguous(memory_format=memory_format)
            for k, s in shapes.items()}


def _build_generator(cfg: Config, device: torch.device) -> nn.Module:
    networks = build_context(cfg, device, Precision("fp32", device)).networks
    net = networks.generator_spec(cfg.data.input_nc, cfg.data.output_nc, "AtoB").build()
    init_weights(net, scheme=cfg.model.init, gain=cfg.model.init_gain)
    return net.to(device).eval()


def train_flops_per_image(cfg: Config, batch: int, resolution: int) -> float:
    """FLOPs of one full ``train_step`` (all networks, forward and backward) per image, counted on ``meta``."""
    meta = torch.device("meta")
    algorithm = build_algorithm(cfg, meta, Precision("fp32", meta))
    inputs = _random_batch(cfg, batch, resolution, meta)
    return count_flops(lambda: algorithm.train_step(inputs)) / batch


def inference_flops_per_image(cfg: Config, resolution: int) -> float:
    """FLOPs of one generator forward per image, counted on ``meta``."""
    meta = torch.device("meta")
    net = _build_generator(cfg, meta)
    image = torch.empty(1, cfg.data.input_nc, resolution, resolution, device=meta)
    with torch.no_grad():
        return float(count_flops(lambda: net(image)))


# Device helpers.

def resolve_device(request: str) -> torch.device:
    """"auto" -> CUDA when available, else CPU; "cuda" without CUDA is an error."""
    if request == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(request)
    except RuntimeError:
        raise ValueError(f"--device: '{request}' is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device: '{request}' requested but CUDA is not available; use --device cpu or auto")
    return device


def configure_backends(device: torch.device, tf32: bool) -> None:
    """cuDNN autotuning and TF32 on the GPU, as the trainer sets them."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> tuple[float, str]:
    """(megabytes, what they measure): CUDA allocator peak since the last reset, or the process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda max_memory_allocated"
    import resource  # POSIX only

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10, "process peak RSS"


def release_memory(device: torch.device, compiled: bool = False) -> None:
    """Free what the last case left; after torch.compile also its caches, so the next case compiles afresh."""
    if compiled:
        import torch._dynamo as dynamo

        dynamo.reset()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# Timing.

def time_steps(step: Callable[[], Any], warmup: int, steps: int, device: torch.device) -> list[float]:
    """Seconds of each of ``steps`` calls of ``step`` after ``warmup`` untimed ones (GPU work waited for)."""
    for _ in range(warmup):
        step()
    synchronize(device)
    times = []
    for _ in range(steps):
        tic = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - tic)
    return times


def _first_step_checked(step: Callable[[], Any], compiled: bool) -> None:
    """Run ``step`` once; a compile failure becomes a one-line RuntimeError."""
    if not compiled:
        step()
        return
    try:
        step()
    except Exception as err:  # noqa: BLE001 - compile errors come in many types.
        raise RuntimeError(f"--compile: torch.compile failed ({first_line(err)}); run with --no-compile") from err


def _train_step_fn(cfg: Config, case: BenchmarkCase, device: torch.device, precision: Precision,
                   options: BenchmarkOptions) -> Callable[[], Any]:
    algorithm: Algorithm = build_algorithm(cfg, device, precision)
    memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
    algorithm.prepare(channels_last=options.channels_last,
                      compile_mode=options.compile_mode if options.compile else None)
    algorithm.train()
    inputs = _random_batch(cfg, case.batch, case.resolution, device, memory_format)
    return lambda: algorithm.train_step(inputs)


def _inference_step_fn(cfg: Config, case: BenchmarkCase, device: torch.device, precision: Precision,
                       options: BenchmarkOptions) -> Callable[[], Any]:
    net = _build_generator(cfg, device)
    memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
    if options.channels_last:
        net.to(memory_format=torch.channels_last)
    run = torch.compile(net, mode=options.compile_mode) if options.compile else net
    image = _random_batch(cfg, case.batch, case.resolution, device, memory_format)["A"]

    def step() -> Tensor:
        with torch.inference_mode(), precision.autocast():
            return run(image)

    return step


def run_case(case: BenchmarkCase | str, options: BenchmarkOptions | None = None,
             precision: str | None = None) -> dict[str, Any]:
    """Benchmark one case and return its result row.

    Args:
        case: A preset or its name (see :data:`CASES`).
        options: Device, precision, compile and size settings; defaults to :class:`BenchmarkOptions`.
        precision: Overrides ``options.precision`` ("fp32", "bf16" or "fp16"; fp16 on a CPU falls back to bf16,
            or to fp32 without native bf16, with a warning).

    Returns:
        A JSON-serialisable dict: case, kind, algorithm, generator, discriminator, resolution, batch, precision,
        compile, channels_last, device, torch, images_per_s (median, images of domain A per second),
        step_s_median, peak_memory_mb, memory_kind, gflop_per_image, achieved_tflops, flop_convention, warmup,
        steps and more.
    """
    options = options or BenchmarkOptions()
    requested = check_precision(precision or options.precision)
    device = resolve_device(options.device)
    if options.threads and device.type == "cpu":
        torch.set_num_threads(options.threads)
    configure_backends(device, options.tf32)
    case = resolve_case(get_case(case) if isinstance(case, str) else case, options, device)
    cfg = case_config(case, options)
    mode = resolve_precision(requested, device)

    # FLOPs, on meta: precision, compile and memory format do not change the count.
    if case.kind == "train":
        flops = train_flops_per_image(cfg, case.batch, case.resolution)
    else:
        flops = inference_flops_per_image(cfg, case.resolution)

    # Build, warm up (compiling on the first step) and time.
    release_memory(device, options.compile)
    torch.manual_seed(cfg.seed)
    build = _train_step_fn if case.kind == "train" else _inference_step_fn
    step = build(cfg, case, device, Precision(mode, device), options)
    _first_step_checked(step, options.compile)
    synchronize(device)
    reset_peak_memory(device)
    times = time_steps(step, max(0, case.warmup - 1), case.steps, device)
    memory_mb, memory_kind = peak_memory(device)
    del step
    release_memory(device, options.compile)

    step_s = statistics.median(times)
    images_per_s = case.batch / step_s
    gflop = flops / 1e9
    return {
        "case": case.name, "kind": case.kind, "algorithm": cfg.model.algorithm if case.kind == "train" else None,
        "generator": cfg.model.generator,
        "discriminator": cfg.model.discriminator if case.kind == "train" else None,
        "resolution": case.resolution, "batch": case.batch, "precision": mode, "precision_requested": requested,
        "compile": options.compile, "compile_mode": options.compile_mode if options.compile else None,
        "channels_last": options.channels_last, "tf32": device.type == "cuda" and options.tf32,
        "device": device_name(device), "torch": torch.__version__,
        "images_per_s": _significant(images_per_s), "step_s_median": _significant(step_s),
        "step_s_min": _significant(min(times)), "step_s_max": _significant(max(times)),
        "peak_memory_mb": round(memory_mb, 1), "memory_kind": memory_kind,
        "gflop_per_image": _significant(gflop), "achieved_tflops": _significant(gflop * images_per_s / 1000),
        "flop_convention": FLOP_CONVENTION, "warmup": case.warmup, "steps": case.steps,
    }


def _significant(value: float, digits: int = 5) -> float:
    return float(f"{value:.{digits}g}")


def run_benchmarks(names: list[str], options: BenchmarkOptions, precisions: list[str] | None = None
                   ) -> Iterator[dict[str, Any]]:
    """Run every case in ``names`` once per precision (default ``[options.precision]``), yielding result rows."""
    cases = [get_case(name) for name in names]  # fail on a bad name or precision before running anything
    precisions = [check_precision(p) for p in precisions or [options.precision]]
    for case in cases:
        for precision in precisions:
            yield run_case(case, options, precision)
