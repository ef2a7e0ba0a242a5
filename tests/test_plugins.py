"""Algorithms and side effects as plug-ins: a toy algorithm registered here, hooks, generator EMA."""
from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pytest
import torch
from torch import Tensor, nn

from conftest import tiny_config
from i2i.algorithms import ALGORITHMS, Algorithm, BuildContext, GeneratorSpec, LossLog
from i2i.config import ConfigError, load_config
from i2i.engine.ema import ema_decay, update_ema
from i2i.engine.hooks import HookBase
from i2i.engine.trainer import Trainer
from i2i.export import load_generator
from i2i.losses import l1_loss
from i2i.models import build_discriminator, build_generator
from i2i.models._builder import accepted_arguments

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class RegressionOptions:
    """The ``l1_regression`` section: one weight."""

    weight: float = 1.0


class L1Regression(Algorithm):
    """A toy algorithm: a generator fitted to B with L1 only (no discriminator)."""

    Options = RegressionOptions
    data_kind = "paired"

    @classmethod
    def validate(cls, options: RegressionOptions, cfg: Any) -> None:
        if options.weight <= 0:
            raise ValueError(f"l1_regression.weight: must be > 0, got {options.weight}")

    def __init__(self, options: RegressionOptions, ctx: BuildContext) -> None:
        super().__init__(options, ctx)
        self.spec = ctx.networks.generator_spec(ctx.in_channels, ctx.out_channels, "AtoB")
        self.add_net("G", self.spec.build())
        self.optimizers = {"G": ctx.make_optimizer(self.nets["G"].parameters())}

    def train_step(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        logs = LossLog(1)
        self.optimizers["G"].zero_grad(set_to_none=True)
        with self.precision.autocast():
            loss = l1_loss(self.run["G"](batch["A"]), batch["B"]) * self.options.weight
        logs.add("L1", loss)
        self.precision.backward(loss, "G")
        self.precision.step("G", self.optimizers["G"])
        return logs

    @torch.no_grad()
    def translate_visuals(self, batch: dict[str, Any], generators: Mapping[str, nn.Module]) -> dict[str, Tensor]:
        return {"real_A": batch["A"], "fake_B": generators["G"](batch["A"]).float(), "real_B": batch["B"]}

    def generator_specs(self) -> dict[str, GeneratorSpec]:
        return {"G": self.spec}


@pytest.fixture
def toy_algorithm():
    ALGORITHMS.register("l1_regression")(L1Regression)
    yield L1Regression
    del ALGORITHMS._items["l1_regression"]


def _toy_overrides(tmp_path, root, *extra):
    args = [a for a in tiny_config(tmp_path, "pix2pix", root) if not a.startswith("model.algorithm")]
    return args + ["model.algorithm=l1_regression", *extra]


def test_a_registered_algorithm_trains_without_edits_elsewhere(tmp_path, paired_root, toy_algorithm):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import train as train_tool
    finally:
        sys.path.pop(0)
    args = _toy_overrides(tmp_path, paired_root, "train.max_steps=3", "l1_regression.weight=2.0")
    assert train_tool.main(["--cfg", "pix2pix_facades", *args]) == 0  # the command-line tool, unchanged
    records = [json.loads(line) for line in (tmp_path / "tiny" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3] and all("L1" in r for r in records)
    resolved = (tmp_path / "tiny" / "config.yaml").read_text()
    assert "l1_regression:\n  weight: 2.0" in resolved
    net = load_generator(tmp_path / "tiny")
    assert net(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_a_registered_algorithm_gets_its_options_checked(tmp_path, paired_root, toy_algorithm):
    with pytest.raises(ConfigError, match="l1_regression.weight: must be > 0"):
        load_config("pix2pix_facades", _toy_overrides(tmp_path, paired_root, "l1_regression.weight=-1"))
    with pytest.raises(ConfigError, match=r"unknown key 'l1_regression.wieght' \(did you mean 'weight'\?\)"):
        load_config("pix2pix_facades", _toy_overrides(tmp_path, paired_root, "l1_regression.wieght=1"))
    with pytest.raises(ConfigError, match="l1_regression needs paired data, which 'unaligned' does not provide"):
        load_config("pix2pix_facades", _toy_overrides(tmp_path, paired_root, "data.dataset=unaligned"))


class RecordingHook(HookBase):
    name = "recorder"

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def before_train(self) -> None:
        self.events.append("before_train")

    def after_step(self) -> None:
        self.events.append(f"after_step:{self.trainer.step}")

    def after_epoch(self) -> None:
        self.events.append(f"after_epoch:{self.trainer.epoch}")

    def after_train(self) -> None:
        self.events.append("after_train")


def test_hooks_fire_in_order(tmp_path, paired_root):
    events: list[str] = []
    # 8 images in batches of 4: 2 steps per epoch.
    trainer = Trainer(load_config("pix2pix_facades", tiny_config(tmp_path, "pix2pix", paired_root,
                                                                 "train.max_steps=5", "data.batch_size=4")),
                      hooks=[RecordingHook(events)])
    trainer.fit()
    assert events == ["before_train", "after_step:1", "after_step:2", "after_epoch:1", "after_step:3",
                      "after_step:4", "after_epoch:2", "after_step:5", "after_train"]
    names = [h.name for h in trainer.hooks]
    assert names.index("checkpoint") < names.index("recorder")  # extra hooks fire after the defaults
    with pytest.raises(ValueError, match="a hook named 'recorder' is already registered"):
        trainer.register_hooks([RecordingHook([])])


def test_checkpoint_written_once_when_max_steps_is_a_checkpoint_step(tmp_path, paired_root, monkeypatch):
    trainer = Trainer(load_config("pix2pix_facades", tiny_config(tmp_path, "pix2pix", paired_root,
                                                                 "train.max_steps=2", "train.ckpt_every=2")))
    saved = []
    original = trainer.save_checkpoint
    monkeypatch.setattr(trainer, "save_checkpoint", lambda: saved.append(trainer.step) or original())
    trainer.fit()
    assert saved == [2]


def test_ema_update_arithmetic():
    net = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
    ema = copy.deepcopy(net)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
        net[1].running_mean.fill_(3.0)
    before = [p.clone() for p in ema.parameters()]
    update_ema(ema, net, 0.9)
    for old, new, raw in zip(before, ema.parameters(), net.parameters()):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * raw, rtol=0, atol=1e-6)
    assert torch.equal(ema[1].running_mean, net[1].running_mean)  # buffers are copied
    assert ema_decay(0.999, 1) == pytest.approx(2 / 11) and ema_decay(0.999, 10**6) == 0.999


def test_ema_trains_exports_and_resumes_exactly(tmp_path, paired_root):
    def run(folder, *extra):
        cfg = load_config("pix2pix_facades", tiny_config(folder, "pix2pix", paired_root, "data.batch_size=2",
                                                         "train.ema=0.9", *extra))
        trainer = Trainer(cfg)
        trainer.fit()
        return trainer

    straight = run(tmp_path / "a", "train.max_steps=6")
    ema_net = straight.ema_generators["G"]
    raw_net = straight.algorithm.nets["G"]
    assert any(not torch.equal(e, r) for e, r in zip(ema_net.parameters(), raw_net.parameters()))
    exported = load_generator(tmp_path / "a" / "tiny" / "export" / "G")
    exported_raw = load_generator(tmp_path / "a" / "tiny" / "export_raw" / "G")
    for key, value in exported.state_dict().items():
        assert torch.equal(value, ema_net.state_dict()[key].float())
        assert torch.equal(exported_raw.state_dict()[key], raw_net.state_dict()[key].float())

    run(tmp_path / "b", "train.max_steps=3")
    resumed = run(tmp_path / "b", "train.max_steps=6", "train.resume=true")
    for key, value in ema_net.state_dict().items():
        assert torch.equal(value, resumed.ema_generators["G"].state_dict()[key]), key


def test_network_settings_reach_only_the_networks_that_take_them():
    assert "n_blocks" not in accepted_arguments(build_generator.__globals__["GENERATORS"].get("resnet_9blocks"))
    assert {"n_blocks", "ngf", "norm"} <= accepted_arguments(build_generator.__globals__["GENERATORS"].get("resnet"))
    assert "n_layers" in accepted_arguments(build_discriminator.__globals__["DISCRIMINATORS"].get("n_layers"))
    assert "n_layers" not in accepted_arguments(build_discriminator.__globals__["DISCRIMINATORS"].get("basic"))
