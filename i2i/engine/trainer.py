"""The training loop: device, precision, distribution, data and state; periodic side effects are hooks."""
from __future__ import annotations

import math
import random
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Subset

from i2i import checkpoint as ckpt
from i2i.algorithms import build_algorithm
from i2i.config import Config, dump_config
from i2i.data.datasets import KeyedSubset
from i2i.engine.distributed import ResumableSampler, cleanup_distributed, gather_to_main, init_distributed
from i2i.engine.ema import EMAHook
from i2i.engine.hooks import (CheckpointHook, HookBase, LossCheckHook, LRScheduleHook, MetricWriterHook,
                              ProgressBarHook, SampleGridHook, ValidationHook)
from i2i.engine.reporting import Reporter
from i2i.engine.trackers import TrackerHook, build_trackers
from i2i.engine.schedule import build_schedulers
from i2i.errors import first_line
from i2i.export import export_generator
from i2i.runtime import Precision, configure_backends, out_of_memory_message, resolve_precision


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, compile failure, out of memory); the message says what to do."""


class TrainingInterrupted(KeyboardInterrupt):
    """A second SIGINT/SIGTERM stopped training mid-step; the message says how many steps are lost."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def split_train_val(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A fixed random split of ``range(n)``: (train indices, validation indices)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = max(1, round(n * fraction)) if fraction > 0 else 0
    return sorted(order[n_val:]), sorted(order[:n_val])


def default_hooks(cfg: Config, is_main: bool) -> list[HookBase]:
    """The hooks every run has, in firing order (EMA first, so samples, validation and exports see its update)."""
    hooks: list[HookBase] = [LRScheduleHook()]
    if cfg.train.ema is not None:
        hooks.append(EMAHook(cfg.train.ema))
    hooks += [LossCheckHook(), MetricWriterHook(), SampleGridHook(), ValidationHook(), CheckpointHook()]
    if is_main and cfg.train.progress:
        hooks.append(ProgressBarHook())
    if is_main:
        hooks += build_trackers(cfg.train.loggers)  # Last: they close after the final checkpoint.
    return hooks


