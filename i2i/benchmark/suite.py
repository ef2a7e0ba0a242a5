"""The GPU suite: every benchmark case the issue asks for, each in its own process with its own time budget.

``i2i-benchmark --suite gpu --out-dir DIR`` (called by ``tools/gpu_check.sh``) runs the entries of
:func:`suite_entries` in order, each as ``i2i-benchmark --suite-entry LABEL`` in a child process killed when
its budget is spent; rows are streamed to a file, so a case that finished before a timeout is kept. A failing or
timed-out entry is recorded and the suite goes on; entries that no longer fit the total budget are recorded as
skipped. On a machine without CUDA the GPU entries are recorded as skipped and small CPU entries exercise the same
code. Outputs: ``DIR/results.jsonl`` (an environment line, then one line per row) and ``DIR/report.md``.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from i2i.benchmark.cases import BenchmarkOptions
from i2i.benchmark.host import child_environment, command, environment
from i2i.benchmark.report import markdown_report
from i2i.errors import first_line
from i2i.registry import nearest

CYCLEGAN_BEST, PIX2PIX_BEST = 16, 32  # the "best batch" of the *_best cases (not swept: see docs/benchmarks.md)
RESNET9 = {"in_channels": 3, "out_channels": 3, "ngf": 64, "norm": "instance", "use_dropout": False}
TINY_RESNET = {"in_channels": 3, "out_channels": 3, "ngf": 4, "n_blocks": 2, "norm": "instance",
               "use_dropout": False}


@dataclass
class SuiteEntry:
    """One child process of the suite.

    Attributes:
        label: Unique name (``--suite-entry LABEL``).
        budget_s: Wall-clock seconds the child may run (process start and compilation included).
        cases: Benchmark presets run with ``precisions`` and ``options``.
        precisions: Each case is run once per precision.
        options: :class:`BenchmarkOptions` fields.
        translate: Folder translations, each the keyword arguments of
            :func:`i2i.benchmark.folder.run_folder_case` (run after the cases).
        peak: Measure the bf16 matmul rate first (the denominator of "% of bf16 peak").
        cuda: Needs CUDA (skipped without it); CPU entries run with one thread (``OMP_NUM_THREADS=1``).
    """

    label: str
    budget_s: float
    cases: tuple[str, ...] = ()
    precisions: tuple[str, ...] = ("fp32",)
    options: dict[str, Any] = field(default_factory=dict)
    translate: tuple[dict[str, Any], ...] = ()
    peak: bool = False
    cuda: bool = True


def _gpu_entries() -> list[SuiteEntry]:
    """In priority order (the issue's targets: CycleGAN training, inference, translate.py, then pix2pix): a spent
    budget loses the last entries first."""
    fast = {"device": "cuda", "warmup": 3, "steps": 10}
    tuned = {**fast, "channels_last": True}
    compiled = {**tuned, "compile": True, "warmup": 3}
    translate = {"device": "cuda", "precision": "bf16", "count": 1024, "size": 256, "architecture": "resnet_9blocks",
                 "kwargs": RESNET9, "batch_size": 64}
    return [
        SuiteEntry("peak_bf16_matmul", 40, peak=True),
        SuiteEntry("cyclegan_eager", 75, ("cyclegan_256_b1", "cyclegan_256_best"), ("fp32", "bf16"),
                   {**fast, "best_batch": CYCLEGAN_BEST}),
        SuiteEntry("cyclegan_channels_last", 45, ("cyclegan_256_b1", "cyclegan_256_best"), ("bf16",),
                   {**tuned, "best_batch": CYCLEGAN_BEST}),
        SuiteEntry("inference_eager", 60, ("infer_resnet9_256_b1", "infer_resnet9_256_b8", "infer_resnet9_256_b64"),
                   ("fp32", "bf16"), fast),
        SuiteEntry("inference_channels_last", 30, ("infer_resnet9_256_b64",), ("bf16",), tuned),
        SuiteEntry("cyclegan_compiled", 150, ("cyclegan_256_best",), ("bf16",),
                   {**compiled, "best_batch": CYCLEGAN_BEST}),
        SuiteEntry("translate_workers", 60, translate=({**translate, "decode": "workers", "num_workers": 8},)),
        SuiteEntry("translate_device_decode", 45, translate=({**translate, "decode": "device"},)),
        SuiteEntry("inference_compiled", 90, ("infer_resnet9_256_b64",), ("bf16",), compiled),
        SuiteEntry("pix2pix_eager", 60, ("pix2pix_256_b1", "pix2pix_256_best"), ("fp32", "bf16"),
                   {**fast, "best_batch": PIX2PIX_BEST}),
        SuiteEntry("pix2pix_channels_last", 30, ("pix2pix_256_best",), ("bf16",),
                   {**tuned, "best_batch": PIX2PIX_BEST}),
        SuiteEntry("pix2pix_compiled", 120, ("pix2pix_256_best",), ("bf16",), {**compiled, "best_batch": PIX2PIX_BEST}),
        SuiteEntry("cut_fastcut_eager", 60, ("cut_256_b1", "fastcut_256_b1"), ("fp32", "bf16"), fast),
    ]


def _cpu_entries() -> list[SuiteEntry]:
    """Seconds-long stand-ins that run the same code on a CPU (tiny networks, 32 px)."""
    tiny = {"device": "cpu", "precision": "fp32", "count": 8, "size": 32, "architecture": "resnet",
            "kwargs": TINY_RESNET, "batch_size": 4}
    return [SuiteEntry("cpu_smoke", 240, ("tiny_infer",), ("fp32",), {"device": "cpu"}, cuda=False,
                       translate=({**tiny, "decode": "workers", "num_workers": 0}, {**tiny, "decode": "device"}))]


def suite_entries(name: str = "gpu") -> list[SuiteEntry]:
    """The entries of suite ``name`` (only ``gpu``): the CUDA entries, then the CPU stand-ins."""
    if name != "gpu":
        raise ValueError(f"--suite: unknown suite '{name}'; valid: gpu")
    return _gpu_entries() + _cpu_entries()


def _entry(label: str) -> SuiteEntry:
    entries = {entry.label: entry for entry in suite_entries()}
    if label not in entries:
        raise KeyError(f"--entries: unknown suite entry '{label}'{nearest(label, list(entries))}; "
                       f"valid: {', '.join(entries)}")
    return entries[label]


# In the child process.

def peak_bf16_tflops(size: int = 8192, repeats: int = 10) -> dict[str, Any]:
    """The measured dense bf16 matmul rate (the denominator of "% of bf16 peak"), mean of ``repeats`` products."""
    a, b = (torch.randn(size, size, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    tic = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize()
    tflops = 2 * size**3 * repeats / (time.perf_counter() - tic) / 1e12
    return {"case": "peak_bf16_matmul", "kind": "peak", "precision": "bf16", "batch": None,
            "achieved_tflops": round(tflops, 1), "note": f"{size}^3 bf16 matmul, random data, mean of {repeats}"}


def run_entry(label: str, sink: Callable[[dict[str, Any]], None], work: Path) -> None:
    """Run one entry in this process, passing each result row to ``sink`` as soon as it is measured."""
    from i2i.benchmark.folder import run_folder_case
    from i2i.benchmark.measure import release_memory, run_case

    entry = _entry(label)
    runs: list[tuple[dict[str, Any], Callable[[], dict[str, Any]]]] = []
    if entry.peak:
        runs.append(({"case": "peak_bf16_matmul"}, peak_bf16_tflops))
    options = BenchmarkOptions(**entry.options)
    runs += [({"case": case, "precision": precision}, lambda c=case, p=precision: run_case(c, options, p))
             for case in entry.cases for precision in entry.precisions]
    runs += [({"case": f"translate_{kw['decode']}", "precision": kw["precision"]},
              lambda kw=kw: run_folder_case(work, timeout=entry.budget_s, **kw)) for kw in entry.translate]
    for what, run in runs:  # one failing case (out of memory at a large batch, say) does not stop the others
        try:
            sink(run())
        except Exception as err:  # noqa: BLE001 - recorded in the results, the suite goes on
            sink({**what, "status": "failed", "error": f"{type(err).__name__}: {first_line(err)}"})
            release_memory(torch.device("cuda" if torch.cuda.is_available() else "cpu"), compiled=True)


# In the parent process.

def _run_child(entry: SuiteEntry, timeout: float, work: Path) -> tuple[list[dict[str, Any]], str | None]:
    """Run ``entry`` in a child process; returns its rows and, if it did not finish cleanly, why."""
    rows_file = work / f"{entry.label}.jsonl"
    cmd = [*command("benchmark"), "--suite-entry", entry.label, "--out", str(rows_file), "--work-dir", str(work)]
    env = child_environment(None if entry.cuda else {"OMP_NUM_THREADS": "1"})
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                          start_new_session=True) as child:
        try:
            output, _ = child.communicate(timeout=timeout)
            problem = None if child.returncode == 0 else f"failed (exit {child.returncode})"
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            output, _ = child.communicate()
            problem = f"timeout after {timeout:.0f} s"
    sys.stdout.write(output or "")
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()] if rows_file.exists() else []
    if problem:
        tail = [line for line in (output or "").splitlines() if line.strip()]
        problem += f": {tail[-1][:300]}" if tail else ""
    return [r for r in rows if r.get("record") != "environment"], problem


def _status_row(entry: SuiteEntry, status: str, error: str = "") -> dict[str, Any]:
    return {"record": "result", "label": entry.label, "entry": entry.label, "status": status, "error": error,
            "cases": list(entry.cases) + [f"translate_{t['decode']}" for t in entry.translate],
            "budget_s": entry.budget_s}


def run_suite(out_dir: Path, *, budget_s: float, log: Callable[[str], None] = print,
              extra_notes: list[str] | None = None, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Run the GPU suite into ``out_dir`` within ``budget_s`` seconds; returns every row written.

    An entry starts only when at least half its budget is left, and gets at most what is left. ``only`` runs just
    the entries with those labels (e.g. the ones a first run had to skip).
    """
    entries = [_entry(label) for label in only] if only else suite_entries()
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment()
    has_cuda = torch.cuda.is_available()
    deadline = time.monotonic() + budget_s
    results = out_dir / "results.jsonl"
    results.write_text(json.dumps(env) + "\n")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="i2i_suite_") as tmp:
        for entry in entries:
            left = deadline - time.monotonic()
            if entry.cuda and not has_cuda:
                new = [_status_row(entry, "skipped", "needs CUDA")]
            elif not entry.cuda and has_cuda:
                continue  # the CPU stand-ins only run where the GPU entries cannot
            elif left < entry.budget_s / 2:
                new = [_status_row(entry, "skipped", f"suite budget spent ({left:.0f} s left)")]
            else:
                log(f"[suite] {entry.label}: up to {min(entry.budget_s, left):.0f} s")
                tic = time.monotonic()
                measured, problem = _run_child(entry, min(entry.budget_s, left), Path(tmp))
                new = [{"record": "result", "entry": entry.label, "status": "ok", **row} for row in measured]
                if problem:
                    new.append(_status_row(entry, problem.split()[0], problem))
                log(f"[suite] {entry.label}: {len(measured)} row(s) in {time.monotonic() - tic:.0f} s"
                    + (f"; {problem}" if problem else ""))
            rows += new
            with results.open("a") as file:
                file.writelines(json.dumps(row) + "\n" for row in new)
    peak = next((r["achieved_tflops"] for r in rows if r.get("kind") == "peak" and r.get("status") == "ok"), None)
    title = f"GPU suite on {env.get('gpu', 'a machine without CUDA')}"
    (out_dir / "report.md").write_text(markdown_report(env, [r for r in rows if r.get("kind") != "peak"], title=title,
                                                       peak_tflops=peak, notes=extra_notes))
    return rows



def junit_notes(junit_xml: Path) -> list[str]:
    """One line summing up a pytest JUnit XML file (the CUDA tests), plus one line per failed test."""
    import xml.etree.ElementTree as ET

    if not junit_xml.is_file():
        return [f"CUDA tests: no result file ({junit_xml.name}); they did not run or were killed"]
    cases = list(ET.parse(junit_xml).getroot().iter("testcase"))
    outcome = {"failed": [], "skipped": [], "passed": []}
    for case in cases:
        kind = next((k for k, tags in (("failed", ("failure", "error")), ("skipped", ("skipped",)))
                     if any(case.find(tag) is not None for tag in tags)), "passed")
        outcome[kind].append(case)
    notes = [f"CUDA tests: {len(outcome['passed'])} passed, {len(outcome['failed'])} failed, "
             f"{len(outcome['skipped'])} skipped."]
    for case in outcome["failed"]:
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        message = (problem.get("message") or "").splitlines()[0][:200] if problem is not None else ""
        notes.append(f"failed: {case.get('classname')}::{case.get('name')}: {message}")
    return notes
