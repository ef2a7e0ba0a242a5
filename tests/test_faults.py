"""Faults as a user's machine or cluster produces them: kill -9 mid-write, corrupt and malicious checkpoints, a full
disk, double signals, resume with workers, and a table of bad inputs to every tool and the API, each of which must
end in one line naming the file or key and the fix, with exit code 2."""
from __future__ import annotations

import errno
import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_config
from i2i import checkpoint as ckpt
from i2i.export import export_generator
from i2i.fileio import remove_stale_temps, temp_path, write_bytes_atomic
from i2i.inference import Translator
from i2i.models import build_generator

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD_MARK = "i2i_payload_ran"
KILLS = int(os.environ.get("I2I_FAULT_KILLS", "2"))  # more for a soak run, e.g. I2I_FAULT_KILLS=20


def load_tool(name: str):
    """The module behind ``i2i-<name>`` / ``tools/<name>.py``, to call its main() in-process (a subprocess pays
    seconds of imports)."""
    return importlib.import_module(f"i2i.commands.{name}")


class _Payload:
    """Pickles to a call that would create a marker file: it must never run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def tiny_export(folder: Path) -> Path:
    kwargs = {"ngf": 4, "n_blocks": 1, "norm": "instance"}
    torch.manual_seed(0)
    return export_generator(build_generator("resnet", **kwargs), folder, architecture="resnet", kwargs=kwargs,
                            direction="AtoB")


def write_image(path: Path, size: int = 16) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def train_args(tmp_path: Path, root: Path, *extra: str) -> list[str]:
    return ["--cfg", "cyclegan_horse2zebra", *tiny_config(tmp_path, "cyclegan", root, "data.batch_size=2", *extra)]


def weights(trainer) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v.clone() for n, net in trainer.algorithm.nets.items() for k, v in net.state_dict().items()}


# Checkpoint files: corrupt ones are diagnosed in one complete line; pickled code never runs.

def corrupt(path: Path, how: str) -> None:
    data = path.read_bytes()
    damaged = {"truncated": data[: len(data) // 2], "zeros": bytes(len(data)), "empty": b"",
               "random": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()}[how]
    path.write_bytes(damaged)


@pytest.mark.parametrize("how, reason", [("truncated", "zip archive is truncated or damaged"),
                                         ("zeros", "bytes are zero"), ("empty", "the file is empty (0 bytes)"),
                                         ("random", "neither a zip archive nor a pickle")])
def test_damaged_files_give_a_complete_line(tmp_path, how, reason):
    path = tmp_path / "state_00000001.pt"
    torch.save({"w": torch.randn(1000)}, path)
    corrupt(path, how)
    with pytest.raises(ckpt.CheckpointError) as info:
        ckpt.safe_torch_load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not a readable PyTorch checkpoint") and reason in message
    assert "\n" not in message and "weights_only" not in message


def test_newest_loadable_state_is_used_and_bad_ones_are_kept(tmp_path):
    folder = tmp_path / "checkpoints"
    for step in (1, 2, 3):
        ckpt.atomic_torch_save({"nets": {}, "optimizers": {}, "step": step}, ckpt.state_path(folder, step))
    corrupt(ckpt.state_path(folder, 3), "truncated")
    torch.save({"x": _Payload(tmp_path / PAYLOAD_MARK)}, ckpt.state_path(folder, 2))
    lines: list[str] = []
    path, state = ckpt.load_latest_state(folder, log=lines.append)
    assert (path.name, state["step"]) == ("state_00000001.pt", 1)
    assert len(lines) == 2 and "state_00000003.pt: not a readable" in lines[0] and "refusing" in lines[1]
    assert sorted(p.name for p in folder.iterdir()) == ["state_00000001.pt", "state_00000002.pt.corrupt",
                                                        "state_00000003.pt.corrupt"]
    assert not (tmp_path / PAYLOAD_MARK).exists()
    ckpt.state_path(folder, 1).write_bytes(b"")
    with pytest.raises(ckpt.CheckpointError, match="none of the 1 training state files loads"):
        ckpt.load_latest_state(folder, log=lines.append)


def test_malicious_pickle_is_refused_in_every_loading_path(tmp_path, capsys):
    marker = tmp_path / PAYLOAD_MARK
    evil = {"nets": {"G": _Payload(marker)}, "generators": {}, "step": 1, "optimizers": {}}
    torch.save(evil, tmp_path / "state_00000001.pt")
    torch.save({"model.1.weight": _Payload(marker)}, tmp_path / "latest_net_G.pth")
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    torch.save(evil, tmp_path / "run" / "checkpoints" / "state_00000001.pt")
    from i2i import load_generator
    from i2i.models.reference import load_reference_file

    loaders = [lambda p: ckpt.safe_torch_load(p), load_reference_file, load_generator, Translator.from_pretrained]
    for path in ("state_00000001.pt", "latest_net_G.pth", "run"):
        for load in loaders[:2] if path == "run" else loaders:
            with pytest.raises((ValueError, RuntimeError), match="refusing to unpickle arbitrary objects: the file "
                                                                 "references posix.system") as info:
                load(tmp_path / path if path != "run" else tmp_path / "run" / "checkpoints" / "state_00000001.pt")
            assert "weights_only" not in str(info.value)
    for tool, extra in (("translate", ["--input", "x", "--output", str(tmp_path / "o")]),
                        ("export", ["--format", "pt2", "--output", str(tmp_path / "g.pt2")])):
        assert load_tool(tool).main(["--ckpt", str(tmp_path / "latest_net_G.pth"), *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "refusing to unpickle" in err and "weights_only" not in err
    assert not marker.exists()


# Interrupted and failed writes.

def test_disk_full_is_one_line_and_keeps_the_previous_file(tmp_path, monkeypatch):
    import i2i.fileio

    target = tmp_path / "state.pt"
    write_bytes_atomic(target, b"previous")

    class FullDisk:
        def __init__(self, *args, **kwargs):
            self.handle = open(*args, **kwargs)  # noqa: SIM115 - closed in __exit__

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(i2i.fileio, "open", FullDisk, raising=False)
    with pytest.raises(OSError) as info:
        write_bytes_atomic(target, b"x" * 5000)
    message = str(info.value)
    assert message.startswith(f"{target}: disk full (4.9 KB needed, ") and "free" in message and "\n" not in message
    assert getattr(info.value, "exit_code", None) == 2
    assert target.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["state.pt"]


def test_stale_temps_are_removed_and_nothing_else(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    ours = temp_path(tmp_path / "state_00000002.pt").name
    stale = [f".state_00000002.pt.{dead_pid}-0123abcd.i2i-tmp", f".model.safetensors.{dead_pid}-89abcdef.i2i-tmp",
             f".g.pt2.{dead_pid}-00000000.i2i-tmp.pt2", f".state_00000001.pt.{dead_pid}.0123abcd.tmp",
             ".model.safetensors.tmp"]
    kept = [ours, "state_00000001.pt", ".hidden.tmp", "notes.tmp", f".x.{dead_pid}-0123abcd.tmp"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"123")
    assert remove_stale_temps(tmp_path) == (len(stale), 3 * len(stale))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)


KILLED_WRITER = """
import sys, torch
sys.path.insert(0, {root!r})
from pathlib import Path
from i2i import checkpoint as ckpt
folder = Path({folder!r})
state = {{"nets": {{"w": torch.randn(4_000_000)}}, "optimizers": {{}}}}
for step in range(1, 10_000):
    ckpt.atomic_torch_save({{**state, "step": step}}, ckpt.state_path(folder, step))
    ckpt.prune_states(folder, 2)
