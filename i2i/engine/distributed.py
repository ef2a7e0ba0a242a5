"""torchrun / DistributedDataParallel plumbing: process group setup with bounded timeouts, rank-state gathering
and a resumable distributed sampler.

Elastic runs (a killed worker restarts the group, which resumes from the last checkpoint)::

    torchrun --nnodes 1 --nproc_per_node 4 --rdzv-backend c10d --rdzv-endpoint localhost:29400 --max-restarts 3 \
        tools/train.py --cfg cyclegan_horse2zebra train.resume=true

``I2I_DIST_TIMEOUT`` (seconds, default 600) bounds process-group set-up and every collective: a rank that stops
answering turns into an error on the others (and, under torchrun, a restart) instead of a silent wait.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from i2i.errors import UserError, first_line
from i2i.runtime import resolve_device


@dataclass
class DistInfo:
    """Where this process stands: rank, world size and local rank (all 0/1/0 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_request: str) -> tuple[DistInfo, torch.device]:
    """Join the process group that torchrun describes in the environment and pick this process's device.

    Args:
        device_request: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
    """
    info = DistInfo(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                    int(os.environ.get("LOCAL_RANK", 0)))
    device = resolve_device(device_request, local_rank=info.local_rank if info.enabled else None)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if info.enabled and not dist.is_initialized():
        timeout = timedelta(seconds=dist_timeout())
        try:
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", timeout=timeout,
                                    **_restart_store(info, timeout))
        except (RuntimeError, ValueError, OSError) as err:
            raise DistributedError(f"rank {info.rank}: cannot join the process group of {info.world_size} at "
                                   f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')} within "
                                   f"{timeout.total_seconds():.0f} s ({first_line(err)}); check that every node "
                                   "started, or raise I2I_DIST_TIMEOUT") from None
    return info, device


def _restart_store(info: DistInfo, timeout: timedelta) -> dict[str, Any]:
    """Under torchrun, a store namespace of its own for each restart (``TORCHELASTIC_RESTART_COUNT``).

    With the c10d rendezvous the workers share the agent's TCPStore across restarts, and the process group's keys
    are not namespaced by restart: a restarted rank can read the address that a dead rank of the previous round
    published there, and gloo's connectFullMesh then fails with "Connection refused" or waits for a peer that
    never comes. A prefix per restart count makes every round start from empty keys.
    """
    restart = os.environ.get("TORCHELASTIC_RESTART_COUNT")
    if restart is None or "MASTER_ADDR" not in os.environ:
        return {}
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), info.world_size,
                          is_master=info.is_main and not agent_store, timeout=timeout)
    return {"store": dist.PrefixStore(f"i2i/restart_{restart}", store), "rank": info.rank,
            "world_size": info.world_size}


class DistributedError(UserError, RuntimeError):
    """Process-group set-up or a collective failed or timed out; under torchrun the group restarts."""


def dist_timeout() -> float:
    """Seconds that process-group set-up and collectives may take (``I2I_DIST_TIMEOUT``, default 600)."""
    value = os.environ.get("I2I_DIST_TIMEOUT", "600")
    try:
        seconds = float(value)
    except ValueError:
        raise DistributedError(f"I2I_DIST_TIMEOUT: '{value}' is not a number of seconds") from None
    if seconds <= 0:
        raise DistributedError(f"I2I_DIST_TIMEOUT: must be > 0, got {value}")
    return seconds


def gather_to_main(obj: Any, info: DistInfo) -> list[Any] | None:
    """Every rank's ``obj`` (picklable), in rank order, on rank 0 (None elsewhere); ``[obj]`` without torchrun."""
    if not info.enabled:
        return [obj]
    gathered: list[Any] | None = [None] * info.world_size if info.is_main else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class ResumableSampler(DistributedSampler):
    """DistributedSampler (one replica without torchrun) whose epoch order depends only on (seed, epoch), and that
    can start part-way through an epoch: ``start_batch`` batches of ``batch_size`` are skipped without loading them.

    For a dataset with ``accepts_seeded_keys`` it yields :class:`i2i.data.SeededIndex` keys whose seed is
    ``sample_seed(seed, epoch, index)``: each item's augmentation is then a function of (seed, epoch, index), the
    same with any number of DataLoader workers or processes, and after a resume.
    """

    def __init__(self, dataset, *, num_replicas: int, rank: int, shuffle: bool, seed: int, batch_size: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=False)
        self.batch_size = batch_size
        self.start_batch = 0
        self.seeded = bool(getattr(dataset, "accepts_seeded_keys", False))

    def __iter__(self):
        from i2i.data.datasets import SeededIndex, sample_seed

        indices = list(super().__iter__())[self.start_batch * self.batch_size:]
        if not self.seeded:
            return iter(indices)
        return iter([SeededIndex(i, sample_seed(self.seed, self.epoch, i)) for i in indices])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start_batch * self.batch_size)
