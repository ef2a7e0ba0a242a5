"""Typed training configuration: dataclasses loaded from YAML, validated, with dotted ``key=value`` overrides.

A config file mirrors :class:`Config`: top-level keys ``name``, ``seed``, ``device``, ``output_dir``, the sections
``model``, ``loss``, ``optim``, ``data``, ``train`` and ``eval``, and one section named after ``model.algorithm``
holding that algorithm's own options (e.g. ``pix2pix: {lambda_l1: 100}``), typed by the dataclass the algorithm
declares (``Algorithm.Options``). Names of algorithms, dataset layouts, networks and GAN losses are checked against
their registries, so a plug-in registered anywhere is known here without an edit. Unknown keys fail with the
nearest valid key; values of the wrong type or outside a ``Literal`` choice fail with the key's name and the allowed
values; keys that moved fail naming their new place.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from i2i.data.config import DataConfig
from i2i.errors import UserError, first_line
from i2i.registry import nearest
from i2i.resources import config_dir

CONFIG_DIR = config_dir()  # The clone's configs/, or i2i/configs in an installed wheel.
LOGGERS = Literal["jsonl", "tensorboard", "wandb", "mlflow"]


class ConfigError(UserError, ValueError):
    """A config key or value is invalid; the message names the key."""


@dataclass
class ModelConfig:
    """Which algorithm and networks to build. ``n_blocks``/``num_downs`` apply to the generic ``resnet``/``unet``."""

    algorithm: str = "pix2pix"
    generator: str = "unet_256"
    n_blocks: int = 9
    num_downs: int = 8
    ngf: int = 64
    norm: Literal["instance", "batch", "none"] = "batch"
    dropout: bool = True
    upsample: Literal["convtranspose", "upsample_conv"] = "convtranspose"
    discriminator: str = "basic"
    ndf: int = 64
    n_layers_d: int = 3
    num_D: int = 2
    norm_d: Literal["instance", "batch", "none", "same"] = "same"
    spectral_norm: bool = False
    init: Literal["normal", "xavier", "kaiming", "orthogonal"] = "normal"
    init_gain: float = 0.02

    def generator_settings(self) -> dict[str, Any]:
        """Constructor keywords a generator may take, by their names in the networks (each takes what it accepts)."""
        return {"ngf": self.ngf, "norm": self.norm, "use_dropout": self.dropout, "upsample": self.upsample,
                "n_blocks": self.n_blocks, "num_downs": self.num_downs}

    def discriminator_settings(self) -> dict[str, Any]:
        """Constructor keywords a discriminator may take (``norm_d: same`` resolves to the generator's norm)."""
        return {"ndf": self.ndf, "norm": self.norm if self.norm_d == "same" else self.norm_d,
                "spectral_norm": self.spectral_norm, "n_layers": self.n_layers_d, "num_D": self.num_D}


@dataclass
class LossConfig:
    """The adversarial objective shared by every algorithm; algorithm-specific weights live in its own section."""

    gan_mode: str = "vanilla"
    gp_weight: float = 10.0


@dataclass
class OptimConfig:
    """Adam settings and the learning-rate policy (epochs are passes over the training set)."""

    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_policy: Literal["linear", "step", "cosine", "constant"] = "linear"
    n_epochs: int = 100
    n_epochs_decay: int = 100
    lr_decay_epochs: int = 50
    adam_impl: Literal["auto", "fused", "foreach", "loop"] = "auto"


@dataclass
class TrainConfig:
    """Loop, precision, logging and checkpoint settings."""

    max_steps: int | None = None
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    channels_last: bool = False
    compile: bool = False
    compile_mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = "default"
    grad_accum: int = 1
    cudnn_benchmark: bool = True
    tf32: bool = True
    sync_batchnorm: bool = False
    log_every: int = 50
    image_every: int = 500
    ckpt_every: int = 2000
    keep_ckpts: int = 3
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    loggers: list[LOGGERS] = field(default_factory=lambda: ["jsonl", "tensorboard"])
    ema: float | None = None


@dataclass
class EvalConfig:
    """Periodic evaluation on a validation split taken from the training set (or ``data.root``/``val_phase``)."""

    every: int = 0
    val_fraction: float = 0.0
    val_phase: str | None = None
    max_images: int = 100
    metrics: list[str] = field(default_factory=lambda: ["l1", "psnr", "ssim"])
    best_metric: str = "l1"
    features: Literal["inception", "random"] = "inception"
    inception_weights: str | None = None


@dataclass
class Config:
    """A full training run."""

    name: str = "run"
    seed: int = 0
    device: str = "auto"
    output_dir: str = "runs"
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    options: Any = None  # the algorithm's Options instance; YAML section named after model.algorithm

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: dataclasses.asdict(getattr(self, f.name)) if dataclasses.is_dataclass(getattr(self, f.name))
                  else getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "options"}
        if self.options is not None:
            values[self.model.algorithm] = dataclasses.asdict(self.options)
        return values


