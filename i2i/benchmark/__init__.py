"""Benchmarks of training steps, generator inference and folder translation (``i2i-benchmark``).

Separate from the training engine: an inference or translation benchmark does not import the trainer.
"""
from __future__ import annotations

from i2i.benchmark.cases import CASES, BenchmarkCase, BenchmarkOptions, case_config, get_case, resolve_case
from i2i.benchmark.host import environment
from i2i.benchmark.measure import (FLOP_CONVENTION, count_flops, inference_flops_per_image, run_benchmarks, run_case,
                                   train_flops_per_image)
from i2i.benchmark.report import format_table, markdown_report, reliability_warnings

__all__ = ["CASES", "FLOP_CONVENTION", "BenchmarkCase", "BenchmarkOptions", "case_config", "count_flops",
           "environment", "format_table", "get_case", "inference_flops_per_image", "markdown_report",
           "reliability_warnings", "resolve_case", "run_benchmarks", "run_case", "train_flops_per_image"]
