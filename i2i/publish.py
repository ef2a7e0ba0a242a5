"""Hub-ready folders: an exported generator (``config.json`` + ``model.safetensors``) with a generated model card
(``README.md``: architecture, training data, the run's resolved config, the validation metrics it measured, intended
use). Upload one with :func:`i2i.hub.push_to_hub` or ``i2i-export --push-to-hub``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from i2i.export import export_generator, load_generator_with_config
from i2i.fileio import write_bytes_atomic
from i2i.hub import looks_like_repo_id


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
