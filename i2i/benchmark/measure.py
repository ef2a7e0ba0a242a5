"""Throughput, memory and FLOP measurements of training steps and generator inference on synthetic tensors.

No dataset or disk is needed: a training case builds its algorithm from a config with
:func:`i2i.algorithms.build_algorithm` and feeds it the same random batch in [-1, 1] every step; networks are
prepared as the trainer prepares them (``Algorithm.prepare``: channels_last, then ``torch.compile``). An inference
case builds only the generator (the training code is not imported). A case yields one result dict
(see :func:`run_case`).

FLOPs are counted with :class:`torch.utils.flop_counter.FlopCounterMode` on a copy built on the ``meta`` device (no
compute), which counts 2 FLOPs per multiply-add of convolutions and matrix products: resnet_9blocks forward at
256 px = 99.1 GFLOP, unet_256 forward = 12.1 GFLOP, a full CycleGAN training step = 1,879 GFLOP per image.
"""
from __future__ import annotations

import contextlib
import gc
import statistics
import sys
import time
from typing import Any, Callable, Iterator

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from i2i.benchmark.cases import (BenchmarkCase, BenchmarkOptions, case_config, check_precision, get_case,
                                 resolve_case)
from i2i.benchmark.host import cpu_info, load_average
from i2i.config import Config
from i2i.runtime import Precision, configure_backends, resolve_device, resolve_precision
from i2i.errors import first_line
from i2i.models import init_weights

_FLOPS: dict[tuple, float] = {}  # per-image FLOPs by case settings
FLOP_CONVENTION = ("2 FLOPs per multiply-add (torch.utils.flop_counter: convolutions and matrix products, "
                   "forward and backward; norms, activations, losses and optimiser updates not counted)")


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
    from i2i.algorithms import build_context

    networks = build_context(cfg, device, Precision("fp32", device)).networks
    net = networks.generator_spec(cfg.data.input_nc, cfg.data.output_nc, "AtoB").build()
    init_weights(net, scheme=cfg.model.init, gain=cfg.model.init_gain)
    return net.to(device).eval()


def train_flops_per_image(cfg: Config, batch: int, resolution: int) -> float:
    """FLOPs of one full ``train_step`` (all networks, forward and backward) per image, counted on ``meta``."""
    from i2i.algorithms import build_algorithm

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

def _resolve_device(request: str) -> torch.device:
    """:func:`i2i.runtime.resolve_device`, its one-line error naming the ``--device`` option."""
    try:
        return resolve_device(request)
    except ValueError as err:
        raise ValueError(f"--{err}") from None


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


def _train_step_fn(cfg: Config, case: BenchmarkCase, device: torch.device, precision: str,
                   options: BenchmarkOptions) -> Callable[[], Any]:
    from i2i.algorithms import build_algorithm

    algorithm = build_algorithm(cfg, device, Precision(precision, device))
    memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
    algorithm.prepare(channels_last=options.channels_last,
                      compile_mode=options.compile_mode if options.compile else None)
    algorithm.train()
    inputs = _random_batch(cfg, case.batch, case.resolution, device, memory_format)
    return lambda: algorithm.train_step(inputs)


def _inference_step_fn(cfg: Config, case: BenchmarkCase, device: torch.device, precision: str,
                       options: BenchmarkOptions) -> Callable[[], Any]:
    net = _build_generator(cfg, device)
    memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
    if options.channels_last:
        net.to(memory_format=torch.channels_last)
    run = torch.compile(net, mode=options.compile_mode) if options.compile else net
    image = _random_batch(cfg, case.batch, case.resolution, device, memory_format)["A"]

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else contextlib.nullcontext

    def step() -> Tensor:
        with torch.inference_mode(), autocast():
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
        compile, channels_last, device, torch, cuda, images_per_s (median, images of domain A per second),
        step_s_median/min/max, spread ((max - min) / min), first_step_s (compiling and autotuning included),
        threads, load_average (after the case), peak_memory_mb, memory_kind, gflop_per_image, achieved_tflops,
        flop_convention, warmup, steps and more.
    """
    options = options or BenchmarkOptions()
    requested = check_precision(precision or options.precision)
    device = _resolve_device(options.device)
    if options.threads and device.type == "cpu":
        torch.set_num_threads(options.threads)
    configure_backends(device, tf32=options.tf32)
    case = resolve_case(get_case(case) if isinstance(case, str) else case, options, device)
    cfg = case_config(case, options)
    mode = resolve_precision(requested, device)

    # FLOPs, on meta: precision, compile and memory format do not change the count (counted once per process).
    key = (case.kind, tuple(sorted(case.model.items())), case.gan_mode, case.batch, case.resolution)
    if key not in _FLOPS:
        _FLOPS[key] = (train_flops_per_image(cfg, case.batch, case.resolution) if case.kind == "train"
                       else inference_flops_per_image(cfg, case.resolution))
    flops = _FLOPS[key]

    # Build, warm up (compiling on the first step) and time.
    release_memory(device, options.compile)
    torch.manual_seed(cfg.seed)
    build = _train_step_fn if case.kind == "train" else _inference_step_fn
    step = build(cfg, case, device, mode, options)
    tic = time.perf_counter()
    _first_step_checked(step, options.compile)
    synchronize(device)
    first_step_s = time.perf_counter() - tic
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
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "images_per_s": _significant(images_per_s), "step_s_median": _significant(step_s),
        "step_s_min": _significant(min(times)), "step_s_max": _significant(max(times)),
        "spread": round((max(times) - min(times)) / min(times), 3), "first_step_s": round(first_step_s, 2),
        "threads": torch.get_num_threads(), "load_average": load_average(),
        "peak_memory_mb": round(memory_mb, 1), "memory_kind": memory_kind,
        "gflop_per_image": _significant(gflop), "achieved_tflops": _significant(gflop * images_per_s / 1000),
        "flop_convention": FLOP_CONVENTION, "warmup": case.warmup, "steps": case.steps,
        **(_cpu_fields() if device.type == "cpu" else {}),
    }


def _cpu_fields() -> dict[str, Any]:
    """CPU model, flags and native bf16, kept with every CPU figure (CPU hosts of one kind differ)."""
    info = cpu_info()
    return {key: info[key] for key in ("cpu_model", "cpu_flags", "mkldnn_bf16")}


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
