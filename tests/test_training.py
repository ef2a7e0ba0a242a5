"""End-to-end training on generated 32x32 images: steps, export round trip, exact resume, signals, bad input."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from i2i.config import load_config
from i2i.checkpoint import CheckpointError, list_states
from i2i.export import load_generator, load_generator_with_config
from i2i.engine.trainer import Trainer, TrainingError

ROOT = Path(__file__).resolve().parents[1]


def _trainer(tmp_path, algorithm, root, *extra) -> Trainer:
    return Trainer(load_config("pix2pix_facades", tiny_config(tmp_path, algorithm, root, *extra)))


@pytest.mark.parametrize("algorithm, gan_mode", [("pix2pix", "vanilla"), ("pix2pix", "wgangp"),
                                                 ("cyclegan", "lsgan"), ("cyclegan", "hinge")])
def test_two_steps_change_every_network(tmp_path, paired_root, unpaired_root, algorithm, gan_mode):
    root = paired_root if algorithm == "pix2pix" else unpaired_root
    trainer = _trainer(tmp_path, algorithm, root, "train.max_steps=2", f"loss.gan_mode={gan_mode}")
    before = {n: {k: v.clone() for k, v in net.state_dict().items()} for n, net in trainer.algorithm.nets.items()}
    trainer.fit()
    assert trainer.step == 2
    for name, net in trainer.algorithm.nets.items():
        changed = [k for k, v in net.state_dict().items()
                   if v.is_floating_point() and not torch.equal(v, before[name][k])]
        assert changed, f"{name} did not change"
    records = (tmp_path / "tiny" / "metrics.jsonl").read_text().splitlines()
    assert len(records) == 2 and '"step": 2' in records[-1]
    assert (tmp_path / "tiny" / "samples" / "step_00000002.png").is_file()
    assert (tmp_path / "tiny" / "config.yaml").is_file()


def test_grad_accum_and_bf16_run(tmp_path, paired_root):
    trainer = _trainer(tmp_path, "pix2pix", paired_root, "train.max_steps=2", "data.batch_size=2",
                       "train.grad_accum=2", "train.precision=bf16", "train.channels_last=true")
    trainer.fit()
    assert trainer.step == 2


def test_export_round_trip(tmp_path, unpaired_root):
    trainer = _trainer(tmp_path, "cyclegan", unpaired_root, "train.max_steps=2")
    trainer.fit()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    for name in ("G_A", "G_B"):
        net, config = load_generator_with_config(tmp_path / "tiny", name=name)
        expected = trainer.algorithm.nets[name].eval()(x)
        assert torch.equal(net(x), expected)
        assert config["architecture"] == "resnet_6blocks" and config["kwargs"]["ngf"] == 4
    state = list_states(tmp_path / "tiny" / "checkpoints")[-1]
    assert torch.equal(load_generator(state, name="G_B")(x), trainer.algorithm.nets["G_B"](x))
    with pytest.raises(CheckpointError, match="holds generators G_A, G_B"):
        load_generator(tmp_path / "tiny")


@pytest.mark.parametrize("algorithm", ["pix2pix", "cyclegan"])
def test_resume_is_exact(tmp_path, paired_root, unpaired_root, algorithm):
    root = paired_root if algorithm == "pix2pix" else unpaired_root
    # 8 images in batches of 2: 4 steps per epoch.
    straight = _trainer(tmp_path / "a", algorithm, root, "train.max_steps=7", "data.batch_size=2")
    straight.fit()
    first = _trainer(tmp_path / "b", algorithm, root, "train.max_steps=3", "data.batch_size=2")  # mid-epoch 1
    first.fit()
    resumed = _trainer(tmp_path / "b", algorithm, root, "train.max_steps=7", "data.batch_size=2", "train.resume=true")
    assert resumed.step == 3
    resumed.fit()  # crosses the epoch boundary at step 4 and the LR decay
    for name, net in straight.algorithm.nets.items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, resumed.algorithm.nets[name].state_dict()[key]), f"{name}.{key}"
    lr = [t.algorithm.optimizers["G"].param_groups[0]["lr"] for t in (straight, resumed)]
    assert lr[0] == lr[1] < 2e-4  # the linear decay has started


def test_resume_with_other_networks_names_the_tensor(tmp_path, paired_root):
    _trainer(tmp_path, "pix2pix", paired_root, "train.max_steps=1").fit()
    with pytest.raises(CheckpointError, match=r"networks differ from the config: tensor 'G\..*' has shape"):
        _trainer(tmp_path, "pix2pix", paired_root, "train.resume=true", "model.ngf=8")


def test_non_finite_loss_stops_and_keeps_checkpoint(tmp_path, paired_root):
    trainer = _trainer(tmp_path, "pix2pix", paired_root, "train.max_steps=4", "train.ckpt_every=1")
    real_step = trainer.algorithm.train_step

    def poisoned(batch):
        logs = real_step(batch)
        if trainer.step == 2:
            logs["G_L1"] = torch.tensor(float("nan"))
        return logs

    trainer.algorithm.train_step = poisoned
    expected = r"step 3: loss 'G_L1' is nan; stopping \(last good checkpoint: .*state_00000002.pt"
    with pytest.raises(TrainingError, match=expected):
        trainer.fit()
    assert [p.name for p in list_states(tmp_path / "tiny" / "checkpoints")][-1] == "state_00000002.pt"


@pytest.mark.parametrize("sig, workers", [(signal.SIGTERM, 2), (signal.SIGINT, 2)], ids=["sigterm", "ctrl-c"])
def test_signal_writes_checkpoint_and_exits_cleanly(tmp_path, unpaired_root, sig, workers):
    args = tiny_config(tmp_path, "cyclegan", unpaired_root, "optim.n_epochs=500", "train.image_every=100000",
                       f"data.num_workers={workers}")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "tools" / "train.py"), "--cfg", "cyclegan_horse2zebra", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                            start_new_session=True)
    metrics = tmp_path / "tiny" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 2):
        time.sleep(0.2)
    os.killpg(proc.pid, sig)  # the whole process group, as a terminal's Ctrl-C does (DataLoader workers too)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "stopped by signal" in out
    states = list_states(tmp_path / "tiny" / "checkpoints")
    assert len(states) == 1
    step = torch.load(states[0], weights_only=True)["step"]
    assert step >= 2
    assert (tmp_path / "tiny" / "export" / "G_A" / "model.safetensors").is_file()


def test_train_cli_bad_input_is_one_line(tmp_path):
    for args, message in [(["train.max_stpes=1"], "unknown key 'train.max_stpes'"),
                          ([f"data.root={tmp_path / 'nope'}", "device=cpu"], "nope")]:
        proc = subprocess.run([sys.executable, str(ROOT / "tools" / "train.py"), "--cfg", "pix2pix_facades",
                               f"output_dir={tmp_path}", *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], proc.stderr
