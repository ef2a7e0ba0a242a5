"""Bad input and faults around the device, on the CPU: ``device: cuda`` without CUDA, fp16 loss-scaler skips,
and running out of device memory (simulated by raising ``torch.OutOfMemoryError`` from the training step)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from conftest import tiny_config
from i2i.config import load_config
from i2i.engine.trainer import Trainer, TrainingError
from i2i.runtime import SKIP_WARNING_STREAK, Precision, out_of_memory_message

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given where CUDA is missing")
def test_cuda_device_without_cuda_is_one_line(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("i2i_tools_train", ROOT / "tools" / "train.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main(["--cfg", "quickstart_pix2pix", "device=cuda", f"output_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: device: 'cuda' requested but CUDA is not available; use device=cpu or auto"


def _fp16_step(precision: Precision, net: nn.Module, optimizer: torch.optim.Optimizer, factor: float) -> None:
    optimizer.zero_grad()
    precision.backward(net(torch.ones(2, 3)).sum() * factor, "G")
    precision.step("G", optimizer)


def test_fp16_skipped_steps_are_counted_and_a_streak_is_logged():
    precision = Precision("fp16", torch.device("cpu"))  # GradScaler behaves the same on the CPU
    net = nn.Linear(3, 3)
    optimizer = torch.optim.Adam(net.parameters())
    _fp16_step(precision, net, optimizer, 1.0)
    assert precision.skip_report() == {"amp/skipped_G": 0}
    weights = net.weight.detach().clone()
    for _ in range(SKIP_WARNING_STREAK - 1):
        _fp16_step(precision, net, optimizer, float("inf"))
    assert precision.skip_report() == {"amp/skipped_G": SKIP_WARNING_STREAK - 1}  # not yet a streak: no warning
    _fp16_step(precision, net, optimizer, float("inf"))
    with pytest.warns(UserWarning, match=rf"skipped the last {SKIP_WARNING_STREAK} steps of optimiser 'G' .*bf16"):
        assert precision.skip_report() == {"amp/skipped_G": SKIP_WARNING_STREAK}
    assert torch.equal(net.weight, weights)  # every inf step was skipped
    assert precision.scalers["G"].get_scale() == 2.0**16 / 2**SKIP_WARNING_STREAK
    _fp16_step(precision, net, optimizer, 1.0)  # a good step ends the streak, and the counts stay
    assert precision.skip_report() == {"amp/skipped_G": SKIP_WARNING_STREAK}
    assert not torch.equal(net.weight, weights)
    assert Precision("bf16", torch.device("cpu")).skip_report() == {}


def test_out_of_memory_names_batch_size_and_grad_accum(tmp_path, paired_root, monkeypatch):
    cfg = load_config("pix2pix_facades", tiny_config(tmp_path, "pix2pix", paired_root, "train.max_steps=2",
                                                     "data.batch_size=4", "train.grad_accum=2"))
    trainer = Trainer(cfg)

    def out_of_memory(batch):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB.\nGPU 0 has a total capacity")

    monkeypatch.setattr(trainer.algorithm, "train_step", out_of_memory)
    with pytest.raises(TrainingError) as info:
        trainer.fit()
    message = str(info.value)
    assert "\n" not in message
    assert message == ("step 1: out of CPU memory at data.batch_size=4 (2 images per forward pass, "
                       "train.grad_accum=2); lower data.batch_size, or raise train.grad_accum so each step runs in "
                       "smaller micro-batches (it must divide the per-process batch) (no checkpoint was written yet)")
    assert "on each of 2 processes" in out_of_memory_message(torch.device("cuda"), batch_size=8, grad_accum=1,
                                                              world_size=2)
