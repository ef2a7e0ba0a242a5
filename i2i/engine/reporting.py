"""Scalars to a JSONL file (always) and TensorBoard (optional); image grids to PNG files and TensorBoard."""
from __future__ import annotations

import io
import json
from pathlib import Path

import torch
from torch import Tensor
from PIL import Image
from torchvision.utils import make_grid

from i2i.fileio import write_bytes_atomic
from i2i.pixels import to_uint8, to_unit


class Reporter:
    """Writes ``metrics.jsonl`` (one JSON object per record), TensorBoard events and ``samples/*.png``.

    Args:
        run_dir: the run folder.
        tensorboard: also write TensorBoard event files under ``run_dir/tb``.
    """

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        self.run_dir = run_dir
        self.metrics_path = run_dir / "metrics.jsonl"
        self.samples_dir = run_dir / "samples"
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / "tb"))

    def scalars(self, step: int, values: dict[str, float], prefix: str = "") -> None:
        record = {"step": step, **{f"{prefix}{k}": round(float(v), 6) for k, v in values.items()}}
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"{prefix}{key}", float(value), step)

    def images(self, step: int, visuals: dict[str, Tensor]) -> Path:
        """Save a grid: one row per sample, one column per visual (e.g. real_A, fake_B, rec_A ...).

        Args:
            visuals: name -> (N, C, H, W) in [-1, 1]; grayscale images are shown as RGB.
        """
        columns = [v.detach().float().cpu().expand(-1, 3, -1, -1) if v.size(1) == 1 else v.detach().float().cpu()
                   for v in visuals.values()]
        rows = torch.stack(columns, 1).flatten(0, 1)
        grid = make_grid(to_unit(rows), nrow=len(columns), padding=2, pad_value=1.0)
        path = self.samples_dir / f"step_{step:08d}.png"
        buffer = io.BytesIO()
        Image.fromarray(to_uint8(grid * 2 - 1).permute(1, 2, 0).numpy()).save(buffer, format="PNG")
        write_bytes_atomic(path, buffer.getvalue())
        if self.writer is not None:
            self.writer.add_image("samples/" + "|".join(visuals), grid, step)
        return path

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
