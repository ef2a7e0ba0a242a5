"""Download and unpack the standard pix2pix and CycleGAN datasets from their public mirrors.

Usage:
    python datasets/download.py facades                      # pix2pix facades -> datasets/facades/train, ...
    python datasets/download.py horse2zebra                  # CycleGAN -> datasets/horse2zebra/trainA, ...
    python datasets/download.py maps --kind cyclegan --root data

``maps``, ``facades`` and ``cityscapes`` exist in both collections; ``--kind`` picks one (pix2pix by default).
Both unpack into a folder of the same name, so download the second one into another ``--root``.
Uses only the standard library (plus tqdm for a progress bar when installed).
"""
from __future__ import annotations

import argparse
import difflib
import http.client
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import Literal

Kind = Literal["pix2pix", "cyclegan"]

PIX2PIX_DATASETS = ("facades", "cityscapes", "maps", "edges2shoes", "edges2handbags", "night2day")
CYCLEGAN_DATASETS = ("apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo", "cezanne2photo",
                     "ukiyoe2photo", "vangogh2photo", "maps", "cityscapes", "facades", "iphone2dslr_flower",
                     "ae_photos")
URLS = {"pix2pix": "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz",
        "cyclegan": "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"}
DATASETS: dict[str, tuple[str, ...]] = {"pix2pix": PIX2PIX_DATASETS, "cyclegan": CYCLEGAN_DATASETS}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
TEST_ONLY = ("ae_photos",)  # Photos for testing pretrained models; no train folders.


def resolve_kind(name: str, kind: Kind | None = None) -> Kind:
    """The collection ``name`` belongs to (pix2pix when it is in both and ``kind`` is None).

    Raises:
        ValueError: Unknown name (listing the valid names and the nearest one) or unknown kind.
    """
    if kind is not None and kind not in DATASETS:
        raise ValueError(f"unknown kind '{kind}'; valid: {', '.join(DATASETS)}")
    kinds = [kind] if kind is not None else list(DATASETS)
    for candidate in kinds:
        if name in DATASETS[candidate]:
            return candidate
    valid = sorted(set().union(*(DATASETS[k] for k in kinds)))
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    where = f"{kind} " if kind is not None else ""
    raise ValueError(f"unknown {where}dataset '{name}'{hint}; valid: {', '.join(valid)}")


def dataset_url(name: str, kind: Kind | None = None) -> str:
    """Download URL of dataset ``name`` (``kind``: pix2pix .tar.gz or cyclegan .zip; None picks, pix2pix first)."""
    return URLS[resolve_kind(name, kind)].format(name=name)


