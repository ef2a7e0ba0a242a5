"""pix2pix (and CycleGAN) with the multi-scale discriminator and feature matching, end to end on 32x32 images."""
from __future__ import annotations

import json

import pytest
import torch

from conftest import tiny_config
from i2i.config import ConfigError, load_config
from i2i.engine.trainer import Trainer
from i2i.models import MultiscaleDiscriminator

# 32 px crops: two scales of n_layers 2 need 23 px (three of n_layers 3 would need 93).
MULTISCALE = ("model.discriminator=multiscale", "model.num_D=2", "model.n_layers_d=2")


def _trainer(tmp_path, algorithm, root, *extra) -> Trainer:
    return Trainer(load_config("pix2pixhd_facades", tiny_config(tmp_path, algorithm, root, *MULTISCALE, *extra)))


def test_pix2pix_with_feature_matching_trains_every_parameter(tmp_path, paired_root):
    trainer = _trainer(tmp_path, "pix2pix", paired_root, "train.max_steps=2")
    assert trainer.cfg.options.lambda_feat == 10.0 and trainer.cfg.loss.gan_mode == "lsgan"
    assert isinstance(trainer.algorithm.nets["D"], MultiscaleDiscriminator)
    trainer.fit()
    # After a step the G phase's gradients are in G and the D phase's in D.
    for name in ("G", "D"):
        for key, param in trainer.algorithm.nets[name].named_parameters():
            assert param.grad is not None and torch.isfinite(param.grad).all(), f"{name}.{key}"
            assert param.grad.abs().sum() > 0, f"{name}.{key} has a zero gradient"
    records = [json.loads(line) for line in (tmp_path / "tiny" / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 2 and records[-1]["G_feat"] > 0


def test_resume_is_exact_with_multiscale_feature_matching_and_ema(tmp_path, paired_root):
    args = ("data.batch_size=2", "train.ema=0.9")
    straight = _trainer(tmp_path / "a", "pix2pix", paired_root, "train.max_steps=3", *args)
    straight.fit()
    _trainer(tmp_path / "b", "pix2pix", paired_root, "train.max_steps=1", *args).fit()
    resumed = _trainer(tmp_path / "b", "pix2pix", paired_root, "train.max_steps=3", "train.resume=true", *args)
    assert resumed.step == 1
    resumed.fit()
    for name, net in straight.algorithm.nets.items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, resumed.algorithm.nets[name].state_dict()[key]), f"{name}.{key}"
    for trainer in (straight, resumed):
        assert list(trainer.ema_generators) == ["G"]
    for key, value in straight.ema_generators["G"].state_dict().items():
        assert torch.equal(value, resumed.ema_generators["G"].state_dict()[key]), f"EMA G.{key}"


def test_cyclegan_takes_a_multiscale_discriminator(tmp_path, unpaired_root):
    overrides = tiny_config(tmp_path, "cyclegan", unpaired_root, *MULTISCALE, "train.max_steps=1")
    trainer = Trainer(load_config("cyclegan_horse2zebra", overrides))
    before = {k: v.clone() for k, v in trainer.algorithm.nets["D_A"].state_dict().items()}
    trainer.fit()
    assert len(trainer.algorithm.nets["D_A"](torch.zeros(1, 3, 32, 32))) == 2
    after = trainer.algorithm.nets["D_A"].state_dict()
    assert all(not torch.equal(before[k], after[k]) for k in before if k.endswith("weight"))


@pytest.mark.parametrize("override, message", [
    ("model.num_D=0", "model.num_D: a multi-scale discriminator has 1 to 4 scales, got 0"),
    ("model.num_D=5", "model.num_D: a multi-scale discriminator has 1 to 4 scales, got 5"),
    ("model.n_layers_d=3", "model.num_D: 2 scales of n_layers_d=3 need images of at least 47 px, but data.crop_size "
                           "is 32; lower model.num_D or model.n_layers_d, or raise data.crop_size"),
    ("pix2pix.lambda_feat=-1", "pix2pix.lambda_feat: must be >= 0"),
])
def test_bad_multiscale_settings_name_the_key(tmp_path, paired_root, override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config("pix2pixhd_facades", tiny_config(tmp_path, "pix2pix", paired_root, *MULTISCALE, override))


def test_feature_matching_needs_a_discriminator_with_features(tmp_path, paired_root):
    with pytest.raises(ValueError, match="pix2pix.lambda_feat: discriminator 'pixel' has no intermediate features"):
        _trainer(tmp_path, "pix2pix", paired_root, "model.discriminator=pixel")