"""


def test_kill_9_during_checkpoint_writes_never_corrupts(tmp_path):
    """SIGKILL the writer the moment a temp file appears; every state left loads and the temp is cleaned."""
    folder = tmp_path / "checkpoints"
    kills = 0
    for _ in range(KILLS):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER.format(root=str(ROOT), folder=str(folder))])
        deadline = time.monotonic() + 60
        seen = 0
        while time.monotonic() < deadline and proc.poll() is None:
            temps = list(folder.glob(".state_*.i2i-tmp")) if folder.is_dir() else []
            seen += bool(temps)
            if temps and ckpt.list_states(folder):
                proc.send_signal(signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.001)
        proc.wait(timeout=30)
        for path in ckpt.list_states(folder):
            assert ckpt.safe_torch_load(path)["nets"]["w"].numel() == 4_000_000
        remove_stale_temps(folder)
        assert not list(folder.glob(".*")), "a stale temp file survived"
    assert kills == KILLS


# Bad input: every tool ends in exit code 2 and one line naming the file or key; the API raises one line.

@pytest.fixture(scope="module")
def corpus(tmp_path_factory, paired_root) -> Path:
    """Files the bad-input cases point at."""
    base = tmp_path_factory.mktemp("corpus")
    tiny_export(base / "model")
    (base / "file.txt").write_text("a file, not a folder")
    (base / "folder").mkdir()
    for name, data in (("empty.pt", b""), ("zeros.pt", bytes(4096)), ("random.pt", os.urandom(4096))):
        (base / name).write_bytes(data)
    write_image(base / "images" / "a.png")
    write_image(base / "pred" / "b.png")
    (base / "no_images").mkdir()
    (base / "no_images" / "readme.txt").write_text("hi")
    (base / "syntax.yaml").write_text("model:\n  ngf: 4\n bad_indent: 1\n")
    (base / "empty.yaml").write_text("# nothing but a comment\n")
    (base / "list.yaml").write_text("- a\n- b\n")
    bad = base / "bad_images"
    write_image(bad / "train" / "000.png", 64)
    (bad / "train" / "001.png").write_bytes(b"not a png")
    return base


def _b(corpus: Path, *parts: str) -> str:
    return str(corpus.joinpath(*parts))


TRANSLATE = [  # (arguments, expected part of the message)
    (lambda c: ["--ckpt", _b(c, "model"), "--input", _b(c, "images"), "--output", _b(c, "file.txt")],
     "--output: '{c}/file.txt' is a file, not a folder"),
    (lambda c: ["--ckpt", _b(c, "model"), "--input", _b(c, "images"), "--output", _b(c, "file.txt", "out")],
     "is a file, so"),
    (lambda c: ["--ckpt", _b(c, "missing.pth"), "--input", _b(c, "images"), "--output", _b(c, "t_out")],
     "missing.pth"),
    (lambda c: ["--ckpt", _b(c, "empty.pt"), "--input", _b(c, "images"), "--output", _b(c, "t_out")],
     "empty.pt: not a readable PyTorch checkpoint: the file is empty"),
    (lambda c: ["--ckpt", _b(c, "random.pt"), "--input", _b(c, "images"), "--output", _b(c, "t_out")],
     "neither a zip archive nor a pickle"),
    (lambda c: ["--ckpt", _b(c, "zeros.pt"), "--input", _b(c, "images"), "--output", _b(c, "t_out")],
     "all 4096 bytes are zero"),
    (lambda c: ["--ckpt", _b(c, "folder"), "--input", _b(c, "images"), "--output", _b(c, "t_out")],
     "folder holds no i2i generator"),
    (lambda c: ["--ckpt", _b(c, "model"), "--input", _b(c, "nowhere"), "--output", _b(c, "t_out")],
     "input: '{c}/nowhere' does not exist"),
    (lambda c: ["--ckpt", _b(c, "model"), "--input", _b(c, "no_images"), "--output", _b(c, "t_out")],
     "input: no images in folder"),
    (lambda c: ["--ckpt", _b(c, "model"), "--input", _b(c, "images"), "--output", _b(c, "images")],
     "is the input folder"),
]
EVALUATE = [
    (lambda c: ["--target", _b(c, "images"), "--pred", _b(c, "images"), "--json", _b(c, "file.txt", "s.json")],
     "--json: '{c}/file.txt' is a file, so"),
    (lambda c: ["--target", _b(c, "images"), "--pred", _b(c, "images"), "--json", _b(c, "folder")],
     "--json: '{c}/folder' is a folder, not a file"),
    (lambda c: ["--real", _b(c, "nowhere"), "--fake", _b(c, "images"), "--features", "random"], "nowhere"),
    (lambda c: ["--target", _b(c, "images"), "--pred", _b(c, "pred")], "missing in pred: a"),
    (lambda c: ["--target", _b(c, "no_images"), "--pred", _b(c, "images")], "missing in target: a"),
]
EXPORT = [
    (lambda c: ["--ckpt", _b(c, "model"), "--format", "pt2", "--output", _b(c, "file.txt", "g.pt2")],
     "--output: '{c}/file.txt' is a file, so"),
    (lambda c: ["--ckpt", _b(c, "model"), "--format", "onnx", "--output", _b(c, "folder")],
     "--output: '{c}/folder' is a folder, not a file; give a file name inside it"),
    (lambda c: ["--ckpt", _b(c, "missing.pt"), "--format", "pt2", "--output", _b(c, "g.pt2")], "missing.pt"),
    (lambda c: ["--ckpt", _b(c, "zeros.pt"), "--format", "pt2", "--output", _b(c, "g.pt2")], "bytes are zero"),
    (lambda c: ["--ckpt", _b(c, "empty.pt"), "--format", "torchscript", "--output", _b(c, "g.pt")],
     "the file is empty"),
]
TRAIN = [
    (lambda c: ["--cfg", "no_such_config"], "config 'no_such_config' not found"),
    (lambda c: ["--cfg", _b(c, "folder")], "is a folder, not a config file"),
    (lambda c: ["--cfg", _b(c, "syntax.yaml")], "syntax.yaml: not valid YAML at line 3, column 2"),
    (lambda c: ["--cfg", _b(c, "empty.yaml")], "empty.yaml: the config is empty"),
    (lambda c: ["--cfg", _b(c, "list.yaml")], "list.yaml: expected a mapping of keys"),
    (lambda c: ["--cfg", "pix2pix_facades", "train.foo=1"], "unknown key 'train.foo'"),
    (lambda c: ["--cfg", "pix2pix_facades", "train.precision=fp64"], "train.precision: 'fp64' is not allowed"),
    (lambda c: ["--cfg", "pix2pix_facades", "data.batch_size=0"], "data.batch_size: must be > 0"),
    (lambda c: ["--cfg", "pix2pix_facades", "trainresume"], "override 'trainresume': expected key=value"),
    (lambda c: ["--cfg", "pix2pix_facades", "device=cpu", f"data.root={c}/nowhere", f"output_dir={c}/runs"],
     "data.root: folder '{c}/nowhere/train' does not exist"),
    (lambda c: ["--cfg", "pix2pix_facades", "device=cpu", f"data.root={c}/bad_images", f"output_dir={c}/runs",
                "data.num_workers=0", "model.ngf=4", "model.ndf=4", "data.load_size=64", "data.crop_size=64",
                "model.generator=unet", "model.num_downs=5", "train.progress=false", "train.loggers=[jsonl]"],
     "001.png' could not be read"),
    (lambda c: ["--cfg", "pix2pix_facades", "device=cpu", f"data.root={c}/bad_images", f"output_dir={c}/runs",
                "data.num_workers=1", "model.ngf=4", "model.ndf=4", "data.load_size=64", "data.crop_size=64",
                "model.generator=unet", "model.num_downs=5", "train.progress=false", "train.loggers=[jsonl]",
                "data.serial_batches=true", "name=workers"],  # raised in a DataLoader worker process
     "; set data.skip_bad_images=true to skip unreadable images"),
]


def _cases():
    for tool, table in (("translate", TRANSLATE), ("evaluate", EVALUATE), ("export", EXPORT), ("train", TRAIN)):
        for i, (args, expected) in enumerate(table):
            yield pytest.param(tool, args, expected, id=f"{tool}-{i}")


@pytest.mark.parametrize("tool, args, expected", list(_cases()))
def test_bad_input_is_one_line_and_exit_2(corpus, tool, args, expected, capsys, monkeypatch):
    monkeypatch.chdir(corpus)
    assert load_tool(tool).main(args(corpus)) == 2
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expected.format(c=corpus) in lines[0]
    assert "Traceback" not in err and "weights_only" not in err


API = [  # (input, expected part of the message)
    (lambda: torch.rand(3, 16, 16) * 255, r"values in \[.*\], but the networks take \[-1, 1\]; convert it first "
                                          r"\(x / 127.5 - 1"),
    (lambda: torch.rand(3, 16, 16) * 3 - 1, "x \\* 2 - 1"),
    (lambda: np.zeros((0, 0, 3), np.uint8), "the image array is empty \\(shape \\(0, 0, 3\\)\\)"),
    (lambda: np.zeros((0, 5), np.uint8), "the image array is empty"),
    (lambda: torch.zeros(1, 3, 0, 0), "the image tensor is empty"),
    (lambda: torch.full((3, 8, 8), float("nan")), "NaN or infinite"),
    (lambda: torch.zeros(3, 8, 8, dtype=torch.uint8), "expected a float"),
    (lambda: np.zeros((8, 8, 3), np.float32), "expected a uint8"),
    (lambda: [[0, 1]], "expected a PIL image, numpy array or torch tensor"),
]


@pytest.mark.parametrize("make, expected", API, ids=[f"api-{i}" for i in range(len(API))])
def test_api_refuses_bad_images_in_one_line(corpus, make, expected):
    translator = Translator.from_pretrained(corpus / "model", device="cpu")
    with pytest.raises((ValueError, TypeError), match=expected) as info:
        translator(make())
    assert "\n" not in str(info.value)


# Exact resume.

def _train(tmp_path: Path, root: Path, *extra: str) -> dict[str, torch.Tensor]:
    from i2i.config import load_config
    from i2i.engine.trainer import Trainer

    trainer = Trainer(load_config("cyclegan_horse2zebra", train_args(tmp_path, root, *extra)[2:]))
    try:
        trainer.fit()
    finally:
        trainer.close()
    return weights(trainer)


def test_resume_with_workers_is_exact_and_worker_count_free(tmp_path, unpaired_root):
    """0 workers straight through == 2 workers stopped mid-epoch and resumed, across an epoch boundary."""
    quiet = ("train.image_every=1000", "train.log_every=1000")  # 4 steps per epoch: step 5 is in the second
    straight = _train(tmp_path / "straight", unpaired_root, "train.max_steps=5", "data.num_workers=0", *quiet)
    resumed_args = ("data.num_workers=2", "data.persistent_workers=true", *quiet)
    _train(tmp_path / "resumed", unpaired_root, "train.max_steps=3", *resumed_args)
    resumed = _train(tmp_path / "resumed", unpaired_root, "train.max_steps=5", "train.resume=true", *resumed_args)
    assert max((straight[k].float() - resumed[k].float()).abs().max().item() for k in straight) == 0.0


# The trainer under faults (tools/train.py in-process; a subprocess only where a process must die).

TRAIN_TOOL = ROOT / "tools" / "train.py"


def test_run_folder_is_guarded_and_corrupt_newest_state_is_skipped(tmp_path, unpaired_root, capsys):
    train = load_tool("train").main
    args = train_args(tmp_path, unpaired_root, "train.max_steps=2", "train.ckpt_every=1")
    assert train(args) == 0
    folder = tmp_path / "tiny" / "checkpoints"
    assert [p.name for p in ckpt.list_states(folder)] == ["state_00000001.pt", "state_00000002.pt"]
    capsys.readouterr()
    assert train(args) == 2  # the same command again must not overwrite the finished run
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "holds an earlier run's training state (step 2)" in err
    assert "train.resume=true" in err and "name=" in err and "train.overwrite=true" in err
    corrupt(folder / "state_00000002.pt", "truncated")
    (folder / f".state_00000003.pt.{2**22 + 1}-0123abcd.i2i-tmp").write_bytes(b"half a state")  # a dead writer's
    assert train(args[:-1] + ["train.max_steps=3", "train.resume=true"]) == 0
    out = capsys.readouterr().out
    assert "removed 1 temporary file(s)" in out
    assert "skipping " in out and "state_00000002.pt: not a readable PyTorch checkpoint" in out
    assert "resumed from" in out and "state_00000001.pt at step 1" in out
    assert (folder / "state_00000002.pt.corrupt").is_file()  # kept for inspection, out of rotation
    assert [p.name for p in ckpt.list_states(folder)][-1] == "state_00000003.pt"
    assert train(args + ["train.overwrite=true"]) == 0
    assert [p.name for p in ckpt.list_states(folder)] == ["state_00000001.pt", "state_00000002.pt"]


def test_disk_full_while_training_exits_2_and_keeps_the_last_state(tmp_path, unpaired_root, capsys, monkeypatch):
    import i2i.fileio

    train = load_tool("train").main
    args = train_args(tmp_path, unpaired_root, "train.max_steps=1")
    assert train(args) == 0
    before = (tmp_path / "tiny" / "checkpoints" / "state_00000001.pt").read_bytes()
    real_open = open

    def full_disk(path, mode="r", *rest, **kwargs):
        if "x" in mode and ".state_" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, mode, *rest, **kwargs)

    monkeypatch.setattr(i2i.fileio, "open", full_disk, raising=False)
    capsys.readouterr()
    assert train(args[:-1] + ["train.max_steps=2", "train.resume=true"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "state_00000002.pt: disk full (" in err[0] and "needed" in err[0], err
    assert (tmp_path / "tiny" / "checkpoints" / "state_00000001.pt").read_bytes() == before
    assert not list((tmp_path / "tiny" / "checkpoints").glob(".*"))


def test_second_signal_stops_at_once_and_says_what_is_lost(tmp_path, unpaired_root):
    from i2i.config import load_config
    from i2i.engine.trainer import Trainer, TrainingInterrupted

    trainer = Trainer(load_config("cyclegan_horse2zebra", train_args(tmp_path, unpaired_root, "train.max_steps=8",
                                                                     "train.ckpt_every=2")[2:]))
    step = trainer.algorithm.train_step

    def signalled_step(batch):
        if trainer.step == 3:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return step(batch)

    trainer.algorithm.train_step = signalled_step
    with pytest.raises(TrainingInterrupted, match=r"second SIGINT: stopped at once without a checkpoint; 1 step\(s\) "
                                                  r"since the checkpoint of step 2 are lost"):
        trainer.fit()
    trainer.close()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_kill_9_during_a_training_checkpoint_then_resume(tmp_path, unpaired_root):
    """The real trainer is SIGKILLed the moment a state's temp file appears; resuming cleans it up and goes on."""
    args = train_args(tmp_path, unpaired_root, "train.max_steps=200", "train.ckpt_every=1")
    folder = tmp_path / "tiny" / "checkpoints"
    proc = subprocess.Popen([sys.executable, str(TRAIN_TOOL), *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline, killed = time.monotonic() + 120, False
    while time.monotonic() < deadline and proc.poll() is None and not killed:
        if folder.is_dir() and list(folder.glob(".state_*.i2i-tmp")) and ckpt.list_states(folder):
            proc.send_signal(signal.SIGKILL)
            killed = True
        time.sleep(0.0005)
    proc.wait(timeout=60)
    assert killed, "the temp file was never seen"
    last = ckpt.list_states(folder)[-1]
    step = ckpt.safe_torch_load(last)["step"]
    assert load_tool("train").main(args[:-2] + [f"train.max_steps={step + 1}", "train.resume=true"]) == 0
    assert not list(folder.glob(".*")) and ckpt.list_states(folder)[-1].name == f"state_{step + 1:08d}.pt"


def test_skipped_bad_image_warns_once_without_torch_internals(corpus, capsys):
    args = ["--cfg", "pix2pix_facades", "device=cpu", f"data.root={corpus}/bad_images", f"output_dir={corpus}/runs",
            "name=skip", "data.num_workers=0", "model.ngf=4", "model.ndf=4", "data.load_size=64", "data.crop_size=64",
            "model.generator=unet", "model.num_downs=5", "train.progress=false", "train.loggers=[jsonl]",
            "data.skip_bad_images=true", "train.max_steps=4", "train.image_every=100"]
    assert load_tool("train").main(args) == 0  # 2 images, batch 1: the bad one is drawn in each of 2 epochs
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if "001.png" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: data.skip_bad_images: skipped image"), err
    assert "torch" not in err and "dataset[" not in err


def test_evaluate_prints_scores_before_a_failed_write(corpus, capsys, monkeypatch):
    tool = load_tool("evaluate")

    def fail(path, data, **kwargs):
        raise OSError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(tool, "write_bytes_atomic", fail)
    assert tool.main(["--target", _b(corpus, "images"), "--pred", _b(corpus, "images"), "--json",
                      _b(corpus, "s.json"), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "PSNR" in captured.out and captured.err.strip() == f"error: {corpus}/s.json: Permission denied"
