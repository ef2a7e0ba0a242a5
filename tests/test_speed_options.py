"""Speed options on the CPU: torch.compile on a tiny model, its failure message, precision fallbacks."""
from __future__ import annotations

import pytest
import torch

from conftest import tiny_config
from i2i.config import load_config
from i2i.runtime import Precision, resolve_precision
from i2i.engine.trainer import Trainer, TrainingError


def test_compile_tiny_pix2pix(tmp_path, paired_root):
    trainer = Trainer(load_config("pix2pix_facades", tiny_config(tmp_path, "pix2pix", paired_root,
                                                                 "train.max_steps=2", "train.compile=true")))
    trainer.fit()
    assert trainer.step == 2
    assert trainer.algorithm.run["G"] is not trainer.algorithm.nets["G"]  # the compiled wrapper ran
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    eager, compiled = trainer.algorithm.nets["G"].eval(), trainer.algorithm.frozen_run["G"]
    torch.testing.assert_close(compiled(x), eager(x), atol=1e-5, rtol=1e-5)


def test_compile_failure_names_the_option(tmp_path, paired_root, monkeypatch):
    def broken_compile(module, **kwargs):
        def run(*args):
            raise RuntimeError("backend 'inductor' failed: no working C++ compiler")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    trainer = Trainer(load_config("pix2pix_facades", tiny_config(tmp_path, "pix2pix", paired_root,
                                                                 "train.max_steps=1", "train.compile=true")))
    with pytest.raises(TrainingError, match=r"train.compile: torch.compile failed .*set train.compile=false"):
        trainer.fit()


def test_fp16_on_cpu_falls_back_with_warning():
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    with pytest.warns(UserWarning, match="fp16 is not supported on the CPU; using " + ("bf16" if native else "fp32")):
        assert resolve_precision("fp16", torch.device("cpu")) == ("bf16" if native else "fp32")
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"  # as asked, with a warning when emulated


def test_bf16_autocast_runs_convs_in_bf16():
    precision = Precision("bf16", torch.device("cpu"))
    conv = torch.nn.Conv2d(3, 4, 3)
    with precision.autocast():
        out = conv(torch.randn(1, 3, 8, 8))
    assert out.dtype == torch.bfloat16
    assert not precision.state_dict()  # no loss scaling outside fp16


@pytest.mark.cuda
def test_fp16_training_on_gpu(tmp_path, paired_root):
    trainer = Trainer(load_config("pix2pix_facades", tiny_config(tmp_path, "pix2pix", paired_root, "device=cuda",
                                                                 "train.max_steps=2", "train.precision=fp16")))
    trainer.fit()
    assert set(trainer.precision.state_dict()) == {"D", "G"}
