"""What a benchmark ran on: device, CPU model and flags, library versions, commit, date and machine load.

Every figure is written with this header (the first JSON line of a results file, and the Markdown report), because
CPU hosts of the same kind differ: some have native bf16 (AVX512-BF16 / AMX) and some emulate it 50x slower.
"""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

# CPU flags that decide how fast fp32/bf16/fp16 convolutions run on the CPU (as /proc/cpuinfo names them).
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
             "amx_fp16", "amx_int8")
REPO = PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the i2i package (a clone's root)


def cpu_info() -> dict[str, Any]:
    """CPU model, the :data:`CPU_FLAGS` it has, torch's CPU capability and whether oneDNN has native bf16."""
    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:  # not Linux: the model from platform, no flags
        pass
    model = model or platform.processor() or platform.machine()
    return {"cpu_model": model, "cpu_count": os.cpu_count(), "cpu_flags": [f for f in CPU_FLAGS if f in flags],
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "mkldnn_bf16": bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())}


def gpu_info() -> dict[str, Any]:
    """Name, memory, compute capability and count of the visible CUDA devices (empty without CUDA)."""
    if not torch.cuda.is_available():
        return {}
    props = torch.cuda.get_device_properties(0)
    return {"gpu": props.name, "gpu_count": torch.cuda.device_count(),
            "gpu_memory_gib": round(props.total_memory / 2**30, 1), "gpu_capability": f"{props.major}.{props.minor}",
            "gpu_sms": props.multi_processor_count}


def git_commit(default: str = "unknown") -> str:
    """The short commit of the checkout (``+dirty`` with uncommitted changes), ``$I2I_COMMIT``, or ``default``."""
    if os.environ.get("I2I_COMMIT"):
        return os.environ["I2I_COMMIT"]
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return default
    return f"{commit}+dirty" if dirty else commit


def command(name: str) -> list[str]:
    """argv that runs the ``i2i-<name>`` command in a fresh Python (as ``python -m i2i.commands.<name>``)."""
    return [sys.executable, "-m", f"i2i.commands.{name}"]


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with the i2i package importable (a clone need not be installed)."""
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def load_average() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def environment() -> dict[str, Any]:
    """The header written before the results: date (UTC), commit, versions, CPU, GPU and load."""
    return {
        "record": "environment",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(), "python": platform.python_version(), "torch": torch.__version__,
        "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(), "load_average": load_average(), **cpu_info(), **gpu_info(),
    }
