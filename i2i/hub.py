"""Hugging Face Hub: load generators by repo id, save them as Hub-ready folders with a model card, push them.

A Hub model repo of i2i holds the export folder's two files, ``config.json`` and ``model.safetensors``, and a
generated model card ``README.md``. Downloads go through ``huggingface_hub`` (its cache, ``revision=``, resumable
and checked transfers); ``HF_HUB_OFFLINE=1`` and ``HF_HUB_CACHE`` are read when a model is loaded, so they also work
when set after import.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from i2i.engine.checkpoint import CheckpointError

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
HUB_FILES = ["config.json", "model.safetensors", "README.md"]


def looks_like_repo_id(source: str | Path) -> bool:
    """True for ``user/repo`` strings that are not an existing local path (a local path always wins)."""
    text = str(source)
    return bool(REPO_ID.match(text)) and not Path(text).exists() and ".." not in text


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def download(repo_id: str, *, revision: str | None = None, cache_dir: str | Path | None = None) -> Path:
    """The local snapshot folder of a Hub model repo (``config.json`` + ``model.safetensors``), downloaded once.

    Raises:
        CheckpointError: One line naming the repo id: it does not exist, the revision does not, or it is not cached
            while ``HF_HUB_OFFLINE`` is set (or the Hub cannot be reached).
    """
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import (HFValidationError, HfHubHTTPError, LocalEntryNotFoundError,
                                            RepositoryNotFoundError, RevisionNotFoundError)
    except ImportError:
        raise CheckpointError(f"{repo_id}: no such file or folder; loading it from the Hugging Face Hub needs "
                              "huggingface_hub (pip install huggingface_hub)") from None
    where = f"{repo_id}" + (f" (revision {revision})" if revision else "")
    try:
        folder = snapshot_download(repo_id, revision=revision, local_files_only=_offline(),
                                   cache_dir=cache_dir or os.environ.get("HF_HUB_CACHE"), allow_patterns=HUB_FILES,
                                   library_name="i2i")
    except RevisionNotFoundError:
        raise CheckpointError(f"{where}: no such revision on the Hugging Face Hub") from None
    except RepositoryNotFoundError:
        raise CheckpointError(f"{repo_id}: no such local path, and no such model on the Hugging Face Hub (or it "
                              "is private: log in with `hf auth login`)") from None
    except LocalEntryNotFoundError:
        state = "HF_HUB_OFFLINE is set" if _offline() else "the Hub cannot be reached"
        raise CheckpointError(f"{where}: no such local path, not in the Hugging Face cache, and {state}; "
                              "download it once with network access (HF_HUB_OFFLINE unset)") from None
    except (HfHubHTTPError, HFValidationError, OSError) as err:
        raise CheckpointError(f"{where}: cannot download from the Hugging Face Hub "
                              f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{where}: the Hub repo holds no i2i generator (config.json + model.safetensors)")
    return folder


def _run_folder(source: Path) -> Path | None:
    """The training run folder that ``source`` (a run, an export folder or a state file) belongs to, if any."""
    for folder in (source, *source.parents[:3]):
        if (folder / "config.yaml").is_file() and ((folder / "checkpoints").is_dir() or (folder / "export").is_dir()):
            return folder
    return None


def _last_validation(metrics_path: Path) -> dict[str, Any]:
    """The last record of ``metrics.jsonl`` that holds validation metrics (``val/...`` keys), or {}."""
    last: dict[str, Any] = {}
    if metrics_path.is_file():
        for line in metrics_path.read_text().splitlines():
            record = json.loads(line) if line.strip() else {}
            if any(str(key).startswith("val") for key in record):
                last = record
    return last


def model_card(config: dict[str, Any], *, run_config: dict[str, Any] | None = None,
               metrics: dict[str, Any] | None = None, repo_id: str | None = None) -> str:
    """The model card (``README.md``) of an exported generator: front matter, architecture, data, metrics, use.

    Args:
        config: The generator's export config (``config.json``).
        run_config: The resolved training config (``runs/<name>/config.yaml``), when known.
        metrics: Validation metrics measured during training (a ``metrics.jsonl`` record), when any.
        repo_id: The Hub repo id, for the usage snippet.
    """
    algorithm = config.get("algorithm") or (run_config or {}).get("model", {}).get("algorithm")
    data = (run_config or {}).get("data", {})
    front = {"library_name": "i2i", "pipeline_tag": "image-to-image",
             "tags": ["i2i", "image-to-image", *([algorithm] if algorithm else [])]}
    name = repo_id or "path/to/this/folder"
    rows = [("architecture", config.get("architecture")), ("direction", config.get("direction")),
            ("channels in / out", f"{config.get('in_channels')} / {config.get('out_channels')}"),
            ("size multiple", config.get("size_multiple")), ("training steps", config.get("step", "unknown"))]
    data_rows = [(key, data[key]) for key in ("dataset", "root", "synthetic", "direction", "preprocess",
                                              "load_size", "crop_size") if data.get(key) not in (None, "none")]
    measured = {k: v for k, v in (metrics or {}).items() if str(k).startswith("val")}
    lines = ["---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
             f"# {config.get('run') or repo_id or 'i2i'}: {algorithm or 'image-to-image'} generator "
             f"({config.get('architecture')})", "",
             f"An image-to-image generator for i2i{f' ({algorithm})' if algorithm else ''}. Input: RGB or "
             "grayscale images of any size (padded to the size multiple inside i2i); output: an image of the same "
             "size.", "", "| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows], "",
             "## Use", "", "```python", "from PIL import Image", "from i2i import Translator", "",
             f'translator = Translator.from_pretrained("{name}")', 'output = translator(Image.open("input.png"))',
             "```", "", f"or `i2i-translate --ckpt {name} --input photos/ --output out/`.", "",
             "## Training data", ""]
    lines += [f"- {k}: `{v}`" for k, v in data_rows] or ["Not recorded with this export."]
    lines += ["", "## Metrics measured", ""]
    lines += ([f"- {k}: {v:.4g}" if isinstance(v, float) else f"- {k}: {v}" for k, v in measured.items()]
              + [f"(validation at step {metrics.get('step')}, see i2i's docs/metrics.md for the protocol)"]
              if measured else ["None were measured during training (no `eval.every`)."])
    lines += ["", "## Intended use and limitations", "",
              "Research and creative image translation in the domain of the training data. Outputs are synthetic "
              "and can look plausible while being wrong: do not use them as measurements or as evidence. "
              "Images far from the training data (other sizes of objects, lighting, content) give poor results.", ""]
    if run_config:
        lines += ["## Training config", "", "```yaml", yaml.safe_dump(run_config, sort_keys=False).strip(), "```", ""]
    return "\n".join(lines)


def save_pretrained(source: str | Path, folder: str | Path, *, name: str | None = None,
                    repo_id: str | None = None) -> Path:
    """Write a Hub-ready folder (``config.json``, ``model.safetensors``, ``README.md``) for a generator.

    Args:
        source: Anything :func:`i2i.load_generator` accepts (run folder, export folder, state, reference .pth).
        folder: Where to write; created if needed.
        name: The generator of a run with several (``G_A``/``G_B``).
        repo_id: Used in the card's usage snippet.
    """
    from i2i.engine.export import export_generator, load_generator_with_config
    from i2i.fileio import write_bytes_atomic

    net, config = load_generator_with_config(source, name=name)
    extra = {k: v for k, v in config.items() if k not in {"format", "version", "architecture", "kwargs", "direction",
                                                          "in_channels", "out_channels", "size_multiple", "source"}}
    folder = export_generator(net, folder, architecture=config["architecture"], kwargs=config["kwargs"],
                              direction=config.get("direction", "AtoB"), extra=extra)
    run = _run_folder(Path(source)) if not looks_like_repo_id(source) else None
    run_config = yaml.safe_load((run / "config.yaml").read_text()) if run else None
    metrics = _last_validation(run / "metrics.jsonl") if run else {}
    exported = json.loads((folder / "config.json").read_text())
    card = model_card(exported, run_config=run_config, metrics=metrics, repo_id=repo_id)
    write_bytes_atomic(folder / "README.md", card.encode())
    return folder


def push_to_hub(folder: str | Path, repo_id: str, *, private: bool = False, token: str | None = None,
                commit_message: str = "Upload i2i generator") -> str:
    """Create ``repo_id`` if needed and upload a folder written by :func:`save_pretrained`; returns the commit URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HFValidationError, HfHubHTTPError

    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), allow_patterns=HUB_FILES,
                                 commit_message=commit_message)
    except (HfHubHTTPError, HFValidationError, OSError) as err:
        raise CheckpointError(f"{repo_id}: push to the Hugging Face Hub failed "
                              f"({str(err).splitlines()[0] if str(err) else type(err).__name__}; log in with "
                              "`hf auth login` or pass a token)") from None
    return str(getattr(info, "commit_url", info))
