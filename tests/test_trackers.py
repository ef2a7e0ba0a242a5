"""Experiment trackers (train.loggers): grouped TensorBoard tags with the config as text and hparams, JSONL,
Weights & Biases offline (files written, no network) and MLflow with a local file store, each on a 2-step run."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import tiny_config
from i2i.config import ConfigError, load_config
from i2i.engine.trackers import flatten, group_tag
from i2i.engine.trainer import Trainer


def _fit(tmp_path: Path, root: Path, *extra: str) -> Trainer:
    trainer = Trainer(load_config("pix2pix_facades", tiny_config(tmp_path, "pix2pix", root, "train.max_steps=2",
                                                                 *extra)))
    trainer.fit()
    trainer.close()
    return trainer


def test_tag_groups_and_flat_config() -> None:
    assert [group_tag(k) for k in ("D", "G_L1", "lr_G", "epoch", "val/l1")] == [
        "loss/D", "loss/G_L1", "lr/G", "progress/epoch", "val/l1"]
    assert flatten({"model": {"ngf": 4, "norm": None}, "eval": {"metrics": ["l1"]}}) == {
        "model.ngf": 4, "model.norm": "None", "eval.metrics": "['l1']"}


def test_unknown_logger_fails_at_load(tmp_path: Path, paired_root: Path) -> None:
    with pytest.raises(ConfigError, match="train.loggers.*'tensorbord'.*tensorboard"):
        load_config("pix2pix_facades", tiny_config(tmp_path, "pix2pix", paired_root, "train.loggers=[tensorbord]"))
    with pytest.raises(ConfigError, match="'train.tensorboard' has moved to 'train.loggers"):
        load_config("pix2pix_facades", tiny_config(tmp_path, "pix2pix", paired_root, "train.tensorboard=false"))


def test_tensorboard_grouped_tags_config_and_hparams(tmp_path: Path, paired_root: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _fit(tmp_path, paired_root, "train.loggers=[tensorboard]")
    assert not (tmp_path / "tiny" / "metrics.jsonl").exists()  # jsonl not asked for.
    events = EventAccumulator(str(tmp_path / "tiny" / "tb"), size_guidance={"tensors": 0}).Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"loss/D", "loss/G_GAN", "loss/G_L1", "lr/G", "lr/D", "progress/epoch"} <= scalars
    assert [event.step for event in events.Scalars("loss/G_L1")] == [1, 2]
    tensors = set(events.Tags()["tensors"])
    assert "config/text_summary" in tensors
    config_text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "algorithm: pix2pix" in config_text and "ngf: 4" in config_text
    plugins = events.PluginTagToContent("hparams")
    assert "_hparams_/experiment" in plugins and "_hparams_/session_start_info" in plugins
    assert b"model.ngf" in plugins["_hparams_/session_start_info"]


def test_jsonl_keeps_flat_keys(tmp_path: Path, paired_root: Path) -> None:
    _fit(tmp_path, paired_root, "train.loggers=[jsonl]")
    records = [json.loads(line) for line in (tmp_path / "tiny" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2] and {"D", "G_L1", "lr_G", "epoch"} <= set(records[0])
    assert not (tmp_path / "tiny" / "tb").exists()


def test_wandb_offline(tmp_path: Path, paired_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    trainer = _fit(tmp_path, paired_root, "train.loggers=[jsonl,wandb]")
    runs = list((tmp_path / "tiny" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    hook = next(h for h in trainer.hooks if h.name == "tracker_wandb")
    assert (runs[0] / f"run-{hook.run_id}.wandb").stat().st_size > 0
    assert hook.state_dict() == {"run_id": hook.run_id}  # Kept in the training state for resume.


def test_mlflow_file_store(tmp_path: Path, paired_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    store = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    trainer = _fit(tmp_path, paired_root, "train.loggers=[mlflow]")
    run_id = next(h for h in trainer.hooks if h.name == "tracker_mlflow").run_id
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(run_id)
    assert run.info.run_name == "tiny" and run.info.status == "FINISHED"
    assert run.data.params["model.ngf"] == "4" and run.data.params["model.algorithm"] == "pix2pix"
    assert [m.step for m in client.get_metric_history(run_id, "loss/G_L1")] == [1, 2]
    assert {"loss/D", "lr/G", "progress/epoch"} <= set(run.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert "config.yaml" in artifacts
