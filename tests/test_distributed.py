"""torchrun + DDP on the CPU (gloo, 2 processes): ranks stay identical and match a 1-process run."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from conftest import tiny_config

WORKER = Path(__file__).with_name("ddp_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(out: Path, nproc: int, args: list[str], *, elastic: bool = False,
         env: dict[str, str] | None = None) -> dict[str, torch.Tensor]:
    """Train under torchrun; elastic: c10d rendezvous with one restart allowed (the documented invocation)."""
    out.mkdir(parents=True, exist_ok=True)
    launch = (["--nnodes=1", "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{_free_port()}", "--max-restarts=1",
               "--monitor-interval=0.5"] if elastic else ["--master_addr=127.0.0.1", f"--master_port={_free_port()}"])
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", *launch, str(WORKER),
           str(out), *args]
    # Bounded: a hang fails the test instead of blocking CI (I2I_DIST_TIMEOUT bounds each collective).
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "I2I_DIST_TIMEOUT": "60", **(env or {})})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    _run.stdout = proc.stdout
    return {r: torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(nproc)}


def test_ddp_matches_single_process(tmp_path, unpaired_root):
    # Serial pairing, no flips, no pool: both runs see the same images per step; instance norm is per image.
    args = tiny_config(tmp_path, "cyclegan", unpaired_root, "train.max_steps=3", "data.batch_size=2",
                       "data.serial_batches=true", "data.flip=false", "data.preprocess=none", "cyclegan.pool_size=0")
    ddp = _run(tmp_path / "ddp", 2, args + [f"output_dir={tmp_path / 'ddp'}"])
    for key, value in ddp[0].items():
        assert torch.equal(value, ddp[1][key]), f"ranks differ at {key}"
    single = _run(tmp_path / "single", 1, args + [f"output_dir={tmp_path / 'single'}"])[0]
    # A conv bias right before an instance norm has an analytically zero gradient: its float noise differs between
    # the runs and Adam scales that noise to lr-sized steps. Such biases cannot change any output, so skip them.
    cancelled = [k for k in single if k.endswith(".bias") and ".head." not in k and not k.startswith(("D_A.stem",
                                                                                                   "D_B.stem"))]
    compared = [k for k in single if k not in cancelled and single[k].is_floating_point()]
    assert len(compared) > len(cancelled)
    worst = max((single[k] - ddp[0][k]).abs().max().item() for k in compared)
    assert worst < 1e-5, worst
    assert (tmp_path / "ddp" / "tiny" / "checkpoints").is_dir()  # rank 0 wrote it

    # Resume the 1-process run with 2 processes: it goes on from step 3 and the ranks agree.
    resumed = _run(tmp_path / "single", 2, args + [f"output_dir={tmp_path / 'single'}", "train.resume=true",
                                                   "train.max_steps=5"])
    for key, value in resumed[0].items():
        assert torch.equal(value, resumed[1][key]), f"ranks differ at {key} after resuming"
    assert (tmp_path / "single" / "tiny" / "checkpoints" / "state_00000005.pt").is_file()


def test_ddp_batch_not_divisible_is_a_clear_error(tmp_path, unpaired_root):
    args = tiny_config(tmp_path, "cyclegan", unpaired_root, "train.max_steps=1", "data.batch_size=3")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", str(Path(__file__).resolve().parents[1] / "tools" / "train.py"),
           "--cfg", "cyclegan_horse2zebra", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "data.batch_size: 3 is not divisible by the 2 processes" in proc.stderr


def test_killed_rank_restarts_resumes_and_matches_an_uninterrupted_run(tmp_path, unpaired_root):
    """torchrun --max-restarts with c10d: rank 1 is SIGKILLed once at step 3 (after the checkpoint of step 2); the
    restarted group resumes from step 2, completes, and ends bit for bit where an uninterrupted run ends."""
    args = tiny_config(tmp_path, "cyclegan", unpaired_root, "train.max_steps=5", "data.batch_size=2",
                       "train.ckpt_every=2", "train.resume=true", "cyclegan.pool_size=3")
    full = _run(tmp_path / "full", 2, args + [f"output_dir={tmp_path / 'full'}"])
    marker = tmp_path / "killed"
    killed = _run(tmp_path / "killed_run", 2, args + [f"output_dir={tmp_path / 'killed_run'}"], elastic=True,
                  env={"KILL_STEP": "3", "KILL_MARKER": str(marker)})
    assert marker.is_file(), "rank 1 was never killed"
    assert "rank 1 restart 1 at step 2" in _run.stdout and "finished at step 5" in _run.stdout
    worst = max((full[0][k].float() - killed[0][k].float()).abs().max().item() for k in full[0])
    assert worst == 0.0, worst
