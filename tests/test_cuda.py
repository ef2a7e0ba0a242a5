"""CUDA-only checks, all marked ``cuda`` (skipped without a GPU; ``tools/gpu_check.sh`` runs ``pytest -m cuda``).

Low-precision training steps with finite losses and GradScaler behaviour, fused Adam, torch.compile, kornia
augmentation on the GPU, channels_last, a world-size-1 NCCL DDP step with SyncBatchNorm, and folder translation.
Other features (EMA, CUT, ...) mark their own CUDA tests ``@pytest.mark.cuda`` in their test files: everything
marked runs in the GPU suite. Networks are tiny (ngf 4-8, 32-64 px) so the file takes seconds on a GPU.
"""
from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from conftest import tiny_config
from i2i.algorithms import build_algorithm
from i2i.config import load_config
from i2i.runtime import Precision

pytestmark = pytest.mark.cuda
CUDA = torch.device("cuda")
BASE = {"pix2pix": "pix2pix_facades", "cyclegan": "cyclegan_horse2zebra"}


def _algorithm(tmp_path, algorithm: str, root, precision: str, *extra: str):
    cfg = load_config(BASE[algorithm], tiny_config(tmp_path, algorithm, root, "device=cuda", *extra))
    return build_algorithm(cfg, CUDA, Precision(precision, CUDA))


def _batch(n: int = 2, size: int = 32, memory_format=torch.contiguous_format) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {k: (torch.rand(n, 3, size, size, generator=generator) * 2 - 1).to(CUDA, memory_format=memory_format)
            for k in ("A", "B")}


def _root(request, algorithm: str):
    return request.getfixturevalue("paired_root" if algorithm == "pix2pix" else "unpaired_root")


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("algorithm", ["pix2pix", "cyclegan"])
def test_low_precision_steps_are_finite_and_learn(tmp_path, request, algorithm, precision):
    algo = _algorithm(tmp_path, algorithm, _root(request, algorithm), precision)
    algo.train()
    before = {k: v.detach().clone() for k, v in algo.nets[next(iter(algo.nets))].state_dict().items()}
    for _ in range(8):  # fp16: the first steps may overflow at the initial scale and be skipped
        losses = algo.train_step(_batch())
        assert losses and all(torch.isfinite(v).all() for v in losses.values()), losses
    after = algo.nets[next(iter(algo.nets))].state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point())
    scales = {name: scaler.get_scale() for name, scaler in algo.precision.scalers.items() if scaler.is_enabled()}
    if precision == "fp16":
        assert set(scales) == set(algo.optimizers) and all(s > 0 for s in scales.values()), scales
    else:
        assert not scales  # bf16 needs no loss scaling


def test_grad_scaler_skips_a_step_with_inf_gradients():
    net = nn.Conv2d(3, 3, 3).to(CUDA)
    optimizer = torch.optim.Adam(net.parameters(), fused=True)
    precision = Precision("fp16", CUDA)
    x = torch.randn(2, 3, 8, 8, device=CUDA)
    with precision.autocast():
        loss = net(x).float().mean()
    precision.backward(loss, "G")
    precision.step("G", optimizer)
    scale = precision.scalers["G"].get_scale()
    weights = net.weight.detach().clone()
    optimizer.zero_grad()
    with precision.autocast():
        loss = net(x).float().mean() * float("inf")
    precision.backward(loss, "G")
    precision.step("G", optimizer)
    assert torch.equal(net.weight, weights)  # skipped
    assert precision.scalers["G"].get_scale() == scale / 2  # and the scale backed off


def test_fused_adam_is_chosen_on_cuda_and_matches_foreach(tmp_path, paired_root):
    algo = _algorithm(tmp_path, "pix2pix", paired_root, "fp32")
    assert all(opt.defaults.get("fused") for opt in algo.optimizers.values())
    params = [torch.randn(16, 8, device=CUDA, requires_grad=True) for _ in range(2)]
    twins = [p.detach().clone().requires_grad_() for p in params]
    fused, foreach = torch.optim.Adam(params, lr=0.01, fused=True), torch.optim.Adam(twins, lr=0.01, foreach=True)
    for _ in range(3):
        for group, opt in ((params, fused), (twins, foreach)):
            opt.zero_grad()
            sum((p**2).sum() for p in group).backward()
            opt.step()
    for p, q in zip(params, twins):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5)


