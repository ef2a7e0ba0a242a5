"""Shared fixtures: tiny synthetic datasets written to a temporary folder once per session; the ``cuda`` marker.

Tests that need a GPU are marked ``@pytest.mark.cuda`` and skipped where CUDA is unavailable;
``pytest -m cuda`` runs exactly them (``tools/gpu_check.sh`` does).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (skipped without one; run them with -m cuda)")


def pytest_collection_modifyitems(config, items) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def paired_root(tmp_path_factory) -> Path:
    from i2i.data.synthetic import make_synthetic_dataset

    root = tmp_path_factory.mktemp("paired") / "edges2shapes"
    make_synthetic_dataset(root, kind="paired", n_train=8, n_test=2, size=32, seed=0)
    return root


@pytest.fixture(scope="session")
def unpaired_root(tmp_path_factory) -> Path:
    from i2i.data.synthetic import make_synthetic_dataset

    root = tmp_path_factory.mktemp("unpaired") / "shapes2stripes"
    make_synthetic_dataset(root, kind="unpaired", n_train=8, n_test=2, size=32, seed=0)
    return root


def tiny_config(tmp_path: Path, algorithm: str, root: Path, *extra: str) -> list[str]:
    """Overrides for a tiny run on 32x32 images (ngf/ndf 4) writing into ``tmp_path``."""
    common = [f"output_dir={tmp_path}", "name=tiny", "device=cpu", f"data.root={root}", "data.num_workers=0",
              "data.load_size=36", "data.crop_size=32", "model.ngf=4", "model.ndf=4", "optim.n_epochs=1",
              "optim.n_epochs_decay=2", "train.log_every=1", "train.image_every=2", "train.ckpt_every=1000",
              "train.progress=false", "train.loggers=[jsonl]"]
    if algorithm == "pix2pix":
        specific = ["model.algorithm=pix2pix", "model.generator=unet", "model.num_downs=5", "data.dataset=aligned"]
    else:
        specific = ["model.algorithm=cyclegan", "model.generator=resnet_6blocks", "model.norm=instance",
                    "model.dropout=false", "loss.gan_mode=lsgan", "data.dataset=unaligned", "cyclegan.pool_size=3"]
    return common + specific + list(extra)
