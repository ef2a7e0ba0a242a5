"""The wheel: built from setup.py, installed into a fresh venv outside the clone, it ships the configs and the console
commands; the quickstart trains a few steps and ``i2i-translate`` translates from there.

Offline and without reinstalling torch: the wheel is built with ``--no-build-isolation`` and installed with
``--no-deps --no-index``; the new venv sees the running interpreter's site-packages (torch, ...) through a ``.pth``
line, which adds that folder to ``sys.path`` without running its ``.pth`` files, so an editable install of the clone
there stays invisible and the commands really run the wheel's code.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("train", "translate", "evaluate", "export", "benchmark", "demo")


def run(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    assert proc.returncode == 0, f"{args[0]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w",
         str(out), str(ROOT)])
    (path,) = out.glob("i2i-*.whl")
    return path


def test_wheel_holds_configs_and_commands(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    shipped = sorted(Path(n).name for n in names if n.startswith("i2i/configs/"))
    assert shipped == sorted(p.name for p in (ROOT / "configs").glob("*.yaml"))
    for verb in COMMANDS:
        assert f"i2i-{verb} = i2i.commands.{verb}:main" in entry_points
        assert f"i2i/commands/{verb}.py" in names


def test_installed_wheel_trains_and_translates(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # The tests run with the clone on the path.
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    base = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_i2i_test_base.pth").write_text("\n".join(sorted(base)) + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
         str(wheel)], env=env)

    work = tmp_path / "user"
    work.mkdir()
    located = run([str(python), "-c", "import i2i, i2i.resources as r; print(i2i.__file__); print(r.config_dir())"],
                  env=env, cwd=work).split()
    assert located[0].startswith(str(site)) and located[1] == str(site / "i2i" / "configs")

    run(["i2i-train", "--cfg", "quickstart_pix2pix", "train.max_steps=2", "train.progress=false",
         "data.num_workers=0", "eval.every=0", "train.ckpt_every=2", "device=cpu"], env=env, cwd=work)
    run_dir = work / "runs" / "quickstart_pix2pix"
    assert (run_dir / "export" / "G" / "model.safetensors").is_file()

    (work / "in").mkdir()
    Image.new("RGB", (40, 24), (200, 30, 90)).save(work / "in" / "a.png")
    out = run(["i2i-translate", "--ckpt", str(run_dir), "--input", "in", "--output", "out", "--quiet",
               "--device", "cpu", "--num-workers", "0"], env=env, cwd=work)
    assert "translated 1" in out
    assert Image.open(work / "out" / "a.png").size == (40, 24)
    assert "usage: i2i-demo" in run(["i2i-demo", "--help"], env=env, cwd=work)  # The others: entry_points above.
