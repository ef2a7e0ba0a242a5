"""The run's records: scalars and image grids handed to the tracker hooks of ``train.loggers``; grids also to PNG."""
from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from PIL import Image
from torchvision.utils import make_grid

from i2i.fileio import write_bytes_atomic
from i2i.pixels import to_uint8, to_unit

if TYPE_CHECKING:
    from i2i.engine.trackers import TrackerHook


class Reporter:
    """Hands every record to the trackers (``metrics.jsonl``, TensorBoard, W&B, MLflow) and writes ``samples/*.png``.

    Args:
        run_dir: the run folder.
        trackers: the tracker hooks of the run (:mod:`i2i.engine.trackers`).
    """

    def __init__(self, run_dir: Path, trackers: list[TrackerHook] = ()) -> None:
        self.run_dir = run_dir
        self.samples_dir = run_dir / "samples"
        self.trackers = list(trackers)

    def scalars(self, step: int, values: dict[str, float], prefix: str = "") -> None:
        """Record ``values`` at ``step`` (keys get ``prefix``, e.g. ``val/``)."""
        record = {f"{prefix}{k}": float(v) for k, v in values.items()}
        for tracker in self.trackers:
            tracker.log_scalars(step, record)

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
        for tracker in self.trackers:
            tracker.log_image(step, "samples/" + "|".join(visuals), grid)
        return path

    def close(self) -> None:
        for tracker in self.trackers:
            tracker.close()
