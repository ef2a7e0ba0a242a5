"""Periodic validation during training: metrics to the run's metrics file and TensorBoard, best export kept."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:
    from i2i.engine.trainer import Trainer

LOWER_IS_BETTER = {"l1": True, "fid": True, "kid": True, "psnr": False, "ssim": False}


def run_validation(trainer: "Trainer") -> dict[str, float]:
    """Score the first generator (G or G_A) on ``trainer.val_dataset`` against its B images (rank 0 only).

    Writes ``val/<metric>`` records, and re-exports the generators to ``<run>/export_best`` whenever
    ``eval.best_metric`` improves (KID is compared by its mean).
    """
    from i2i.data import build_dataloader
    from i2i.metrics import build_feature_extractor, evaluate_generator

    cfg = trainer.cfg
    if not trainer.dist.is_main or trainer.val_dataset is None:
        return {}
    wants_features = any(m in ("fid", "kid") for m in cfg.eval.metrics)
    if wants_features and getattr(trainer, "_eval_features", None) is None:
        trainer._eval_features = build_feature_extractor(cfg.eval.features, weights=cfg.eval.inception_weights,
                                                         device=trainer.device)
    loader = build_dataloader(trainer.val_dataset, replace(cfg.data, num_workers=0, batch_size=trainer.local_batch),
                              shuffle=False, seed=cfg.seed, drop_last=False)
    name = next(iter(trainer.algorithm.generator_specs()))
    results = evaluate_generator(trainer.algorithm.nets[name], loader, metrics=cfg.eval.metrics,
                                 device=trainer.device, fid_features=getattr(trainer, "_eval_features", None),
                                 kid_subset_size=min(1000, len(trainer.val_dataset)))
    if cfg.data.input_nc == cfg.data.output_nc and "l1" in cfg.eval.metrics:
        if getattr(trainer, "_copy_baseline_l1", None) is None:  # the score of returning the input unchanged
            copy = evaluate_generator(nn.Identity(), loader, metrics=["l1"], device=trainer.device)
            trainer._copy_baseline_l1 = copy["l1"]
        results["copy_baseline_l1"] = trainer._copy_baseline_l1
    trainer.reporter.scalars(trainer.step, results, prefix="val/")
    key = "kid_mean" if cfg.eval.best_metric == "kid" else cfg.eval.best_metric
    value = results[key]
    best = trainer.best.get("value")
    lower = LOWER_IS_BETTER[cfg.eval.best_metric]
    if best is None or (value < best if lower else value > best):
        trainer.best = {"metric": cfg.eval.best_metric, "value": value, "step": trainer.step}
        trainer.export(trainer.run_dir / "export_best")
    return results
