"""Benchmark training steps and generator inference on synthetic tensors; one JSON line per case and precision.

    i2i-benchmark --list
    i2i-benchmark --cases tiny --device cpu
    i2i-benchmark --cases cyclegan_256_b1 pix2pix_256_b1 --precision fp32 bf16 --compile --out bench.jsonl
    i2i-benchmark --cases cyclegan_128_b1 --device cpu --threads 8 --warmup 1 --steps 5
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from i2i.cli import run_cli


def _names(values: list[str]) -> list[str]:
    """Accept both ``a b`` and ``a,b``."""
    return [name for value in values for name in value.split(",") if name]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", help="preset names (see --list); default: all but 'tiny'")
    parser.add_argument("--list", action="store_true", help="print the presets and exit")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    parser.add_argument("--precision", nargs="+", default=["fp32"], help="fp32, bf16 and/or fp16: each is run")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False, help="torch.compile")
    parser.add_argument("--compile-mode", default="default",
                        choices=["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"])
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--tf32", action=argparse.BooleanOptionalAction, default=True, help="TF32 on the GPU")
    parser.add_argument("--warmup", type=int, help="untimed steps (default: the case's, else 5 GPU / 2 CPU)")
    parser.add_argument("--steps", type=int, help="timed steps (default: the case's, else 20 GPU / 5 CPU)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads on the CPU")
    parser.add_argument("--resolution", type=int, help="image side for every case")
    parser.add_argument("--batch", type=int, help="batch for every case")
    parser.add_argument("--best-batch", type=int, default=8, help="batch of the *_best cases (default 8)")
    parser.add_argument("--out", type=Path, help="also append the JSON lines to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def benchmark() -> int:
        from i2i.engine.benchmark import CASES, BenchmarkOptions, run_benchmarks

        if args.list:
            for case in CASES.values():
                print(f"{case.name:22s} {case.kind:9s} {case.description}")
            return 0
        options = BenchmarkOptions(device=args.device, compile=args.compile, compile_mode=args.compile_mode,
                                   channels_last=args.channels_last, tf32=args.tf32, warmup=args.warmup,
                                   steps=args.steps, threads=args.threads, resolution=args.resolution,
                                   batch=args.batch, best_batch=args.best_batch)
        names = _names(args.cases) if args.cases else [name for name in CASES if name != "tiny"]
        for row in run_benchmarks(names, options, _names(args.precision)):
            line = json.dumps(row)
            print(line, flush=True)
            if args.out is not None:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                with args.out.open("a") as file:
                    file.write(line + "\n")
        return 0

    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *_rest, **_kw: print(f"warning: {message}", file=sys.stderr)
        return run_cli(benchmark)


if __name__ == "__main__":
    sys.exit(main())
