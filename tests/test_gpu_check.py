"""The GPU suite on the CPU: ``tools/gpu_check.sh`` runs with its GPU parts skipped and its CPU stand-ins measured,
and writes the log, JSONL and Markdown report; plus the report helpers (tables, load warnings, test summary) and
the inference benchmark's independence from the training engine.

No timing assertions: only that rows exist, are positive and land in the files.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import torch

from i2i.benchmark import format_table, markdown_report, reliability_warnings
from i2i.benchmark.suite import suite_entries, junit_notes

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_script_on_cpu(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable, "I2I_COMMIT": "abc1234"}
    env.pop("OUT", None)
    proc = subprocess.run(["bash", str(ROOT / "tools" / "gpu_check.sh"), "--out", str(out), "--no-wheels",
                           "--tests", str(ROOT / "tests" / "test_cuda.py"), "--budget", "400"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {p.name for p in out.iterdir()} == {"gpu_check.log", "cuda_tests.xml", "results.jsonl", "report.md"}
    header, *lines = (out / "results.jsonl").read_text().splitlines()
    env_row, rows = json.loads(header), [json.loads(line) for line in lines]
    assert env_row["record"] == "environment" and env_row["commit"] == "abc1234" and env_row["cpu_model"]
    skipped = {r["entry"] for r in rows if r["status"] == "skipped"}
    assert skipped == {e.label for e in suite_entries() if e.cuda}  # every GPU entry, none lost silently
    measured = {r["case"]: r for r in rows if r["status"] == "ok"}
    assert set(measured) == {"tiny_infer", "translate_workers", "translate_device"}
    assert all(r["images_per_s"] > 0 for r in measured.values())
    assert measured["translate_workers"]["translated"] == measured["translate_device"]["translated"] == 8
    report = (out / "report.md").read_text()
    assert "Commit: abc1234" in report and "| case | precision |" in report and "needs CUDA" in report
    assert re.search(r"CUDA tests: 0 passed, 0 failed, \d\d+ skipped\.", report)  # the file's tests, all marked cuda
    assert "[gpu_check] done" in (out / "gpu_check.log").read_text()


def test_inference_benchmark_does_not_import_the_trainer():
    code = ("import sys; from i2i.benchmark import run_case, BenchmarkOptions; "
            "run_case('tiny_infer', BenchmarkOptions(device='cpu', steps=1, warmup=1)); "
            "print(sorted(m for m in sys.modules if m.startswith('i2i.engine')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "i2i.engine.trainer" not in proc.stdout


def _row(**overrides):
    row = {"case": "cyclegan_256_b1", "kind": "train", "algorithm": "cyclegan", "generator": "resnet_9blocks",
           "precision": "fp32",
           "batch": 1, "compile": False, "channels_last": False, "images_per_s": 10.0, "step_s_median": 0.1,
           "step_s_min": 0.1, "step_s_max": 0.11, "spread": 0.1, "peak_memory_mb": 2048.0,
           "memory_kind": "cuda max_memory_allocated", "achieved_tflops": 18.8, "threads": 16, "load_average": 1.0}
    return {**row, **overrides}


def test_reliability_warnings():
    assert reliability_warnings(_row()) == []
    problems = reliability_warnings(_row(load_average=3.5, threads=2, spread=0.35, step_s_min=1.0, step_s_max=1.35))
    assert problems == ["machine load 3.5 is above the 2 threads used", "step times spread 35 % (1-1.35 s)"]


def test_tables_show_speedups_share_of_peak_and_failures():
    rows = [_row(), _row(case="cyclegan_256_best", precision="bf16", batch=16, images_per_s=45.0,
                         achieved_tflops=84.6, channels_last=True),
            {"label": "cyclegan_compiled", "status": "timeout", "error": "timeout after 150 s: compiling"}]
    text = format_table(rows, peak_tflops=800.0).splitlines()
    assert text[0].split()[:3] == ["case", "precision", "batch"] and len(text) == 4
    assert "4.50x" in text[2] and "10.6 %" in text[2] and "2.00 GB GPU" in text[1]
    assert "timeout" in text[3] and "compiling" in text[3]
    env = {"date": "2026-11-27 12:00 UTC", "commit": "abc1234", "gpu": "NVIDIA H100 80GB HBM3", "torch": "2.11.0",
           "cuda": "13.0", "cpu_model": "Xeon", "cpu_flags": ["avx512_bf16"], "mkldnn_bf16": True}
    report = markdown_report(env, rows, title="GPU suite", peak_tflops=800.0, notes=["CUDA tests: 1 passed"])
    assert "Commit: abc1234" in report and "NVIDIA H100 80GB HBM3" in report and "CUDA 13.0" in report
    assert "avx512_bf16" in report and "native oneDNN bf16: yes" in report and "- CUDA tests: 1 passed" in report
    assert report.count("\n| ") == 5  # header, separator, three rows


def test_junit_summary(tmp_path):
    xml = tmp_path / "junit.xml"
    xml.write_text('<testsuites><testsuite><testcase classname="tests.test_cuda" name="test_a"/>'
                   '<testcase classname="tests.test_cuda" name="test_b"><failure message="boom&#10;deep"/></testcase>'
                   '<testcase classname="tests.test_cuda" name="test_c"><skipped message="no"/></testcase>'
                   '</testsuite></testsuites>')
    assert junit_notes(xml) == ["CUDA tests: 1 passed, 1 failed, 1 skipped.", "failed: tests.test_cuda::test_b: boom"]
    assert "no result file" in junit_notes(tmp_path / "missing.xml")[0]


def test_suite_entries_name_real_cases():
    from i2i.benchmark import CASES

    entries = suite_entries()
    assert len({e.label for e in entries}) == len(entries)
    assert all(case in CASES for e in entries for case in e.cases)
    assert all(t["decode"] in ("workers", "device") for e in entries for t in e.translate)
    gpu = [e for e in entries if e.cuda]
    assert all(e.options.get("device") == "cuda" for e in gpu if e.cases)
    assert all(t["device"] == "cuda" for e in gpu for t in e.translate)


def test_a_failing_case_is_recorded_and_the_entry_goes_on(monkeypatch, tmp_path):
    from i2i.benchmark import measure, suite

    calls = []

    def fake_run_case(case, options, precision):
        calls.append((case, precision))
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB\nmore detail")
        return {"case": case, "precision": precision, "images_per_s": 1.0}

    monkeypatch.setattr(measure, "run_case", fake_run_case)
    entry = suite.SuiteEntry("two", 10, ("cyclegan_256_b1", "pix2pix_256_b1"), ("fp32",), {"device": "cpu"},
                             cuda=False)
    monkeypatch.setattr(suite, "_entry", lambda label: entry)
    rows = []
    suite.run_entry("two", rows.append, tmp_path)
    assert calls == [("cyclegan_256_b1", "fp32"), ("pix2pix_256_b1", "fp32")]
    assert rows[0] == {"case": "cyclegan_256_b1", "precision": "fp32", "status": "failed",
                       "error": "OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB"}
    assert rows[1]["images_per_s"] == 1.0