def _algorithms():
    from i2i.algorithms import ALGORITHMS

    return ALGORITHMS


def _moved_keys() -> dict[str, str]:
    """Old dotted key -> its new place, collected from every registered algorithm's ``Options.moved_from``."""
    moved = {"train.tensorboard": "train.loggers (a list of jsonl, tensorboard, wandb, mlflow)"}
    registry = _algorithms()
    for name in registry.names():
        for old, new in getattr(registry.get(name).Options, "moved_from", {}).items():
            moved[old] = f"{name}.{new}"
    return moved


# Loading and validation.

def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the type hint ``tp`` and return it (ints are accepted for floats)."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices and type(value) is type(choices[0]):
            return value
        shown = ", ".join(repr(c) for c in choices)
        hint = nearest(str(value), [str(c) for c in choices])
        raise ConfigError(f"{key}: {value!r} is not allowed{hint}; allowed: {shown}")
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} does not match {_type_name(tp)}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item_tp,) = typing.get_args(tp)
        return [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
        try:
            return float(value)
        except ValueError:
            pass
    if tp in (int, float, str, bool):
        if isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
            return value
        raise ConfigError(f"{key}: expected {tp.__name__}, got {value!r}")
    raise ConfigError(f"{key}: unsupported type {tp}")


def _build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking every key and value (``prefix`` names the section)."""
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            moved = _moved_keys().get(f"{prefix}{key}")
            if moved:
                raise ConfigError(f"'{prefix}{key}' has moved to '{moved}'; rename the key in your config")
            raise ConfigError(f"unknown key '{prefix}{key}'{nearest(str(key), names)}; valid keys: {', '.join(names)}")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value, f"{prefix}{key}.")
        else:
            kwargs[key] = _coerce(value, tp, f"{prefix}{key}")
    return cls(**kwargs)


def _build_config(values: dict[str, Any]) -> Config:
    """Build :class:`Config`; the section named after ``model.algorithm`` becomes that algorithm's typed options."""
    if not isinstance(values, dict):
        raise ConfigError(f"config: expected a mapping of keys at the top level, got {values!r}")
    registry = _algorithms()
    model = values.get("model") or {}
    algorithm = model.get("algorithm", ModelConfig.algorithm) if isinstance(model, dict) else ModelConfig.algorithm
    _check_name("model.algorithm", algorithm, registry)
    sections = {key: values[key] for key in list(values) if key in registry}
    for key in sections:
        if key != algorithm:  # e.g. a pix2pix config run with model.algorithm=cyclegan
            warnings.warn(f"section '{key}' is ignored: it holds options of algorithm '{key}', but model.algorithm "
                          f"is '{algorithm}'", stacklevel=3)
    cfg = _build(Config, {k: v for k, v in values.items() if k not in sections}, "")
    cfg.options = _build(registry.get(algorithm).Options, sections.get(algorithm) or {}, f"{algorithm}.")
    return cfg


def _check_name(key: str, value: Any, registry) -> None:
    if not isinstance(value, str) or value not in registry:
        raise ConfigError(f"{key}: unknown '{value}'{nearest(str(value), registry.names())}; "
                          f"valid: {', '.join(registry.names())}")


def _validate(cfg: Config) -> None:
    """Cross-field and registry checks that the type hints cannot express."""
    from i2i.data import DATASETS
    from i2i.losses import GAN_LOSSES
    from i2i.models import DISCRIMINATORS, GENERATORS

    for key, registry, value in (("model.generator", GENERATORS, cfg.model.generator),
                                 ("model.discriminator", DISCRIMINATORS, cfg.model.discriminator),
                                 ("loss.gan_mode", GAN_LOSSES, cfg.loss.gan_mode),
                                 ("data.dataset", DATASETS, cfg.data.dataset)):
        _check_name(key, value, registry)
    positive = {"model.ngf": cfg.model.ngf, "model.ndf": cfg.model.ndf, "optim.lr": cfg.optim.lr,
                "train.grad_accum": cfg.train.grad_accum, "train.log_every": cfg.train.log_every,
                "train.image_every": cfg.train.image_every, "train.ckpt_every": cfg.train.ckpt_every,
                "train.keep_ckpts": cfg.train.keep_ckpts, "data.batch_size": cfg.data.batch_size,
                "optim.lr_decay_epochs": cfg.optim.lr_decay_epochs}
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key}: must be > 0, got {value}")
    _check_discriminator_size(cfg)
    if cfg.optim.n_epochs < 0 or cfg.optim.n_epochs_decay < 0 or cfg.optim.n_epochs + cfg.optim.n_epochs_decay == 0:
        raise ConfigError("optim.n_epochs/optim.n_epochs_decay: must be >= 0 and not both 0")
    if cfg.train.max_steps is not None and cfg.train.max_steps <= 0:
        raise ConfigError(f"train.max_steps: must be > 0 or null, got {cfg.train.max_steps}")
    if cfg.train.ema is not None and not 0.0 < cfg.train.ema < 1.0:
        raise ConfigError(f"train.ema: the EMA decay must be in (0, 1), e.g. 0.999 (or null for no EMA), "
                          f"got {cfg.train.ema}")
    if not 0.0 <= cfg.eval.val_fraction < 1.0:
        raise ConfigError(f"eval.val_fraction: must be in [0, 1), got {cfg.eval.val_fraction}")
    known_metrics = ["l1", "psnr", "ssim", "fid", "kid"]
    for m in cfg.eval.metrics:
        if m not in known_metrics:
            raise ConfigError(f"eval.metrics: unknown metric '{m}'{nearest(m, known_metrics)}; "
                              f"valid: {', '.join(known_metrics)}")
    if cfg.eval.best_metric not in cfg.eval.metrics:
        raise ConfigError(f"eval.best_metric: '{cfg.eval.best_metric}' is not in eval.metrics {cfg.eval.metrics}")
    algorithm = _algorithms().get(cfg.model.algorithm)
    needs = algorithm.data_kind
    layouts = [name for name in DATASETS.names() if needs in DATASETS.get(name).provides]
    if needs not in DATASETS.get(cfg.data.dataset).provides:
        raise ConfigError(f"data.dataset: {cfg.model.algorithm} needs {needs} data, which '{cfg.data.dataset}' does "
                          f"not provide; use one of: {', '.join(layouts)}")
    try:
        algorithm.validate(cfg.options, cfg)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if hasattr(cfg.data, "validate"):
        try:
            cfg.data.validate()
        except ValueError as err:
            raise ConfigError(str(err)) from None


