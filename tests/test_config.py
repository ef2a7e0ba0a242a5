"""Config loading: every shipped config validates; unknown keys and bad values fail naming the key."""

import pytest
import yaml

from i2i.config import CONFIG_DIR, Config, ConfigError, dump_config, load_config

SHIPPED = sorted(CONFIG_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    assert cfg.name == path.stem


def test_bare_name_is_looked_up_in_configs():
    assert load_config("cyclegan_horse2zebra").model.generator == "resnet_9blocks"
    assert load_config("cyclegan_horse2zebra.yaml").loss.gan_mode == "lsgan"


def test_paper_settings():
    cyc = load_config("cyclegan_horse2zebra")
    assert (cyc.model.norm, cyc.options.pool_size, cyc.options.lambda_identity) == ("instance", 50, 0.5)
    assert (cyc.data.load_size, cyc.data.crop_size, cyc.model.generator) == (286, 256, "resnet_9blocks")
    assert (cyc.optim.n_epochs, cyc.optim.n_epochs_decay, cyc.data.batch_size) == (100, 100, 1)
    p2p = load_config("pix2pix_facades")
    assert (p2p.model.generator, p2p.model.norm, p2p.loss.gan_mode, p2p.options.lambda_l1) == ("unet_256", "batch",
                                                                                          "vanilla", 100.0)
    assert p2p.data.direction == "BtoA"


def test_overrides_are_typed():
    cfg = load_config("pix2pix_facades", ["train.max_steps=7", "optim.lr=1e-3", "data.flip=false", "name=x"])
    assert (cfg.train.max_steps, cfg.optim.lr, cfg.data.flip, cfg.name) == (7, 1e-3, False, "x")


@pytest.mark.parametrize("override, message", [
    ("train.max_stpes=3", "unknown key 'train.max_stpes' (did you mean 'max_steps'?)"),
    ("modle.ngf=3", "unknown key 'modle' (did you mean 'model'?)"),
    ("loss.gan_mode=lsgann", "loss.gan_mode: unknown 'lsgann' (did you mean 'lsgan'?)"),
    ("model.algorithm=pix2pxi", "model.algorithm: unknown 'pix2pxi' (did you mean 'pix2pix'?); valid: cut, cyclegan"),
    ("data.dataset=alinged", "data.dataset: unknown 'alinged' (did you mean 'aligned'?)"),
    ("data.dataset=single", "data.dataset: pix2pix needs paired data, which 'single' does not provide; use one of"),
    ("loss.lambda_l1=10", "'loss.lambda_l1' has moved to 'pix2pix.lambda_l1'"),
    ("pix2pix.lambda_l2=3", "unknown key 'pix2pix.lambda_l2' (did you mean 'lambda_l1'?)"),
    ("train.ema=1.5", "train.ema: the EMA decay must be in (0, 1)"),
    ("train.ema=0", "train.ema: the EMA decay must be in (0, 1)"),
    ("data.input_nc=2", "data.input_nc: 2 is not allowed"),
    ("optim.lr=fast", "optim.lr: expected float"),
    ("model.generator=resnet_9block", "model.generator: unknown 'resnet_9block' (did you mean 'resnet_9blocks'?)"),
    ("data.batch_size=0", "data.batch_size: must be > 0"),
    ("train.grad_accum=-1", "train.grad_accum: must be > 0"),
    ("eval.best_metric=fid", "eval.best_metric"),
])
def test_bad_keys_and_values_name_the_key(override, message):
    with pytest.raises(ConfigError) as info:
        load_config("pix2pix_facades", [override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_config_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config 'pix2pix_facade' not found .*did you mean 'pix2pix_facades'"):
        load_config("pix2pix_facade")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)


def test_dump_round_trip(tmp_path):
    cfg = load_config("cyclegan_horse2zebra", ["train.max_steps=5"])
    dump_config(cfg, tmp_path / "config.yaml")
    again = load_config(yaml.safe_load((tmp_path / "config.yaml").read_text()))
    assert again == cfg
