"""The reference implementation's pretrained generators ("model zoo"): names, URLs and a checked download cache.

Names are ``cyclegan/<name>`` or ``pix2pix/<name>``. A bare name means the CycleGAN model where both kinds have one
(``sat2map``, ``map2sat``, ``facades_label2photo``) and otherwise the only model of that name. The URLs are those of
the reference's ``scripts/download_cyclegan_model.sh`` and ``scripts/download_pix2pix_model.sh``.

Files are cached in ``$I2I_CACHE`` (default ``~/.cache/i2i/zoo``) as ``<kind>/<name>.pth``.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import uuid
from dataclasses import dataclass
from pathlib import Path

import torch.hub

from i2i.registry import nearest

CYCLEGAN_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/{name}.pth"
PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/{name}.pth"

CYCLEGAN_MODELS = (
    "apple2orange", "orange2apple", "summer2winter_yosemite", "winter2summer_yosemite", "horse2zebra", "zebra2horse",
    "monet2photo", "style_monet", "style_cezanne", "style_ukiyoe", "style_vangogh", "sat2map", "map2sat",
    "cityscapes_photo2label", "cityscapes_label2photo", "facades_photo2label", "facades_label2photo",
    "iphone2dslr_flower",
)
PIX2PIX_MODELS = ("edges2shoes", "sat2map", "map2sat", "facades_label2photo", "day2night")
KINDS = {"cyclegan": (CYCLEGAN_MODELS, CYCLEGAN_URL), "pix2pix": (PIX2PIX_MODELS, PIX2PIX_URL)}
CHUNK = 1 << 20


class ZooError(RuntimeError):
    """A zoo model cannot be fetched or fails its checksum; the one-line message says why."""


@dataclass(frozen=True)
class ZooModel:
    """One pretrained generator of the reference.

    Attributes:
        kind: "cyclegan" (ResNet-9, instance norm: the same output in eval and train mode) or "pix2pix" (U-Net-256,
            batch norm and dropout: the reference runs it in train mode unless ``--eval``).
        name: The model name, e.g. "horse2zebra".
    """

    kind: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def url(self) -> str:
        return KINDS[self.kind][1].format(name=self.name)


def zoo_names() -> list[str]:
    """Every model as ``kind/name``."""
    return [f"{kind}/{name}" for kind, (names, _) in KINDS.items() for name in names]


def resolve(name: str) -> ZooModel:
    """Turn ``kind/name`` or a bare name (CycleGAN first when both kinds have it) into a :class:`ZooModel`.

    Raises:
        KeyError: Unknown kind or name; the message lists the valid names and the nearest one.
    """
    kind, _, bare = name.rpartition("/")
    if kind and kind not in KINDS:
        raise KeyError(f"unknown zoo kind '{kind}'{nearest(kind, list(KINDS))}; valid: {', '.join(KINDS)}")
    for candidate in [kind] if kind else list(KINDS):
        if bare in KINDS[candidate][0]:
            return ZooModel(candidate, bare)
    valid = zoo_names() if kind else sorted({n for names, _ in KINDS.values() for n in names})
    raise KeyError(f"unknown zoo model '{name}'{nearest(name, valid)}; valid: {', '.join(valid)}")


def zoo_url(name: str) -> str:
    """The download URL of a zoo model, e.g. ``zoo_url("horse2zebra")``."""
    return resolve(name).url


def cache_dir() -> Path:
    """``$I2I_CACHE`` if set, else ``~/.cache/i2i/zoo``."""
    env = os.environ.get("I2I_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "i2i" / "zoo"


def cached_path(name: str, cache: str | Path | None = None) -> Path:
    """Where :func:`fetch` keeps a zoo model: ``<cache>/<kind>/<name>.pth``."""
    model = resolve(name)
    return Path(cache if cache is not None else cache_dir()) / model.kind / f"{model.name}.pth"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def fetch(name: str, *, url: str | None = None, sha256: str | None = None, cache: str | Path | None = None,
          progress: bool = False) -> Path:
    """Return the local path of a zoo model, downloading it once.

    The download (``torch.hub.download_url_to_file``) goes to a temporary file in the cache folder that is renamed
    into place only when complete and, when ``sha256`` is given, verified, so an interrupted or corrupt download
    never leaves a file under the final name. A cached file is reused; when ``sha256`` is given and the cached file
    does not match, it is downloaded again.

    Args:
        name: ``kind/name`` or a bare name, see :func:`resolve`.
        url: Download from here instead of the reference's server (``http(s)://`` or ``file://``).
        sha256: Expected hex digest of the file.
        cache: Cache folder instead of :func:`cache_dir`.
        progress: Show a download progress bar.

    Raises:
        KeyError: Unknown name.
        ZooError: The download failed or the checksum does not match (nothing is left in the cache).
    """
    target = cached_path(name, cache)
    if target.is_file() and (sha256 is None or sha256_of(target) == sha256.lower()):
        return target
    source = url or resolve(name).url
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(source, str(target), hash_prefix=sha256.lower() if sha256 else None,
                                       progress=progress)
    except RuntimeError as err:  # torch.hub's checksum failure.
        digest = str(err).rsplit(" ", 1)[-1].strip('")')
        raise ZooError(f"{source}: sha256 mismatch (expected {sha256}, got {digest}); download discarded") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err
        raise ZooError(f"{source}: download failed ({reason})") from None
    return target


def copy_into_cache(name: str, source: str | Path, cache: str | Path | None = None) -> Path:
    """Place an already downloaded file in the cache (e.g. on a machine without internet access)."""
    target = cached_path(name, cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    return target
