"""Readable output of benchmark rows: a plain-text table for the terminal, a Markdown report for the docs, and the
warnings that say when the machine's load makes timings unreliable."""
from __future__ import annotations

from typing import Any

UNRELIABLE_SPREAD = 0.2  # (max - min) / min of the timed steps above which a row's timing is flagged


def reliability_warnings(row: dict[str, Any]) -> list[str]:
    """Why ``row``'s timing may not be trusted: load above the threads used, or step times spread > 20 %."""
    problems = []
    load, threads = row.get("load_average"), row.get("threads")
    if load is not None and threads and load > threads:
        problems.append(f"machine load {load:g} is above the {threads} threads used")
    if row.get("spread") is not None and row["spread"] > UNRELIABLE_SPREAD:
        problems.append(f"step times spread {100 * row['spread']:.0f} % "
                        f"({row['step_s_min']:g}-{row['step_s_max']:g} s)")
    return problems


def _yes(value: Any) -> str:
    return "yes" if value else "no"


def _memory(row: dict[str, Any]) -> str:
    if row.get("peak_memory_mb") is None:
        return ""
    unit = "GPU" if str(row.get("memory_kind", "")).startswith("cuda") else "RSS"
    return f"{row['peak_memory_mb'] / 1024:.2f} GB {unit}"


def _cells(row: dict[str, Any], peak_tflops: float | None, baselines: dict[tuple[str, str], float]
           ) -> list[str]:
    """One table line; rows that did not run show their status and reason."""
    name = row.get("label") or row.get("case", "?")
    if row.get("status", "ok") != "ok":
        return [name, row.get("precision", ""), str(row.get("batch", "")), "", "", row["status"],
                "", "", "", "", "", row.get("error", "")[:100]]
    tflops = row.get("achieved_tflops")
    share = f"{100 * tflops / peak_tflops:.1f} %" if tflops and peak_tflops else ""
    base = baselines.get(_family(row))
    speedup = f"{row['images_per_s'] / base:.2f}x" if base and row.get("images_per_s") else ""
    timing = (f"{row['step_s_median']:.4g} ({row['step_s_min']:.4g}-{row['step_s_max']:.4g})"
              if row.get("step_s_median") is not None else "")
    return [name, row.get("precision", ""), str(row.get("batch", "")), _yes(row.get("compile")),
            _yes(row.get("channels_last")), f"{row['images_per_s']:.4g}" if row.get("images_per_s") else "",
            timing, _memory(row), f"{tflops:.4g}" if tflops else "", share, speedup,
            "; ".join(reliability_warnings(row) + ([row["note"]] if row.get("note") else []))]


HEADER = ["case", "precision", "batch", "compile", "channels_last", "images/s", "s/step median (min-max)",
          "peak memory", "TFLOP/s", "% of bf16 peak", "x fp32 eager b1", "notes"]


def _baselines(rows: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """images/s of the fp32, eager, contiguous, batch-1 row of each :func:`_family`."""
    found = {}
    for row in rows:
        if (row.get("status", "ok") == "ok" and row.get("precision") == "fp32" and row.get("batch") == 1
                and not row.get("compile") and not row.get("channels_last") and row.get("images_per_s")):
            found.setdefault(_family(row), row["images_per_s"])
    return found


def _family(row: dict[str, Any]) -> tuple[str, str]:
    """Rows compared with the same baseline: same kind and algorithm (training) or generator (inference)."""
    return row.get("kind") or "", row.get("algorithm") or row.get("generator") or ""


def format_table(rows: list[dict[str, Any]], peak_tflops: float | None = None) -> str:
    """A plain-text table of result rows, columns padded to their widest cell."""
    lines = [HEADER] + [_cells(row, peak_tflops, _baselines(rows)) for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def markdown_table(rows: list[dict[str, Any]], peak_tflops: float | None = None) -> str:
    """The same table in Markdown."""
    lines = [HEADER, ["---"] * len(HEADER)] + [_cells(row, peak_tflops, _baselines(rows)) for row in rows]
    return "\n".join("| " + " | ".join(cell.replace("|", "/") for cell in line) + " |" for line in lines)


def environment_lines(env: dict[str, Any]) -> list[str]:
    """The header of a report: date, commit, device, versions, CPU model and flags, load."""
    device = env.get("gpu") or "no GPU"
    if env.get("gpu"):
        device += f" ({env.get('gpu_memory_gib')} GiB, sm {env.get('gpu_capability')}, x{env.get('gpu_count')})"
    return [
        f"- Date: {env.get('date')}. Commit: {env.get('commit')}.",
        f"- Device: {device}. torch {env.get('torch')}, CUDA {env.get('cuda')}, cuDNN {env.get('cudnn')}, "
        f"Python {env.get('python')}.",
        f"- CPU: {env.get('cpu_model')}, {env.get('cpu_count')} logical CPUs, {env.get('torch_threads')} torch "
        f"threads; flags: {', '.join(env.get('cpu_flags') or []) or 'none of interest'}; torch CPU capability "
        f"{env.get('cpu_capability')}; native oneDNN bf16: {_yes(env.get('mkldnn_bf16'))}. "
        f"Load average at the start: {env.get('load_average')}.",
    ]


def markdown_report(env: dict[str, Any], rows: list[dict[str, Any]], *, title: str,
                    peak_tflops: float | None = None, notes: list[str] | None = None) -> str:
    """A ready-to-paste Markdown section: title, environment, table and notes."""
    parts = [f"### {title}", "", *environment_lines(env)]
    if peak_tflops:
        parts.append(f"- bf16 dense peak measured here (8192^3 matmul): {peak_tflops:.0f} TFLOP/s.")
    parts += ["", markdown_table(rows, peak_tflops), ""]
    parts += [f"- {note}" for note in notes or []]
    return "\n".join(parts).rstrip() + "\n"
