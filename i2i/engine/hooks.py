"""Trainer hooks: the periodic side effects of training, one class each (detectron2-style).

The trainer calls, on every hook in order, ``before_train()`` once, ``after_step()`` after each optimisation step
(``trainer.step`` already counts it), ``after_epoch()`` at the end of each full pass over the data, and
``after_train()`` once when the loop ends (schedule done, ``train.max_steps`` or a stop signal). A hook with
state (EMA weights, best score) returns it from ``state_dict()``; it is saved in the training state under
``hooks/<name>`` and given back to ``load_state_dict()`` on resume. A new side effect is one new hook class,
passed to ``Trainer(cfg, hooks=[...])``.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from torch import nn

if TYPE_CHECKING:  # only for annotations; hooks reach the trainer through ``self.trainer``
    from i2i.engine.trainer import Trainer


class HookBase:
    """A side effect run at fixed points of the loop. ``self.trainer`` is set when the trainer registers it."""

    name: str = "hook"
    trainer: "Trainer"

    def before_train(self) -> None:
        pass

    def after_step(self) -> None:
        pass

    def after_epoch(self) -> None:
        pass

    def after_train(self) -> None:
        pass

    def state_dict(self) -> dict[str, Any] | None:
        """State to keep in the training state (None: nothing)."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def every(self, period: int) -> bool:
        return period > 0 and self.trainer.step % period == 0


class LRScheduleHook(HookBase):
    """Steps the learning-rate schedulers once per epoch (the reference's per-epoch policies)."""

    name = "lr_schedule"

    def after_epoch(self) -> None:
        for scheduler in self.trainer.schedulers.values():
            scheduler.step()


class LossCheckHook(HookBase):
    """Stops with a clear error at the first non-finite loss. Reads the losses every step on the CPU only, since
    reading them waits for a GPU; there the metric and checkpoint hooks check them when they read them."""

    name = "loss_check"

    def after_step(self) -> None:
        if self.trainer.device.type == "cpu":
            self.trainer.loss_values()


class MetricWriterHook(HookBase):
    """Writes losses, learning rates, fp16 skipped-step counts and the epoch every ``train.log_every`` steps
    (rank 0)."""

    name = "metric_writer"

    def after_step(self) -> None:
        trainer = self.trainer
        if trainer.reporter is None or not self.every(trainer.cfg.train.log_every):
            return
        lrs = {f"lr_{n}": opt.param_groups[0]["lr"] for n, opt in trainer.algorithm.optimizers.items()}
        skips = trainer.precision.skip_report()  # fp16: steps the loss scaler skipped; warns after a streak
        trainer.reporter.scalars(trainer.step, {**trainer.loss_values(), **lrs, **skips, "epoch": trainer.epoch + 1})


class SampleGridHook(HookBase):
    """Saves a sample grid of the fixed sample batch every ``train.image_every`` steps (rank 0)."""

    name = "sample_grid"

    def after_step(self) -> None:
        trainer = self.trainer
        if trainer.reporter is None or not self.every(trainer.cfg.train.image_every):
            return
        algorithm = trainer.algorithm
        algorithm.train(False)
        trainer.reporter.images(trainer.step, algorithm.translate_visuals(trainer.sample_batch, trainer.generators()))
        algorithm.train(True)