def _check_discriminator_size(cfg: Config) -> None:
    """``model.num_D`` in 1..4, and crops large enough for every scale of a multi-scale discriminator."""
    from i2i.data.config import CROPPING_MODES
    from i2i.models.discriminators import multiscale_min_input_size

    if cfg.model.discriminator != "multiscale":
        return
    if not 1 <= cfg.model.num_D <= 4:
        raise ConfigError(f"model.num_D: a multi-scale discriminator has 1 to 4 scales, got {cfg.model.num_D}")
    need = multiscale_min_input_size(cfg.model.num_D, cfg.model.n_layers_d)
    if cfg.data.preprocess in CROPPING_MODES and cfg.data.crop_size < need:
        raise ConfigError(f"model.num_D: {cfg.model.num_D} scales of n_layers_d={cfg.model.n_layers_d} need images of "
                          f"at least {need} px, but data.crop_size is {cfg.data.crop_size}; lower model.num_D or "
                          f"model.n_layers_d, or raise data.crop_size")


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``section.key=value`` into the key path and a YAML-parsed value."""
    if "=" not in text:
        raise ConfigError(f"override '{text}': expected key=value, e.g. train.max_steps=100")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A path that exists is used as is; a bare name is looked up in ``configs/`` (``.yaml`` optional)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    if path.is_dir():
        raise ConfigError(f"config '{name_or_path}' is a folder, not a config file; give a .yaml file in it")
    for candidate in (CONFIG_DIR / path.name, CONFIG_DIR / f"{path.name}.yaml"):
        if candidate.is_file():
            return candidate
    available = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    raise ConfigError(f"config '{name_or_path}' not found{nearest(path.stem, available)}; "
                      f"configs/ has: {', '.join(available)}")


def _read_yaml(path: Path) -> dict[str, Any]:
    """The top-level mapping of a YAML config file; syntax errors name the line and column, empty files fail."""
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or first_line(err)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the config ({first_line(err)})") from None
    if values is None:
        raise ConfigError(f"{path}: the config is empty; give at least the keys that differ from the defaults, "
                          "e.g. a name and data.root")
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got a {type(values).__name__}")
    return values


def load_config(source: str | Path | dict | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load a config from a YAML file (path or name in ``configs/``) or a dict, apply overrides and validate.

    Raises:
        ConfigError: naming the offending key (or file) and what is wrong.
    """
    if source is None:
        values: dict[str, Any] = {}
    elif isinstance(source, dict):
        values = json.loads(json.dumps(source))
    else:
        values = _read_yaml(resolve_config_path(source))
    for text in overrides:
        keys, value = parse_override(text)
        node = values
        for part in keys[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{text}': '{part}' is not a section")
        node[keys[-1]] = value
    cfg = _build_config(values)
    _validate(cfg)
    return cfg


def dump_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML, atomically."""
    from i2i.fileio import write_bytes_atomic

    write_bytes_atomic(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False).encode())