def download(url: str, dest: str | Path, *, timeout: float = 60.0, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` through a ``.part`` file that is renamed when complete.

    Raises:
        ConnectionError: One line saying why (offline, HTTP error, incomplete transfer).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            received = _copy_with_progress(response, out, total, dest.name if progress else None)
        if total and received != total:
            raise ConnectionError(f"could not download {url}: got {received} of {total} bytes")
        os.replace(part, dest)
    except urllib.error.HTTPError as err:
        raise ConnectionError(f"could not download {url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, TimeoutError, http.client.HTTPException, ConnectionResetError) as err:
        reason = getattr(err, "reason", err)
        raise ConnectionError(f"could not download {url}: {reason} (offline or mirror down?)") from None
    finally:
        part.unlink(missing_ok=True)
    return dest


def _copy_with_progress(source, out, total: int, label: str | None) -> int:
    try:
        from tqdm import tqdm
    except ImportError:
        label = None
    bar = tqdm(total=total or None, unit="B", unit_scale=True, desc=label) if label else None
    received = 0
    while chunk := source.read(1 << 20):
        out.write(chunk)
        received += len(chunk)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return received


# Unpacking.

def _check_member(archive: Path, name: str) -> None:
    """Refuse absolute paths and '..' components (path traversal)."""
    normalized = name.replace("\\", "/")
    parts = PurePosixPath(normalized).parts
    if normalized.startswith("/") or (parts and ":" in parts[0]) or ".." in parts:
        raise ValueError(f"{archive}: refusing unsafe member '{name}' (absolute path or '..' outside the folder)")


def _extract(archive: Path, dest: Path) -> None:
    name = archive.name.lower()
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(archive, member.name)
                if not (member.isfile() or member.isdir()):
                    raise ValueError(f"{archive}: refusing member '{member.name}' (links and devices not allowed)")
            tar.extractall(dest, members=members, filter="data")
    elif name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                _check_member(archive, member)
            zf.extractall(dest)
    else:
        raise ValueError(f"{archive}: unsupported archive type (expected .tar.gz, .tgz, .tar or .zip)")


def unpack(archive: str | Path, root: str | Path) -> Path:
    """Unpack ``archive`` (.tar.gz or .zip) into ``root`` and return the dataset folder.

    The archive is extracted into a temporary folder first, then its single top-level folder (or everything,
    under the archive's name) is renamed into ``root``.

    Raises:
        ValueError: Unsafe members (absolute paths, '..', links) or an unsupported archive type.
        FileExistsError: The destination folder already exists.
    """
    archive, root = Path(archive), Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".unpack-{uuid.uuid4().hex[:8]}"
    try:
        _extract(archive, tmp)
        entries = [p for p in tmp.iterdir() if p.name != "__MACOSX"]
        if len(entries) == 1 and entries[0].is_dir():
            source, dest = entries[0], root / entries[0].name
        else:
            source, dest = tmp, root / archive.name.split(".")[0]
        if dest.exists():
            raise FileExistsError(f"'{dest}' already exists; delete it or choose another --root")
        os.rename(source, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _has_images(folder: Path) -> bool:
    return folder.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in folder.iterdir() if p.is_file())


def check_layout(path: str | Path, kind: Kind) -> None:
    """Check a dataset folder: pix2pix needs ``train/`` with images, cyclegan ``trainA/`` and ``trainB/``.

    Raises:
        FileNotFoundError: Naming the missing or empty folder and the expected layout.
    """
    path = Path(path)
    required = {"pix2pix": ("train",), "cyclegan": ("trainA", "trainB")}[kind]
    for sub in required:
        if not _has_images(path / sub):
            expected = " and ".join(f"{path / s}/" for s in required)
            raise FileNotFoundError(f"'{path / sub}' is missing or has no images; a {kind} dataset needs {expected}")


def fetch(name: str, *, kind: Kind | None = None, root: str | Path = "datasets", keep_archive: bool = False) -> Path:
    """Download, unpack and check dataset ``name`` under ``root``; a complete existing copy is reused."""
    kind = resolve_kind(name, kind)
    target = Path(root) / name
    if target.is_dir() and (name in TEST_ONLY or _layout_ok(target, kind)):
        print(f"{target} already exists")
        return target
    url = dataset_url(name, kind)
    archive = download(url, Path(root) / Path(url).name)
    try:
        folder = unpack(archive, root)
    finally:
        if not keep_archive:
            archive.unlink(missing_ok=True)
    if name not in TEST_ONLY:
        check_layout(folder, kind)
    return folder


def _layout_ok(path: Path, kind: Kind) -> bool:
    try:
        check_layout(path, kind)
    except FileNotFoundError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name",
                        help=f"pix2pix: {', '.join(PIX2PIX_DATASETS)}; cyclegan: {', '.join(CYCLEGAN_DATASETS)}")
    parser.add_argument("--root", default="datasets", help="folder to unpack into (default: datasets)")
    parser.add_argument("--kind", choices=list(DATASETS), default=None,
                        help="collection for names in both (maps, facades, cityscapes); default pix2pix")
    parser.add_argument("--keep-archive", action="store_true", help="keep the downloaded archive")
    args = parser.parse_args(argv)
    try:
        folder = fetch(args.name, kind=args.kind, root=args.root, keep_archive=args.keep_archive)
    except (ValueError, ConnectionError, FileExistsError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"dataset ready: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