class ValidationHook(HookBase):
    """Scores the first generator on the validation split every ``eval.every`` steps (rank 0).

    Writes ``val/<metric>`` records, and re-exports the generators to ``<run>/export_best`` whenever
    ``eval.best_metric`` improves (KID is compared by its mean). With equal A and B channels it also records the
    score of returning the input unchanged (``copy_baseline_l1``), once.
    """

    name = "validation"
    LOWER_IS_BETTER = {"l1": True, "fid": True, "kid": True, "psnr": False, "ssim": False}

    def __init__(self) -> None:
        self.best: dict[str, Any] = {}
        self._features = None
        self._copy_baseline_l1: float | None = None

    def after_step(self) -> None:
        trainer = self.trainer
        if self.every(trainer.cfg.eval.every) and trainer.val_dataset is not None:
            self.evaluate()

    def evaluate(self) -> dict[str, float]:
        from i2i.data import build_dataloader
        from i2i.metrics import build_feature_extractor, evaluate_generator

        trainer, cfg = self.trainer, self.trainer.cfg
        if not trainer.dist.is_main or trainer.val_dataset is None:
            return {}
        if any(m in ("fid", "kid") for m in cfg.eval.metrics) and self._features is None:
            self._features = build_feature_extractor(cfg.eval.features, weights=cfg.eval.inception_weights,
                                                     device=trainer.device)
        loader = build_dataloader(trainer.val_dataset, replace(cfg.data, num_workers=0, batch_size=trainer.local_batch),
                                  shuffle=False, seed=cfg.seed, drop_last=False)
        name = next(iter(trainer.algorithm.generator_specs()))
        results = evaluate_generator(trainer.generators()[name], loader, metrics=cfg.eval.metrics,
                                     device=trainer.device, fid_features=self._features,
                                     kid_subset_size=min(1000, len(trainer.val_dataset)))
        if cfg.data.input_nc == cfg.data.output_nc and "l1" in cfg.eval.metrics:
            if self._copy_baseline_l1 is None:
                self._copy_baseline_l1 = evaluate_generator(nn.Identity(), loader, metrics=["l1"],
                                                            device=trainer.device)["l1"]
            results["copy_baseline_l1"] = self._copy_baseline_l1
        trainer.reporter.scalars(trainer.step, results, prefix="val/")
        metric = cfg.eval.best_metric
        value = results["kid_mean" if metric == "kid" else metric]
        best = self.best.get("value")
        if best is None or (value < best if self.LOWER_IS_BETTER[metric] else value > best):
            self.best = {"metric": metric, "value": value, "step": trainer.step}
            trainer.export(trainer.run_dir / "export_best")
        return results

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = dict(state.get("best", {}))


class CheckpointHook(HookBase):
    """Writes the training state and the exports every ``train.ckpt_every`` steps and once at the end (rank 0).

    The losses are read (and checked finite) first, so a diverged state is never saved.
    """

    name = "checkpoint"

    def __init__(self) -> None:
        self.saved_step: int | None = None
        self.last_path = None

    def _save(self) -> None:
        self.trainer.loss_values()
        self.last_path = self.trainer.save_checkpoint()
        self.saved_step = self.trainer.step

    def after_step(self) -> None:
        if self.every(self.trainer.cfg.train.ckpt_every):
            self._save()

    def after_train(self) -> None:
        if self.saved_step != self.trainer.step:
            self._save()


class ProgressBarHook(HookBase):
    """A progress bar over the steps with the epoch, images/s and the losses when they were read (rank 0): tqdm on a
    terminal, one line every 30 s in a log file (:func:`i2i.progress.progress_bar`)."""

    name = "progress"

    def __init__(self) -> None:
        self.bar = None

    def before_train(self) -> None:
        from i2i.progress import progress_bar

        trainer = self.trainer
        self.bar = progress_bar(trainer.total_steps, desc="train", initial=trainer.step, unit="step", smoothing=0.1)
        self._tic, self._images = time.perf_counter(), 0

    def after_step(self) -> None:
        trainer = self.trainer
        self.bar.update(1)
        self._images += trainer.images_per_step
        values = trainer.read_values
        if values is not None and trainer.step % max(1, min(10, trainer.cfg.train.log_every)) == 0:
            rate = self._images / max(1e-9, time.perf_counter() - self._tic)
            self.bar.set_postfix_str(f"ep {trainer.epoch + 1}/{trainer.total_epochs} {rate:.1f} img/s " +
                                     " ".join(f"{k} {v:.3f}" for k, v in values.items()))

    def after_train(self) -> None:
        if self.bar is not None:
            self.bar.close()
