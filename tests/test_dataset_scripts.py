"""datasets/download.py and datasets/combine_A_and_B.py, offline, on archives and images made here."""
from __future__ import annotations

import importlib.util
import io
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from i2i.data import load_image, save_image

SCRIPTS = Path(__file__).resolve().parents[1] / "datasets"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"i2i_script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script is executing.
    spec.loader.exec_module(module)
    return module


download = load_script("download")
combine = load_script("combine_A_and_B")


def png_bytes() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\0" * 16  # Only the extension matters for the layout check.


def make_tar(path: Path, members: dict[str, bytes], symlink: tuple[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if symlink is not None:
            info = tarfile.TarInfo(symlink[0])
            info.type, info.linkname = tarfile.SYMTYPE, symlink[1]
            tar.addfile(info)
    return path


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


# download.py

def test_dataset_url_and_kinds():
    assert download.dataset_url("facades") == "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"
    assert download.dataset_url("facades", "cyclegan") == (
        "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/facades.zip")
    assert download.dataset_url("horse2zebra").endswith("/cyclegan/datasets/horse2zebra.zip")
    assert download.dataset_url("edges2shoes").endswith("/pix2pix/datasets/edges2shoes.tar.gz")


def test_unknown_dataset_names_nearest_and_valid():
    with pytest.raises(ValueError, match=r"unknown dataset 'horse2zebr' \(did you mean 'horse2zebra'\?\); valid: "):
        download.dataset_url("horse2zebr")
    with pytest.raises(ValueError, match="unknown pix2pix dataset 'horse2zebra'"):
        download.dataset_url("horse2zebra", "pix2pix")


def test_unpack_tar_gz_and_check_pix2pix_layout(tmp_path):
    archive = make_tar(tmp_path / "mini.tar.gz", {"mini/train/1.png": png_bytes(), "mini/val/2.png": png_bytes()})
    folder = download.unpack(archive, tmp_path / "root")
    assert folder == tmp_path / "root" / "mini" and (folder / "train" / "1.png").is_file()
    download.check_layout(folder, "pix2pix")
    with pytest.raises(FileNotFoundError, match="trainA' is missing or has no images; a cyclegan dataset needs"):
        download.check_layout(folder, "cyclegan")
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == ["mini"]
    with pytest.raises(FileExistsError, match="already exists"):
        download.unpack(archive, tmp_path / "root")


def test_unpack_zip_and_check_cyclegan_layout(tmp_path):
    members = {f"h2z/{split}/{i}.jpg": png_bytes() for split in ("trainA", "trainB", "testA") for i in range(2)}
    members["__MACOSX/._junk"] = b""
    folder = download.unpack(make_zip(tmp_path / "h2z.zip", members), tmp_path / "root")
    download.check_layout(folder, "cyclegan")
    with pytest.raises(FileNotFoundError, match="train' is missing"):
        download.check_layout(folder, "pix2pix")


@pytest.mark.parametrize("maker, members", [
    (make_tar, {"ok/train/1.png": b"x", "../evil.txt": b"x"}),
    (make_zip, {"ok/train/1.png": b"x", "ok/../../evil.txt": b"x"}),
    (make_zip, {"/abs/evil.txt": b"x"}),
])
def test_unpack_refuses_path_traversal(tmp_path, maker, members):
    suffix = ".tar.gz" if maker is make_tar else ".zip"
    archive = maker(tmp_path / f"bad{suffix}", members)
    with pytest.raises(ValueError, match="refusing unsafe member"):
        download.unpack(archive, tmp_path / "root" / "inner")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "root" / "evil.txt").exists()
    assert list((tmp_path / "root" / "inner").iterdir()) == []


def test_unpack_refuses_links(tmp_path):
    archive = make_tar(tmp_path / "link.tar.gz", {"ok/train/1.png": b"x"}, symlink=("ok/train/2.png", "/etc/passwd"))
    with pytest.raises(ValueError, match="links and devices not allowed"):
        download.unpack(archive, tmp_path / "root")


def test_download_from_file_url_and_offline_error(tmp_path):
    source = tmp_path / "src.zip"
    source.write_bytes(b"payload")
    dest = download.download(source.as_uri(), tmp_path / "out" / "copy.zip", progress=False)
    assert dest.read_bytes() == b"payload"
    with pytest.raises(ConnectionError, match=r"could not download http://127\.0\.0\.1:9/x\.zip"):
        download.download("http://127.0.0.1:9/x.zip", tmp_path / "out" / "x.zip", timeout=5, progress=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["copy.zip"]


def test_download_cli_reports_unknown_name(capsys):
    assert download.main(["facadez"]) == 1
    assert "did you mean 'facades'" in capsys.readouterr().err


# combine_A_and_B.py

def image(value: int, height: int = 8, width: int = 8) -> np.ndarray:
    return np.full((height, width, 3), value, np.uint8)


def test_combine_splits_reports_missing_and_size_mismatch(tmp_path):
    fold_a, fold_b, fold_ab = tmp_path / "A", tmp_path / "B", tmp_path / "AB"
    for name in ("a", "b", "c", "big"):
        save_image(fold_a / "train" / f"{name}.png", image(10))
    for name in ("a", "b", "d"):
        save_image(fold_b / "train" / f"{name}.png", image(200))
    save_image(fold_b / "train" / "big.png", image(200, 8, 12))
    save_image(fold_a / "test" / "t.png", image(10))
    save_image(fold_b / "test" / "t.png", image(200))
    reports = combine.combine_A_and_B(fold_a, fold_b, fold_ab, workers=2)
    train = reports["train"]
    assert (train.written, train.missing_in_b, train.missing_in_a, train.size_mismatch) == (2, ["c.png"], ["d.png"],
                                                                                           ["big.png"])
    assert reports["test"].written == 1
    combined = load_image(fold_ab / "train" / "a.png")
    assert combined.shape == (8, 16, 3) and (combined[:, :8] == 10).all() and (combined[:, 8:] == 200).all()
    assert sorted(p.name for p in (fold_ab / "train").iterdir()) == ["a.png", "b.png"]
    assert "1 only in A (c.png)" in train.summary("train")


def test_combine_use_ab_names_and_cli(tmp_path, capsys):
    save_image(tmp_path / "A" / "0001_A.png", image(0))
    save_image(tmp_path / "B" / "0001_B.png", image(255))
    assert combine.main(["--fold_A", str(tmp_path / "A"), "--fold_B", str(tmp_path / "B"),
                         "--fold_AB", str(tmp_path / "AB"), "--use_AB"]) == 0
    assert load_image(tmp_path / "AB" / "0001.png").shape == (8, 16, 3)
    assert "wrote 1 pairs" in capsys.readouterr().out
    assert combine.main(["--fold_A", str(tmp_path / "nope"), "--fold_B", str(tmp_path / "B"),
                         "--fold_AB", str(tmp_path / "AB")]) == 1
    assert "--fold_A: folder" in capsys.readouterr().err