def test_compile_small_model_matches_eager(tmp_path, paired_root, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # compare full fp32 arithmetic
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    algo = _algorithm(tmp_path, "pix2pix", paired_root, "fp32")
    algo.prepare(compile_mode="default")
    algo.train()
    losses = algo.train_step(_batch())
    assert all(torch.isfinite(v) for v in losses.values())
    net = algo.nets["G"].eval()
    x = _batch()["A"]
    with torch.no_grad():
        torch.testing.assert_close(algo.frozen_run["G"](x), net(x), atol=1e-4, rtol=1e-4)


def test_kornia_augment_is_identical_for_both_images_of_a_pair():
    from i2i.data.gpu_augment import PairedGPUAugment

    augment = PairedGPUAugment(crop_size=24, flip=True, paired=True).to(CUDA)
    a = torch.rand(8, 3, 32, 32, device=CUDA) * 2 - 1
    out_a, out_b = augment(a, a.clone())
    assert out_a.is_cuda and out_a.shape == (8, 3, 24, 24)
    assert torch.equal(out_a, out_b)
    gray = a[:, :1]  # one-channel B: same crop and flip as the first channel of A
    out_a, out_gray = augment(a, gray.clone())
    assert torch.equal(out_a[:, :1], out_gray)


@pytest.mark.parametrize("algorithm", ["pix2pix", "cyclegan"])
def test_channels_last_bf16_step(tmp_path, request, algorithm):
    algo = _algorithm(tmp_path, algorithm, _root(request, algorithm), "bf16")
    algo.prepare(channels_last=True)
    algo.train()
    losses = algo.train_step(_batch(memory_format=torch.channels_last))
    assert all(torch.isfinite(v) for v in losses.values())
    convs = [m for net in algo.nets.values() for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)


def test_nccl_world_size_1_ddp_step_with_sync_batchnorm(tmp_path, paired_root):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        algo = _algorithm(tmp_path, "pix2pix", paired_root, "bf16")
        for name in list(algo.nets):
            algo.nets[name] = nn.SyncBatchNorm.convert_sync_batchnorm(algo.nets[name])
        algo.prepare(wrap_trained=lambda net: DistributedDataParallel(net, device_ids=[CUDA.index or 0]))
        algo.train()
        assert any(isinstance(m, nn.SyncBatchNorm) for m in algo.nets["G"].modules())
        for _ in range(2):
            losses = algo.train_step(_batch())
            assert all(torch.isfinite(v) for v in losses.values())
    finally:
        dist.destroy_process_group()


def test_translate_folder_on_cuda_matches_cpu(tmp_path):
    from i2i.export import export_generator
    from i2i.inference import Translator
    from i2i.models import build_generator

    kwargs = {"in_channels": 3, "out_channels": 3, "ngf": 8, "n_blocks": 2, "norm": "instance",
              "use_dropout": False}
    torch.manual_seed(0)
    export = export_generator(build_generator("resnet", **kwargs), tmp_path / "G", architecture="resnet",
                              kwargs=kwargs, direction="AtoB")
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    sizes = [(32, 32), (37, 50), (64, 48), (32, 32)]
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(src / f"{i}.png")
    outputs = {}
    for device, precision in (("cpu", "fp32"), ("cuda", "fp32"), ("cuda", "bf16")):
        translator = Translator.from_pretrained(export, device=device, precision=precision)
        dst = tmp_path / f"out_{device}_{precision}"
        summary = translator.translate_folder(src, dst, batch_size=2, num_workers=2, progress=False)
        assert summary.translated == len(sizes) and not summary.failed
        outputs[device, precision] = [np.asarray(Image.open(dst / f"{i}.png")).astype(int) for i in range(len(sizes))]
    for i, (h, w) in enumerate(sizes):
        assert outputs["cuda", "bf16"][i].shape == (h, w, 3)
        assert np.abs(outputs["cuda", "fp32"][i] - outputs["cpu", "fp32"][i]).max() <= 3  # TF32 convolutions
        assert np.abs(outputs["cuda", "bf16"][i] - outputs["cpu", "fp32"][i]).mean() < 4


def test_fp16_trainer_logs_skipped_steps(tmp_path, paired_root):
    import json

    from i2i.engine.trainer import Trainer

    trainer = Trainer(load_config("pix2pix_facades", tiny_config(tmp_path, "pix2pix", paired_root, "device=cuda",
                                                                 "train.max_steps=3", "train.precision=fp16")))
    trainer.fit()
    records = [json.loads(line) for line in (trainer.run_dir / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "amp/skipped_G" in r]
    assert len(logged) == 3 and all(0 <= r["amp/skipped_G"] <= r["step"] for r in logged)


def test_real_out_of_memory_is_one_line_naming_the_batch_keys(tmp_path, paired_root):
    from i2i.engine.trainer import Trainer, TrainingError

    trainer = Trainer(load_config("pix2pix_facades", tiny_config(tmp_path, "pix2pix", paired_root, "device=cuda",
                                                                 "train.max_steps=2", "data.batch_size=8",
                                                                 "model.ngf=64")))
    torch.cuda.empty_cache()
    # Nothing more may be allocated: the first step's Adam states alone (twice the weights' size) cannot fit.
    torch.cuda.set_per_process_memory_fraction(1e-6)
    try:
        with pytest.raises(TrainingError, match=r"^step 1: out of CUDA memory at data.batch_size=8 .*train.grad_accum"):
            trainer.fit()
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()


@pytest.mark.parametrize("mode", ["cut", "fastcut"])
def test_cut_bf16_training_with_ema_on_cuda(tmp_path, unpaired_root, mode):
    from test_cut import cut_config

    from i2i.engine.trainer import Trainer

    cfg = load_config("quickstart_cut", cut_config(tmp_path, unpaired_root, "device=cuda", "train.precision=bf16",
                                                   "train.max_steps=3", "train.ema=0.99", f"cut.mode={mode}"))
    trainer = Trainer(cfg)
    before = {n: [p.detach().clone() for p in net.parameters()] for n, net in trainer.algorithm.nets.items()}
    trainer.fit()
    assert trainer.step == 3 and set(trainer.algorithm.nets) == {"G", "D", "F"}
    for name, net in trainer.algorithm.nets.items():
        assert any(not torch.equal(b, p) for b, p in zip(before[name], net.parameters())), name
    ema, raw = trainer.ema_generators["G"], trainer.algorithm.nets["G"]
    assert all(e.device.type == "cuda" for e in ema.parameters())
    assert any(not torch.equal(e, r) for e, r in zip(ema.parameters(), raw.parameters()))


def test_multiscale_feature_matching_fp16_step(tmp_path, paired_root):
    algo = _algorithm(tmp_path, "pix2pix", paired_root, "fp16", "model.discriminator=multiscale", "model.num_D=2",
                      "pix2pix.lambda_feat=10", "data.crop_size=64", "data.load_size=72")
    algo.train()
    for _ in range(4):
        losses = algo.train_step(_batch(size=64))
        assert all(torch.isfinite(v) for v in losses.values()), losses
    assert "G_feat" in losses or any("feat" in k for k in losses), sorted(losses)
