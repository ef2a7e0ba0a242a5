"""torchrun / DistributedDataParallel plumbing: process group setup and a resumable distributed sampler."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

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
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return info, device


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
