"""CUT and FastCUT end to end on generated 32x32 images: every parameter trains, exact resume, export, bad input."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import i2i
from conftest import tiny_config
from i2i.config import ConfigError, load_config
from i2i.engine.trainer import Trainer

# CUT's nce_layers on the tiny resnet_6blocks: padded input, both downsampling convs, residual blocks 1 and 5.
TINY_CUT = ["model.algorithm=cut", "cut.nce_layers=[0,4,8,12,16]", "cut.num_patches=16", "cut.netf_units=8"]


def cut_config(tmp_path: Path, root: Path, *extra: str) -> list[str]:
    """The tiny CycleGAN overrides of conftest with model.algorithm=cut (and no CycleGAN section)."""
    common = [o for o in tiny_config(tmp_path, "cyclegan", root) if not o.startswith(("model.algorithm=",
                                                                                      "cyclegan."))]
    return common + TINY_CUT + list(extra)


def _trainer(tmp_path: Path, root: Path, *extra: str) -> Trainer:
    return Trainer(load_config("quickstart_cut", cut_config(tmp_path, root, *extra)))


@pytest.mark.parametrize("mode", ["cut", "fastcut"])
def test_one_step_changes_every_parameter_and_exports_the_generator(tmp_path, unpaired_root, mode):
    trainer = _trainer(tmp_path, unpaired_root, "train.max_steps=1", f"cut.mode={mode}")
    assert sorted(trainer.algorithm.nets) == ["D", "F", "G"]
    assert trainer.algorithm.options.nce_idt is (mode == "cut")
    nets = trainer.algorithm.nets
    before = {n: {k: p.detach().clone() for k, p in net.named_parameters()} for n, net in nets.items()}
    trainer.fit()
    assert trainer.step == 1
    for name, net in trainer.algorithm.nets.items():
        unchanged = [k for k, p in net.named_parameters() if torch.equal(p, before[name][k])]
        assert not unchanged, f"{name}: {unchanged}"
    record = (tmp_path / "tiny" / "metrics.jsonl").read_text()
    assert '"NCE"' in record and ('"NCE_Y"' in record) is (mode == "cut")

    # The export is the generator alone, rebuilt with CUT's anti-aliased layers.
    assert [p.name for p in (tmp_path / "tiny" / "export").iterdir()] == ["G"]
    generator, config = i2i.load_generator_with_config(tmp_path / "tiny")
    assert config["architecture"] == "resnet_6blocks" and config["kwargs"]["antialias"] is True
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(generator(x), trainer.algorithm.nets["G"].eval()(x))


def test_resume_is_exact(tmp_path, unpaired_root):
    # 4 images in batches of 2: 2 steps per epoch; the resumed run crosses the epoch boundary and the LR decay.
    small = ("data.batch_size=2", "data.max_dataset_size=4", "train.image_every=1000")
    straight = _trainer(tmp_path / "a", unpaired_root, "train.max_steps=3", *small)
    straight.fit()
    _trainer(tmp_path / "b", unpaired_root, "train.max_steps=1", *small).fit()
    resumed = _trainer(tmp_path / "b", unpaired_root, "train.max_steps=3", "train.resume=true", *small)
    assert resumed.step == 1
    resumed.fit()
    for name, net in straight.algorithm.nets.items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, resumed.algorithm.nets[name].state_dict()[key]), f"{name}.{key}"
    moments = [t.algorithm.optimizers["G"].state_dict()["state"] for t in (straight, resumed)]
    assert moments[0].keys() == moments[1].keys()  # G's and F's parameters: F is trained by G's Adam.
    assert all(torch.equal(moments[0][i]["exp_avg_sq"], moments[1][i]["exp_avg_sq"]) for i in moments[0])
    lr = [t.algorithm.optimizers["G"].param_groups[0]["lr"] for t in (straight, resumed)]
    assert lr[0] == lr[1] < 5e-4  # the linear decay has started


@pytest.mark.parametrize("override, message", [
    ("model.generator=unet_256", "model.generator: cut taps the generator's features, which 'unet_256' "
                                 "\\(UnetGenerator\\) does not provide"),
    ("cut.nce_layers=[0,4,40]", "cut.nce_layers: 40 is past the last layer of ResnetGenerator \\(valid: 0..28"),
    ("cut.num_patches=0", "cut.num_patches: must be >= 1, got 0"),
    ("cut.nce_t=0", "cut.nce_t: the temperature must be > 0"),
    ("cut.mode=fast", "cut.mode"),
])
def test_bad_options_name_the_key(tmp_path, unpaired_root, override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("quickstart_cut", cut_config(tmp_path, unpaired_root, override))


def test_presets_and_explicit_values():
    fastcut = load_config("quickstart_cut", ["cut.mode=fastcut"]).options
    assert (fastcut.lambda_nce, fastcut.nce_idt, fastcut.flip_equivariance) == (10.0, False, True)
    explicit = load_config("quickstart_cut", ["cut.mode=fastcut", "cut.lambda_nce=2", "cut.nce_idt=true"]).options
    assert (explicit.lambda_nce, explicit.nce_idt, explicit.flip_equivariance) == (2.0, True, True)
    for name in ("cut_horse2zebra", "fastcut_horse2zebra"):
        cfg = load_config(name)
        assert cfg.model.algorithm == "cut" and cfg.options.mode == name.split("_")[0]
        assert (cfg.model.generator, cfg.loss.gan_mode, cfg.optim.lr) == ("resnet_9blocks", "lsgan", 2e-4)


def test_ddp_ranks_stay_identical(tmp_path, unpaired_root):
    # G's feature taps go through DistributedDataParallel's forward (G(x, layers=...)), F's projections too.
    from test_distributed import _run

    args = cut_config(tmp_path, unpaired_root, "train.max_steps=2", "data.batch_size=2")
    ranks = _run(tmp_path / "ddp", 2, args + [f"output_dir={tmp_path / 'ddp'}"])
    assert any(key.startswith("F.") for key in ranks[0])
    for key, value in ranks[0].items():
        assert torch.equal(value, ranks[1][key]), f"ranks differ at {key}"


def test_benchmark_cut_case_runs():
    from i2i.benchmark import CASES, BenchmarkOptions, case_config, run_case

    row = run_case("tiny_cut", BenchmarkOptions(device="cpu"))
    assert (row["algorithm"], row["resolution"], row["batch"], row["steps"]) == ("cut", 32, 1, 3)
    assert row["images_per_s"] > 0 and row["gflop_per_image"] > 0 and row["peak_memory_mb"] > 0
    fastcut = case_config(CASES["fastcut_256_b1"], BenchmarkOptions())
    assert (fastcut.model.algorithm, fastcut.options.mode, fastcut.options.nce_idt) == ("cut", "fastcut", False)
