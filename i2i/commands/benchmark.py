"""Benchmark training steps and generator inference on synthetic tensors; a table, JSON lines, or the GPU suite.

    i2i-benchmark --list
    i2i-benchmark --cases tiny --device cpu
    i2i-benchmark --cases cyclegan_256_b1 pix2pix_256_b1 --precision fp32 bf16 --compile --out bench.jsonl
    i2i-benchmark --cases cyclegan_128_b1 --device cpu --threads 8 --warmup 1 --steps 5 --json
    i2i-benchmark --suite gpu --out-dir gpu_results --budget 330   # what tools/gpu_check.sh runs

--out appends to a JSONL file: an environment line (date, commit, device, versions, CPU model and flags), then one
line per case and precision. A warning is printed when the machine's load makes timings unreliable.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from i2i.cli import one_line_warnings, run_cli


def _names(values: list[str]) -> list[str]:
    """Accept both ``a b`` and ``a,b``."""
    return [name for value in values for name in value.split(",") if name]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", help="preset names (see --list); default: all but the tiny ones")
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
    parser.add_argument("--json", action="store_true", help="print one JSON line per result instead of a table")
    parser.add_argument("--out", type=Path, help="also append the results to this JSONL file")
    suite = parser.add_argument_group("suite (tools/gpu_check.sh)")
    suite.add_argument("--suite", choices=["gpu"], help="run a whole suite, each entry in its own process")
    suite.add_argument("--out-dir", type=Path, default=Path("benchmark_results"), help="suite output folder")
    suite.add_argument("--budget", type=float, default=330, help="suite time budget in seconds (default 330)")
    suite.add_argument("--entries", nargs="+", help="run only these suite entries (labels as in results.jsonl)")
    suite.add_argument("--tests-junit", type=Path, help="pytest JUnit XML of the CUDA tests, summed up in the report")
    suite.add_argument("--suite-entry", help=argparse.SUPPRESS)  # one entry, in the child process the suite starts
    suite.add_argument("--work-dir", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _append(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as file:
        file.writelines(json.dumps(row) + "\n" for row in rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def benchmark() -> int:
        from i2i.benchmark import CASES, BenchmarkOptions, environment, format_table, reliability_warnings
        from i2i.benchmark import run_benchmarks, suite

        if args.list:
            for case in CASES.values():
                print(f"{case.name:22s} {case.kind:9s} {case.description}")
            return 0
        if args.suite_entry:
            suite.run_entry(args.suite_entry, lambda row: _append(args.out, [row]), args.work_dir or Path("."))
            return 0
        if args.suite:
            notes = suite.junit_notes(args.tests_junit) if args.tests_junit else []
            rows = suite.run_suite(args.out_dir, budget_s=args.budget, extra_notes=notes, only=args.entries)
            print(format_table(rows), f"\n{args.out_dir / 'results.jsonl'}, {args.out_dir / 'report.md'}", sep="")
            return 1 if any(row.get("status", "ok") not in ("ok", "skipped") for row in rows) else 0
        options = BenchmarkOptions(device=args.device, compile=args.compile, compile_mode=args.compile_mode,
                                   channels_last=args.channels_last, tf32=args.tf32, warmup=args.warmup,
                                   steps=args.steps, threads=args.threads, resolution=args.resolution,
                                   batch=args.batch, best_batch=args.best_batch)
        names = _names(args.cases) if args.cases else [name for name in CASES if not name.startswith("tiny")]
        env = environment()
        if args.out is not None and not (args.out.exists() and args.out.stat().st_size):
            _append(args.out, [env])
        rows = []
        for row in run_benchmarks(names, options, _names(args.precision)):
            rows.append(row)
            for problem in reliability_warnings(row):
                warnings.warn(f"{row['case']} ({row['precision']}): {problem}; timings unreliable")
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                print(f"{row['case']} ({row['precision']}): {row['images_per_s']:g} images/s", file=sys.stderr)
            if args.out is not None:
                _append(args.out, [row])
        if not args.json:
            print(format_table(rows))
        return 0

    with one_line_warnings():
        return run_cli(benchmark)


if __name__ == "__main__":
    sys.exit(main())
