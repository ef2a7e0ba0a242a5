"""``index.html`` showing every input next to its translation, under a header naming the model and the counts.

The page is self-contained within the output folder: each input is shown as a small PNG thumbnail written to
``<output>/_inputs`` (nothing is written into the input folder), which links to the original file by its absolute
``file://`` URI; outputs are linked relative to the page. Moving or sharing the output folder keeps the page whole.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import numpy as np
from PIL import Image

from i2i.data.io import load_image, save_image, write_bytes_atomic

if TYPE_CHECKING:
    from i2i.inference.folder import Job

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
.header {{ color: #333; }}
</style></head><body>
<h1>{title}</h1>
<p class="header">{header}</p>
<table><tr><th>image</th><th>input</th><th>output</th></tr>
{rows}
</table></body></html>
"""


def thumbnail_path(job: Job) -> Path:
    """``<output>/_inputs/<relative output path>.png``."""
    return job.output_dir / THUMBNAIL_DIR / job.relative.with_suffix(".png")


def write_thumbnail(job: Job, pixels: np.ndarray) -> None:
    """Save ``(H, W, C)`` uint8 input pixels, shrunk to at most THUMBNAIL_SIDE px, as the input's thumbnail."""
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    save_image(thumbnail_path(job), np.asarray(image))


def _input_cell(job: Job) -> str:
    """The input's thumbnail (written now if the translation did not write it), linking to the original file."""
    thumbnail = thumbnail_path(job)
    if not thumbnail.exists():
        try:
            write_thumbnail(job, load_image(job.source, 3))
        except Exception:  # noqa: BLE001 - the row then shows no input picture.
            return "<td>-</td>"
    src = quote((Path(THUMBNAIL_DIR) / job.relative.with_suffix(".png")).as_posix())
    return _cell(src, f"input {job.source.name}", link=job.source.resolve().as_uri())


def _cell(src: str, alt: str, *, link: str | None = None) -> str:
    return f'<td><a href="{html.escape(link or src)}"><img src="{src}" alt="{html.escape(alt)}" loading="lazy"></a></td>'


def write_index(output_dir: Path, jobs: list[Job], errors: dict[Path, str], *, model: str = "",
                summary: str = "") -> Path:
    """Write ``output_dir/index.html`` with one row per job (failed ones show their reason).

    Args:
        output_dir: The output folder (the page and ``_inputs/`` go there).
        jobs: Every input with its output path.
        errors: Input path -> why it failed.
        model: What translated the images (shown in the header).
        summary: The run's counts (shown in the header).

    Returns:
        The page's path.
    """
    rows = []
    for job in jobs:
        name = html.escape(job.relative.as_posix())
        input_cell = _input_cell(job)
        if job.source in errors:
            output_cell = f'<td class="failed">{html.escape(errors[job.source])}</td>'
        elif job.output.exists():
            output_cell = _cell(quote(job.relative.as_posix()), f"output {job.relative.name}")
        else:
            output_cell = "<td>-</td>"
        rows.append(f"<tr><td>{name}</td>{input_cell}{output_cell}</tr>")
    header = " · ".join(part for part in (f"model: {model}" if model else "", f"{len(jobs)} images", summary) if part)
    page = PAGE.format(title=html.escape(f"i2i: {output_dir.name or output_dir}"), header=html.escape(header),
                       rows="\n".join(rows))
    path = output_dir / "index.html"
    write_bytes_atomic(path, page.encode("utf-8"))
    return path
