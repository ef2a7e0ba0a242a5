"""``index.html`` showing every input next to its translation.

Inputs are linked by their path relative to the output folder (nothing is written into the input folder). Inputs
a browser cannot show (TIFF) or cannot be linked relatively get a small PNG thumbnail in ``<output>/_inputs``.
"""
from __future__ import annotations

import html
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import numpy as np
from PIL import Image

from i2i.data.io import load_image, save_image, write_bytes_atomic

if TYPE_CHECKING:
    from i2i.inference.folder import Job

BROWSER_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
THUMBNAIL_DIR = "_inputs"
THUMBNAIL_SIDE = 256

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 4px; vertical-align: top; }}
img {{ max-width: 384px; max-height: 384px; image-rendering: pixelated; }}
.failed {{ color: #b00; }}
</style></head><body>
<h1>{title}</h1>
<table><tr><th>image</th><th>input</th><th>output</th></tr>
{rows}
</table></body></html>
"""


def _relative_link(path: Path, folder: Path) -> str | None:
    try:
        return os.path.relpath(path.resolve(), folder.resolve())
    except ValueError:  # Another drive on Windows.
        return None


def thumbnail_path(job: Job) -> Path:
    """``<output>/_inputs/<relative output path>.png``."""
    return job.output_dir / THUMBNAIL_DIR / job.relative.with_suffix(".png")


def needs_thumbnail(job: Job) -> bool:
    """True when the input cannot be linked: a format browsers do not show, or no relative path to it."""
    return job.source.suffix.lower() not in BROWSER_EXTENSIONS or _relative_link(job.source, job.output_dir) is None


def write_thumbnail(job: Job, pixels: np.ndarray) -> None:
    """Save ``(H, W, C)`` uint8 input pixels, shrunk to at most THUMBNAIL_SIDE px, as the input's thumbnail."""
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    save_image(thumbnail_path(job), np.asarray(image))


def _input_href(job: Job, output_dir: Path) -> str | None:
    if needs_thumbnail(job):
        thumbnail = thumbnail_path(job)
        if not thumbnail.exists():
            try:
                write_thumbnail(job, load_image(job.source, 3))
            except Exception:  # noqa: BLE001 - the row then shows no input picture.
                return None
        return quote((Path(THUMBNAIL_DIR) / job.relative.with_suffix(".png")).as_posix())
    link = _relative_link(job.source, output_dir)
    return quote(Path(link).as_posix()) if link else None


def _cell(href: str | None, alt: str) -> str:
    return f'<td><a href="{href}"><img src="{href}" alt="{html.escape(alt)}" loading="lazy"></a></td>' if href \
        else "<td>-</td>"


def write_index(output_dir: Path, jobs: list[Job], errors: dict[Path, str]) -> Path:
    """Write ``output_dir/index.html`` with one row per job (failed ones show their reason).

    Returns:
        The page's path.
    """
    rows = []
    for job in jobs:
        name = html.escape(job.relative.as_posix())
        input_cell = _cell(_input_href(job, output_dir), f"input {job.source.name}")
        if job.source in errors:
            output_cell = f'<td class="failed">{html.escape(errors[job.source])}</td>'
        elif job.output.exists():
            output_cell = _cell(quote(job.relative.as_posix()), f"output {job.relative.name}")
        else:
            output_cell = "<td>-</td>"
        rows.append(f"<tr><td>{name}</td>{input_cell}{output_cell}</tr>")
    page = PAGE.format(title=html.escape(f"i2i: {output_dir.name or output_dir}"), rows="\n".join(rows))
    path = output_dir / "index.html"
    write_bytes_atomic(path, page.encode("utf-8"))
    return path