class Trainer:
    """Builds everything a run needs from a :class:`Config` and trains with :meth:`fit`.

    Works alone or under ``torchrun`` (one process per device, DistributedDataParallel). ``data.batch_size`` is
    the global batch; each of the ``world_size`` processes loads ``batch_size / world_size`` images.

    Hooks (:mod:`i2i.engine.hooks`) read the public attributes: ``cfg``, ``step``, ``epoch``, ``algorithm``,
    ``schedulers``, ``reporter`` (rank 0, else None), ``sample_batch``, ``val_dataset``, ``run_dir``, ``dist``,
    ``device``, and call :meth:`loss_values`, :meth:`generators`, :meth:`export` and :meth:`save_checkpoint`.

    Args:
        cfg: the run's config.
        hooks: extra hooks, fired after the default ones (:func:`default_hooks`).
    """

    def __init__(self, cfg: Config, hooks: list[HookBase] | None = None) -> None:
        self.cfg = cfg
        self.dist, self.device = init_distributed(cfg.device)
        configure_backends(self.device, cudnn_benchmark=cfg.train.cudnn_benchmark, tf32=cfg.train.tf32)
        self.precision = Precision(resolve_precision(cfg.train.precision, self.device), self.device)
        self.run_dir = cfg.run_dir
        self.stop_requested = False
        self.step = self.epoch = self.batch_in_epoch = 0
        self.last_logs: dict[str, Tensor] = {}
        self.read_values: dict[str, float] | None = None  # the losses as floats, once read this step
        self.ema_generators: dict[str, nn.Module] = {}  # filled by the EMA hook
        self.saved_step: int | None = None  # step of the last training state written or resumed from
        ckpt.prepare_run_dir(self.run_dir, resume=cfg.train.resume, overwrite=cfg.train.overwrite,
                             is_main=self.dist.is_main)

        seed_everything(cfg.seed)
        self._build_data()
        self.algorithm = build_algorithm(cfg, self.device, self.precision)
        self._prepare_networks()
        self.schedulers = build_schedulers(self.algorithm.optimizers, cfg.optim)
        self.sample_batch = self._make_sample_batch()
        if self.dist.is_main:
            dump_config(cfg, self.run_dir / "config.yaml")
        seed_everything(cfg.seed + self.dist.rank)
        self.hooks: list[HookBase] = []
        self.register_hooks(default_hooks(cfg, self.dist.is_main) + list(hooks or []))
        trackers = [hook for hook in self.hooks if isinstance(hook, TrackerHook)]
        self.reporter = Reporter(self.run_dir, trackers) if self.dist.is_main else None
        if cfg.train.resume:
            self._resume()

    def register_hooks(self, hooks: list[HookBase]) -> None:
        """Append ``hooks`` (fired in list order) and give each a reference to this trainer."""
        names = {hook.name for hook in self.hooks}
        for hook in hooks:
            if hook.name in names:
                raise ValueError(f"a hook named '{hook.name}' is already registered; give it another name")
            names.add(hook.name)
            hook.trainer = self
            self.hooks.append(hook)

    # Set-up.

    def _build_data(self) -> None:
        from i2i.data import build_dataloader, build_dataset

        cfg = self.cfg
        if self.dist.enabled and not self.dist.is_main:
            torch.distributed.barrier()  # let rank 0 write a synthetic dataset first
        dataset = build_dataset(cfg.data, train=True)
        if self.dist.enabled and self.dist.is_main:
            torch.distributed.barrier()
        self.val_dataset = None
        if cfg.eval.val_fraction > 0:
            train_idx, val_idx = split_train_val(len(dataset), cfg.eval.val_fraction, cfg.seed)
            self.val_dataset = Subset(build_dataset(cfg.data, train=False), val_idx[:cfg.eval.max_images])
            dataset = KeyedSubset(dataset, train_idx)
        elif cfg.eval.val_phase:
            from dataclasses import replace

            val_data = build_dataset(replace(cfg.data, phase=cfg.eval.val_phase), train=False)
            self.val_dataset = Subset(val_data, list(range(min(len(val_data), cfg.eval.max_images))))
        self.dataset = dataset
        world = self.dist.world_size
        if cfg.data.batch_size % world:
            raise ValueError(f"data.batch_size: {cfg.data.batch_size} is not divisible by the {world} processes "
                             f"started by torchrun; use a multiple of {world}")
        self.local_batch = cfg.data.batch_size // world
        if self.local_batch % cfg.train.grad_accum:
            raise ValueError(f"train.grad_accum: {cfg.train.grad_accum} does not divide the per-process batch "
                             f"{self.local_batch} (data.batch_size / processes)")
        self.sampler = ResumableSampler(dataset, num_replicas=world, rank=self.dist.rank,
                                        shuffle=not cfg.data.serial_batches,
                                        seed=cfg.seed, batch_size=self.local_batch)
        loader_cfg = cfg.data if world == 1 else _replace_batch(cfg.data, self.local_batch)
        self.loader = build_dataloader(dataset, loader_cfg, shuffle=False, sampler=self.sampler, seed=cfg.seed,
                                       drop_last=cfg.train.grad_accum > 1)
        self.steps_per_epoch = len(self.loader)
        if self.steps_per_epoch == 0:
            raise ValueError(f"data.root: '{cfg.data.root}' gives no full batch of {self.local_batch} images")
        from i2i.data import build_gpu_augment

        self.gpu_augment = build_gpu_augment(cfg.data)
        if self.gpu_augment is not None:
            self.gpu_augment.to(self.device)

    def _prepare_networks(self) -> None:
        cfg, algo = self.cfg, self.algorithm
        if cfg.train.sync_batchnorm and self.dist.enabled:
            if self.device.type == "cuda":
                for name in list(algo.nets):
                    algo.nets[name] = nn.SyncBatchNorm.convert_sync_batchnorm(algo.nets[name])
            else:
                warnings.warn("train.sync_batchnorm needs CUDA; ignored on the CPU", stacklevel=2)
        wrap_trained = None
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            wrap_trained = lambda net: DistributedDataParallel(net, device_ids=ids)  # noqa: E731
        algo.prepare(channels_last=cfg.train.channels_last,
                     compile_mode=cfg.train.compile_mode if cfg.train.compile else None, wrap_trained=wrap_trained)

    def _make_sample_batch(self) -> dict[str, Tensor]:
        """A fixed batch of up to 4 images for the sample grids (validation images when there are some)."""
        source = self.val_dataset if self.val_dataset is not None else self.dataset
        items = [source[i] for i in range(min(4, len(source)))]
        batch = {k: torch.stack([it[k] for it in items]) for k in items[0] if isinstance(items[0][k], Tensor)}
        if self.gpu_augment is not None and source is self.dataset:  # uncropped: centre-crop like evaluation
            self.gpu_augment.eval()
            batch["A"], batch["B"] = self.gpu_augment(batch["A"].to(self.device), batch["B"].to(self.device))
            self.gpu_augment.train()
        return self._to_device(batch, augment=False)

    def _to_device(self, batch: dict[str, Any], augment: bool = True) -> dict[str, Any]:
        memory_format = torch.channels_last if self.cfg.train.channels_last else torch.preserve_format
        out = {k: v.to(self.device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in batch.items()}
        if augment and self.gpu_augment is not None:
            out["A"], out["B"] = self.gpu_augment(out["A"], out["B"])
        return {k: v.contiguous(memory_format=memory_format) if isinstance(v, Tensor) and v.dim() == 4 else v
                for k, v in out.items()}

    # What hooks use.

    @property
    def images_per_step(self) -> int:
        return self.local_batch * self.dist.world_size

    def loss_values(self) -> dict[str, float]:
        """This step's losses as floats (read once per step; waits for the GPU), checked to be finite.

        Raises:
            TrainingError: a loss is NaN or infinite; names the last good checkpoint.
        """
        if self.read_values is None:
            self.read_values = {k: float(v) for k, v in self.last_logs.items()}
            for name, value in self.read_values.items():
                if not math.isfinite(value):
                    raise TrainingError(f"step {self.step}: loss '{name}' is {value}; stopping ({self._kept()})")
        return self.read_values

    def _kept(self) -> str:
        states = ckpt.list_states(self.run_dir / "checkpoints")
        return f"last good checkpoint: {states[-1]}" if states else "no checkpoint was written yet"

    def generators(self) -> dict[str, nn.Module]:
        """The generators to sample, validate and export, by net name: the EMA copies when EMA is on."""
        nets = self.algorithm.nets
        return {name: self.ema_generators.get(name, nets[name]) for name in self.algorithm.generator_specs()}

    # Checkpoints.

    def rank_state(self) -> dict[str, Any]:
        """What differs between processes: RNG states and the algorithm's extra state (image pools), on the CPU."""
        return ckpt.to_cpu({"rng": ckpt.capture_rng_state(), "extra": self.algorithm.extra_state()})

    def state_dict(self, ranks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The training state; ``ranks`` (every process's :meth:`rank_state`, in rank order) defaults to this
        process's alone."""
        algo = self.algorithm
        return {
            "version": 2, "step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "world_size": self.dist.world_size, "config": self.cfg.to_dict(),
            "nets": {n: net.state_dict() for n, net in algo.nets.items()},
            "optimizers": {n: opt.state_dict() for n, opt in algo.optimizers.items()},
            "schedulers": {n: s.state_dict() for n, s in self.schedulers.items()},
            "scalers": self.precision.state_dict(), "extra": algo.extra_state(), "rng": ckpt.capture_rng_state(),
            "ranks": ranks if ranks is not None else [self.rank_state()],
            "hooks": {hook.name: state for hook in self.hooks if (state := hook.state_dict()) is not None},
            "generators": {n: {"architecture": s.name, "kwargs": s.kwargs, "direction": s.direction}
                           for n, s in algo.generator_specs().items()},
        }

    def save_checkpoint(self) -> Path | None:
        """Write the training state and the exported generators; keep the last few states.

        Called on every process (each one's RNG and image pools are gathered); rank 0 writes.
        """
        ranks = gather_to_main(self.rank_state(), self.dist)
        self.saved_step = self.step
        if not self.dist.is_main:
            return None
        directory = self.run_dir / "checkpoints"
        path = ckpt.state_path(directory, self.step)
        ckpt.atomic_torch_save(self.state_dict(ranks), path)
        ckpt.prune_states(directory, self.cfg.train.keep_ckpts)
        self.export(self.run_dir / "export")
        return path

    def export(self, folder: Path) -> None:
        """Export every generator to ``folder/<name>``; with EMA on, the raw weights go to ``<folder>_raw/<name>``."""
        data = self.cfg.data
        extra = {"step": self.step, "run": self.cfg.name, "algorithm": self.cfg.model.algorithm,
                 "data": {"preprocess": data.preprocess, "load_size": data.load_size, "crop_size": data.crop_size,
                          "direction": data.direction}}
        generators = self.generators()
        for name, spec in self.algorithm.generator_specs().items():
            kinds = [(folder, generators[name], {"ema": name in self.ema_generators})]
            if name in self.ema_generators:
                kinds.append((folder.with_name(folder.name + "_raw"), self.algorithm.nets[name], {"ema": False}))
            for target, net, flags in kinds:
                export_generator(net, target / name, architecture=spec.name, kwargs=spec.kwargs,
                                 direction=spec.direction, extra={**extra, **flags})

    def _resume(self) -> None:
        found = ckpt.load_latest_state(self.run_dir / "checkpoints", set_aside=self.dist.is_main,
                                       log=print if self.dist.is_main else lambda line: None)
        if found is None:
            if self.dist.is_main:
                print(f"train.resume: no training state in {self.run_dir / 'checkpoints'}; starting from step 0")
            return
        path, state = found
        algo = self.algorithm
        if set(state.get("nets", {})) != set(algo.nets):
            raise ckpt.CheckpointError(f"{path}: holds networks {sorted(state.get('nets', {}))} but "
                                       f"model.algorithm={self.cfg.model.algorithm} builds {sorted(algo.nets)}")
        for name, net in algo.nets.items():
            ckpt.check_state_dict_matches(name, net, state["nets"][name], path)
        for name, net in algo.nets.items():
            net.load_state_dict(state["nets"][name])
        for name, opt in algo.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        for name, sched in self.schedulers.items():
            sched.load_state_dict(state["schedulers"][name])
        self.precision.load_state_dict(state["scalers"])
        same_world = state["world_size"] == self.dist.world_size and len(state.get("ranks", [])) == self.dist.world_size
        own = state["ranks"][self.dist.rank] if same_world else {"rng": state["rng"], "extra": state["extra"]}
        algo.load_extra_state(own["extra"])
        hook_states = dict(state.get("hooks", {}))
        if "best" in state:  # version 1 kept the validation hook's state at the top level
            hook_states.setdefault("validation", {"best": state["best"]})
        for hook in self.hooks:
            if hook.name in hook_states:
                hook.load_state_dict(hook_states[hook.name])
            elif hook.state_dict() is not None and hook.name == "ema":
                print(f"train.ema: {path} has no EMA weights; the EMA starts from the current weights")
        self.step, self.epoch = state["step"], state["epoch"]
        # Samples already consumed this epoch, re-expressed in batches of the current world size.
        consumed = state["batch_in_epoch"] * self.local_batch * state["world_size"] // max(1, self.dist.world_size)
        self.batch_in_epoch = consumed // self.local_batch
        if state["world_size"] == self.dist.world_size:
            ckpt.restore_rng_state(own["rng"])
        self.saved_step = self.step
        if self.dist.is_main:
            print(f"resumed from {path} at step {self.step} (epoch {self.epoch + 1})")

    # The loop.

    @property
    def total_epochs(self) -> int:
        return self.cfg.optim.n_epochs + self.cfg.optim.n_epochs_decay

    @property
    def total_steps(self) -> int:
        total = self.total_epochs * self.steps_per_epoch
        return min(total, self.cfg.train.max_steps) if self.cfg.train.max_steps else total

    def _finished(self) -> bool:
        return self.step >= self.total_steps or self.epoch >= self.total_epochs

    def _fire(self, event: str) -> None:
        for hook in self.hooks:
            getattr(hook, event)()

    def fit(self) -> Path | None:
        """Train until the schedule ends, ``train.max_steps`` or SIGINT/SIGTERM; returns the last state file."""
        previous = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._fire("before_train")
            while not self._finished() and not self.stop_requested:
                self._run_epoch()
            self._fire("after_train")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self.reporter is not None:
                self.reporter.close()
            self._stop_workers()
        last = next((h.last_path for h in self.hooks if isinstance(h, CheckpointHook)), None)
        if self.dist.is_main:
            verb = "stopped by signal" if self.stop_requested and not self._finished() else "finished"
            print(f"{verb} at step {self.step}; state: {last}; generators: {self.run_dir / 'export'}")
        return last

    def _stop_workers(self) -> None:
        """End persistent DataLoader workers now, gracefully: they ignore SIGTERM (see ``seed_worker``), so they must
        not be left for the interpreter's exit, which stops them with SIGTERM."""
        iterator = getattr(self.loader, "_iterator", None)
        if iterator is not None and hasattr(iterator, "_shutdown_workers"):
            iterator._shutdown_workers()
        self.loader._iterator = None

    def _request_stop(self, signum, frame) -> None:
        if self.stop_requested:  # a second signal: stop now, mid-step, where no consistent state can be saved
            saved = self.saved_step
            lost = f"{self.step - saved} step(s) since the checkpoint of step {saved}" if saved is not None else \
                f"all {self.step} step(s) (no checkpoint was written)"
            raise TrainingInterrupted(f"second {signal.Signals(signum).name}: stopped at once without a checkpoint; "
                                      f"{lost} are lost (a single signal stops after the current step and saves)")
        self.stop_requested = True
        if self.dist.is_main:
            print(f"{signal.Signals(signum).name}: stopping after this step with a checkpoint; signal again to stop "
                  "at once without one", file=sys.stderr, flush=True)

    def _run_epoch(self) -> None:
        self.sampler.set_epoch(self.epoch)
        self.sampler.start_batch = self.batch_in_epoch
        self.algorithm.train()
        for batch in self.loader:
            self.last_logs = self._train_step(batch)
            self.read_values = None
            self.step += 1
            self.batch_in_epoch += 1
            self._fire("after_step")
            if self.stop_requested or self._finished():
                break
        else:
            self.epoch += 1
            self.batch_in_epoch = 0
            self._fire("after_epoch")

    def _train_step(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Move ``batch`` to the device (augmenting it there) and train on it; device faults become one line."""
        try:
            return self.algorithm.train_step(self._to_device(batch))
        except torch.OutOfMemoryError as err:
            message = out_of_memory_message(self.device, batch_size=self.cfg.data.batch_size,
                                            grad_accum=self.cfg.train.grad_accum, world_size=self.dist.world_size)
            raise TrainingError(f"step {self.step + 1}: {message} ({self._kept()})") from err
        except Exception as err:  # noqa: BLE001 - compile errors come in many types.
            if not (self.cfg.train.compile and self.step == 0):
                raise
            raise TrainingError(f"train.compile: torch.compile failed ({first_line(err)}); "
                                "set train.compile=false to turn it off") from err

    def evaluate(self) -> dict[str, float]:
        """Run the validation hook now (rank 0; {} without a validation split)."""
        hook = next((h for h in self.hooks if isinstance(h, ValidationHook)), None)
        return hook.evaluate() if hook is not None else {}

    def close(self) -> None:
        cleanup_distributed()


def _replace_batch(data_cfg, batch_size: int):
    from dataclasses import replace

    return replace(data_cfg, batch_size=batch_size)
