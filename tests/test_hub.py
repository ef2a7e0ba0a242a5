"""Hugging Face Hub: Hub-ready folders with a model card, loading repo ids from a local folder laid out as the Hub
cache with HF_HUB_OFFLINE=1 (no test touches the network), one-line errors, and push_to_hub with a recording fake.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import stat
from pathlib import Path

import pytest
import torch

pytest.importorskip("huggingface_hub")

import i2i  # noqa: E402
from i2i.checkpoint import CheckpointError  # noqa: E402
from i2i.hub import looks_like_repo_id
from i2i.publish import save_pretrained  # noqa: E402
from i2i.inference import Translator  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "reference" / "resnet_6blocks_ngf8_instance_dropout"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub_folder(tmp_path: Path) -> Path:
    return save_pretrained(FIXTURE / "latest_net_G.pth", tmp_path / "hub", repo_id="user/tiny")


@pytest.fixture
def offline_cache(hub_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``HF_HUB_CACHE`` holding ``user/tiny`` at COMMIT (branch main, tag v1), with ``HF_HUB_OFFLINE=1``."""
    cache = tmp_path / "hf_cache"
    repo = cache / "models--user--tiny"
    shutil.copytree(hub_folder, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    (repo / "refs" / "v1").write_text(COMMIT)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_hub_folder_files_modes_and_card(hub_folder: Path) -> None:
    assert sorted(p.name for p in hub_folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    for path in hub_folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o644 == 0o644  # Readable by all, like config.json.
    card = (hub_folder / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: i2i\npipeline_tag: image-to-image")
    for section in ("## Use", "## Training data", "## Metrics measured", "## Intended use and limitations"):
        assert section in card
    assert 'Translator.from_pretrained("user/tiny")' in card
    assert json.loads((hub_folder / "config.json").read_text())["architecture"] == "resnet_6blocks"


def test_card_of_a_run_has_config_data_and_metrics(hub_folder: Path, tmp_path: Path) -> None:
    run = tmp_path / "runs" / "facades"
    shutil.copytree(hub_folder, run / "export" / "G")
    (run / "config.yaml").write_text("name: facades\ndata:\n  dataset: aligned\n  root: datasets/facades\n"
                                     "  direction: BtoA\n  crop_size: 256\n")
    records = [{"step": 100, "loss/G": 1.0}, {"step": 200, "val/l1": 0.123456, "val/psnr": 17.5}, {"step": 250}]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    card = (save_pretrained(run, tmp_path / "out") / "README.md").read_text()
    assert "## Training config" in card and "root: datasets/facades" in card
    assert "- root: `datasets/facades`" in card and "- direction: `BtoA`" in card
    assert "- val/l1: 0.1235" in card and "- val/psnr: 17.5" in card and "step 200" in card


def test_repo_ids_versus_local_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert looks_like_repo_id("user/model") and looks_like_repo_id("org-x/model.v2_1")
    assert not looks_like_repo_id("runs/a/export") and not looks_like_repo_id("./x") and not looks_like_repo_id("/x/y")
    (tmp_path / "user" / "model").mkdir(parents=True)
    assert not looks_like_repo_id("user/model")  # An existing local folder wins.


def test_from_pretrained_by_repo_id_offline(offline_cache: Path, hub_folder: Path) -> None:
    x = torch.rand(1, 3, 20, 28) * 2 - 1
    expected = Translator.from_pretrained(hub_folder, device="cpu")(x)
    for revision in (None, "v1", COMMIT):
        assert torch.equal(Translator.from_pretrained("user/tiny", device="cpu", revision=revision)(x), expected)
    net = i2i.load_generator("user/tiny")
    assert not net.training and sum(p.numel() for p in net.parameters()) > 0


def test_missing_repo_offline_is_one_line(offline_cache: Path) -> None:
    with pytest.raises(CheckpointError) as error:
        i2i.load_generator("user/missing")
    message = str(error.value)
    assert message.startswith("user/missing: ") and "HF_HUB_OFFLINE" in message and "\n" not in message
    with pytest.raises(CheckpointError, match="user/tiny \\(revision v9\\): .*HF_HUB_OFFLINE"):
        i2i.load_generator("user/tiny", revision="v9")


def _tool(name: str):  # noqa: ANN202 - a module.
    spec = importlib.util.spec_from_file_location(f"{name}_tool_hub", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_translate_cli_with_repo_id(offline_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from PIL import Image

    (tmp_path / "in").mkdir()
    Image.new("RGB", (12, 9), (10, 200, 30)).save(tmp_path / "in" / "a.png")
    common = ["--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--quiet", "--device", "cpu",
              "--num-workers", "0"]
    assert _tool("translate").main(["--ckpt", "user/tiny", *common]) == 0
    assert Image.open(tmp_path / "out" / "a.png").size == (12, 9)
    assert _tool("translate").main(["--ckpt", "user/none", *common]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: user/none: ") and "HF_HUB_OFFLINE" in err and "\n" not in err


def test_export_push_to_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import huggingface_hub

    calls = []

    class FakeApi:
        def __init__(self, token: str | None = None) -> None:
            calls.append(("init", token))

        def create_repo(self, repo_id: str, **kwargs: object) -> None:
            calls.append(("create", repo_id, kwargs))

        def upload_folder(self, *, repo_id: str, folder_path: str, **kwargs: object) -> str:
            calls.append(("upload", repo_id, sorted(p.name for p in Path(folder_path).iterdir())))
            return "https://hub.invalid/commit/1"

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    argv = ["--ckpt", str(FIXTURE / "latest_net_G.pth"), "--push-to-hub", "me/tiny", "--private"]
    assert _tool("export").main(argv) == 0
    assert calls[1] == ("create", "me/tiny", {"private": True, "exist_ok": True})
    assert calls[2] == ("upload", "me/tiny", ["README.md", "config.json", "model.safetensors"])
    assert "pushed to me/tiny" in capsys.readouterr().out
    assert _tool("export").main(["--ckpt", str(FIXTURE / "latest_net_G.pth"), "--format", "hub", "--output",
                                 str(tmp_path / "h")]) == 0
    assert (tmp_path / "h" / "README.md").is_file()
