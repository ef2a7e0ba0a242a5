"""Tests for i2i.benchmark and tools/benchmark.py: the tiny case through the API and the CLI, result fields,
errors, and FLOP counts (exact for one convolution; the issue's figures for the 256 px networks, on ``meta``).

No timing assertions: the numbers depend on the machine and its load.
"""
from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from i2i.benchmark import (CASES, FLOP_CONVENTION, BenchmarkOptions, case_config, count_flops, get_case,
                           inference_flops_per_image, resolve_case, run_case, train_flops_per_image)

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("case", "kind", "algorithm", "generator", "discriminator", "resolution", "batch", "precision", "compile",
          "channels_last", "device", "torch", "images_per_s", "step_s_median", "peak_memory_mb", "memory_kind",
          "gflop_per_image", "achieved_tflops", "flop_convention", "warmup", "steps")


def check_row(row: dict) -> None:
    assert all(key in row for key in FIELDS), sorted(set(FIELDS) - set(row))
    assert row["case"] == "tiny" and row["kind"] == "train" and row["algorithm"] == "cyclegan"
    assert row["generator"] == "resnet" and row["discriminator"] == "basic"
    assert (row["resolution"], row["batch"], row["warmup"], row["steps"]) == (32, 1, 2, 3)
    assert row["device"].startswith("cpu (") and row["torch"] == torch.__version__
    assert row["cpu_model"] and row["mkldnn_bf16"] == torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert row["compile"] is False and row["channels_last"] is False
    assert row["memory_kind"] == "process peak RSS" and row["peak_memory_mb"] > 0
    assert row["images_per_s"] > 0 and math.isfinite(row["images_per_s"])
    assert row["step_s_median"] == pytest.approx(row["batch"] / row["images_per_s"], rel=1e-3)
    assert row["gflop_per_image"] > 0 and row["flop_convention"] == FLOP_CONVENTION
    assert row["achieved_tflops"] == pytest.approx(row["gflop_per_image"] * row["images_per_s"] / 1000, rel=1e-3)


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "benchmark.py"), *args], capture_output=True,
                          text=True, timeout=300)


def test_tiny_case_through_api():
    row = run_case("tiny", BenchmarkOptions(device="cpu"))
    check_row(row)
    assert row["precision"] == "fp32"
    json.dumps(row)  # serialisable


def test_tiny_case_through_cli(tmp_path):
    out = tmp_path / "bench" / "results.jsonl"
    proc = run_tool("--cases", "tiny", "--device", "cpu", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    check_row(json.loads(lines[0]))
    header, *rows = out.read_text().splitlines()
    assert rows == lines
    env = json.loads(header)
    assert env["record"] == "environment" and env["torch"] == torch.__version__ and env["cpu_model"]
    assert env["mkldnn_bf16"] == torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert set(env["cpu_flags"]) <= {"avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                                     "amx_tile", "amx_bf16", "amx_fp16", "amx_int8"}


def test_cli_list_and_unknown_case(capsys):
    spec = importlib.util.spec_from_file_location("i2i_tools_benchmark", ROOT / "tools" / "benchmark.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main(["--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(CASES)
    assert tool.main(["--cases", "cyclegan_256_bl", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown case 'cyclegan_256_bl'" in err and "did you mean 'cyclegan_256_b1'" in err
    assert tool.main(["--cases", "tiny", "--precision", "fp64"]) == 2
    assert "--precision: unknown 'fp64'" in capsys.readouterr().err
    assert tool.main(["--cases", "tiny", "--device", "gpu"]) == 2
    assert "--device: 'gpu' is not a device" in capsys.readouterr().err


def test_fp16_on_cpu_falls_back():
    with pytest.warns(UserWarning, match="fp16 is not supported on the CPU"):
        row = run_case("tiny", BenchmarkOptions(device="cpu", warmup=1, steps=1), precision="fp16")
    native_bf16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert row["precision"] == ("bf16" if native_bf16 else "fp32") and row["precision_requested"] == "fp16"
    assert row["images_per_s"] > 0


def test_cases_and_overrides():
    assert {"cyclegan_256_b1", "cyclegan_256_best", "pix2pix_256_b1", "pix2pix_256_best", "cyclegan_128_b1",
            "infer_resnet9_256_b1", "infer_resnet9_256_b8", "infer_resnet9_256_b64", "tiny", "tiny_infer",
            "cut_256_b1", "fastcut_256_b1", "tiny_cut"} == set(CASES)
    cpu = torch.device("cpu")
    best = resolve_case(get_case("pix2pix_256_best"), BenchmarkOptions(best_batch=4), cpu)
    assert (best.batch, best.resolution, best.warmup, best.steps) == (4, 256, 2, 5)
    forced = resolve_case(get_case("tiny"), BenchmarkOptions(resolution=64, batch=2, warmup=1, steps=7), cpu)
    assert (forced.batch, forced.resolution, forced.warmup, forced.steps) == (2, 64, 1, 7)
    with pytest.raises(ValueError, match="--steps: must be > 0"):
        resolve_case(get_case("tiny"), BenchmarkOptions(steps=0), cpu)
    with pytest.raises(KeyError, match="did you mean 'tiny'"):
        get_case("tiny2")
    cfg = case_config(get_case("pix2pix_256_b1"), BenchmarkOptions())
    assert (cfg.model.generator, cfg.model.norm, cfg.loss.gan_mode) == ("unet_256", "batch", "vanilla")


def test_flop_counter_exact_on_a_convolution():
    conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
    image = torch.randn(2, 3, 16, 16, requires_grad=True)
    forward = 2 * 2 * 8 * 16 * 16 * 3 * 3 * 3  # 2 FLOPs x batch x C_out x H x W x C_in x k x k
    assert count_flops(lambda: conv(image)) == forward
    # Backward: the input gradient and the weight gradient each cost one forward.
    assert count_flops(lambda: conv(image).sum().backward()) == 3 * forward
    linear = nn.Linear(10, 5)
    assert count_flops(lambda: linear(torch.randn(4, 10))) == 2 * 4 * 10 * 5


def test_flops_match_the_issue_figures_on_meta():
    """resnet_9blocks 99.1 and unet_256 12.1 GFLOP per forward, CycleGAN train step ~1,880 GFLOP, at 256 px."""
    resnet = case_config(get_case("infer_resnet9_256_b1"), BenchmarkOptions())
    assert inference_flops_per_image(resnet, 256) / 1e9 == pytest.approx(99.1, rel=0.01)
    unet = case_config(get_case("pix2pix_256_b1"), BenchmarkOptions())
    assert inference_flops_per_image(unet, 256) / 1e9 == pytest.approx(12.1, rel=0.01)
    cyclegan = case_config(get_case("cyclegan_256_b1"), BenchmarkOptions())
    assert train_flops_per_image(cyclegan, 1, 256) / 1e9 == pytest.approx(1880, rel=0.01)
