"""Experiment trackers as trainer hooks, one class each, chosen by ``train.loggers``.

``jsonl`` (``metrics.jsonl``, flat keys), ``tensorboard`` (``tb/``), ``wandb`` (Weights & Biases; ``WANDB_MODE``,
``WANDB_PROJECT`` and the other ``WANDB_*`` variables apply) and ``mlflow`` (``MLFLOW_TRACKING_URI``, default the
local file store ``<output_dir>/mlruns``, for which ``MLFLOW_ALLOW_FILE_STORE`` is set). The :class:`~i2i.engine.reporting.Reporter` hands every record to each tracker; the
trackers also log the resolved config when training starts (TensorBoard as text and hparams, W&B as the run config,
MLflow as params and a ``config.yaml`` artifact). Metric names are grouped for the dashboards: losses under
``loss/``, learning rates under ``lr/``, validation under ``val/``, the epoch under ``progress/``. The W&B and MLflow
run ids are kept in the training state, so a resumed run logs into the same run.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import yaml
from torch import Tensor

from i2i.engine.hooks import HookBase


def group_tag(key: str) -> str:
    """A flat record key as a grouped tag: ``D`` -> ``loss/D``, ``lr_G`` -> ``lr/G``, ``val/l1`` unchanged."""
    if "/" in key:
        return key
    if key.startswith("lr_"):
        return f"lr/{key[3:]}"
    if key == "epoch":
        return "progress/epoch"
    return f"loss/{key}"


def config_dict(cfg: Any) -> dict[str, Any]:
    """The resolved config as nested plain data (dataclasses and paths converted)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else cfg, default=str))


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"ngf": 64}}`` -> ``{"model.ngf": 64}``; lists and None become strings (hparams/params)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return flat


class TrackerHook(HookBase):
    """A hook that receives the run's records: scalars and sample grids (rank 0 only)."""

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        """``values`` with flat keys (``D``, ``lr_G``, ``val/l1``)."""

    def log_image(self, step: int, tag: str, grid: Tensor) -> None:
        """``grid``: ``(3, H, W)`` float in [0, 1]."""

    def close(self) -> None:
        """Flush and release files and connections (called by the reporter, also after a failure)."""

    def after_train(self) -> None:
        self.close()


class JsonlHook(TrackerHook):
    """Appends one JSON object per record to ``<run>/metrics.jsonl`` (flat keys, values rounded to 6 digits)."""

    name = "tracker_jsonl"

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        record = {"step": step, **{k: round(float(v), 6) for k, v in values.items()}}
        with open(self.trainer.run_dir / "metrics.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")


class TensorBoardHook(TrackerHook):
    """TensorBoard event files in ``<run>/tb``: grouped scalar tags, sample grids, the config as text and hparams."""

    name = "tracker_tensorboard"

    def __init__(self) -> None:
        self.writer = None

    def _writer(self):  # noqa: ANN202 - SummaryWriter, imported on use (tensorboard's import is slow).
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.trainer.run_dir / "tb"))
        return self.writer

    def before_train(self) -> None:
        from torch.utils.tensorboard.summary import hparams

        config = config_dict(self.trainer.cfg)
        writer = self._writer()
        writer.add_text("config", "```yaml\n" + yaml.safe_dump(config, sort_keys=False) + "```", self.trainer.step)
        for summary in hparams(flatten(config), {"val/" + m: float("nan") for m in self.trainer.cfg.eval.metrics}):
            writer.file_writer.add_summary(summary)

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        writer = self._writer()
        for key, value in values.items():
            writer.add_scalar(group_tag(key), float(value), step)

    def log_image(self, step: int, tag: str, grid: Tensor) -> None:
        self._writer().add_image(tag, grid, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class WandbHook(TrackerHook):
    """Weights & Biases: run named after the config, files under ``<run>/wandb`` (``WANDB_MODE=offline`` works)."""

    name = "tracker_wandb"

    def __init__(self) -> None:
        self.run = None
        self.run_id: str | None = None

    def before_train(self) -> None:
        try:
            import wandb
        except ImportError:
            raise RuntimeError('train.loggers: wandb is not installed (pip install "i2i[trackers]")') from None
        cfg = self.trainer.cfg
        try:
            self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "i2i"), name=cfg.name, id=self.run_id,
                                  resume="allow", dir=str(self.trainer.run_dir), config=config_dict(cfg))
        except (wandb.errors.Error, OSError) as err:
            raise RuntimeError(f"train.loggers: wandb could not start ({str(err).splitlines()[0]}); run `wandb login` "
                               "or set WANDB_MODE=offline") from None
        self.run_id = self.run.id

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        if self.run is not None:
            self.run.log({group_tag(k): float(v) for k, v in values.items()}, step=step)

    def log_image(self, step: int, tag: str, grid: Tensor) -> None:
        if self.run is not None:
            import wandb

            self.run.log({tag: wandb.Image(grid.permute(1, 2, 0).numpy())}, step=step)

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None

    def state_dict(self) -> dict[str, Any] | None:
        return {"run_id": self.run_id} if self.run_id else None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.run_id = state.get("run_id")


class MlflowHook(TrackerHook):
    """MLflow: experiment ``$MLFLOW_EXPERIMENT_NAME`` (default "i2i"), run named after the config, the config as
    params and a ``config.yaml`` artifact, grouped metrics, sample grids as artifacts."""

    name = "tracker_mlflow"

    def __init__(self) -> None:
        self.client = None
        self.run_id: str | None = None

    def before_train(self) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise RuntimeError('train.loggers: mlflow is not installed (pip install "i2i[trackers]")') from None
        cfg = self.trainer.cfg
        uri = os.environ.get("MLFLOW_TRACKING_URI") or (Path(cfg.output_dir).resolve() / "mlruns").as_uri()
        if uri.startswith("file:"):  # MLflow 3 wants an opt-in for its local file store.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=uri)
        if self.run_id is None:
            experiment_name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "i2i")
            experiment = self.client.get_experiment_by_name(experiment_name)
            experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(experiment_name)
            self.run_id = self.client.create_run(experiment_id, run_name=cfg.name).info.run_id
            config = config_dict(cfg)
            for key, value in flatten(config).items():
                self.client.log_param(self.run_id, key, value)
            self.client.log_text(self.run_id, yaml.safe_dump(config, sort_keys=False), "config.yaml")

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        if self.client is not None:
            for key, value in values.items():
                self.client.log_metric(self.run_id, group_tag(key), float(value), step=step)

    def log_image(self, step: int, tag: str, grid: Tensor) -> None:
        if self.client is not None:
            pixels = (grid.permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy()
            self.client.log_image(self.run_id, pixels, f"{tag.replace('|', '_')}/step_{step:08d}.png")

    def close(self) -> None:
        if self.client is not None:
            self.client.set_terminated(self.run_id)
            self.client = None

    def state_dict(self) -> dict[str, Any] | None:
        return {"run_id": self.run_id} if self.run_id else None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.run_id = state.get("run_id")


TRACKERS: dict[str, type[TrackerHook]] = {"jsonl": JsonlHook, "tensorboard": TensorBoardHook, "wandb": WandbHook,
                                          "mlflow": MlflowHook}


def build_trackers(names: list[str]) -> list[TrackerHook]:
    """One tracker hook per name of ``train.loggers`` (validated by the config)."""
    return [TRACKERS[name]() for name in dict.fromkeys(names)]
