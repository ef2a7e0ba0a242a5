"""Translate a folder (or a file, or a glob) of images: decoding in DataLoader workers, batches of equal-size images,
atomic writes in a background thread, skipping of existing outputs, and a summary.

Output files keep the input's relative path and name, with the extension of ``ext`` (png by default). Outputs
always have the input's height and width (``size`` only changes the working resolution).
"""
from __future__ import annotations

import glob
import logging
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from i2i.data.io import is_image_file, list_images, load_image, resize_pil_bicubic, save_image
from i2i.errors import first_line
from i2i.fileio import check_writable, remove_stale_temps, stale_temps_note

if TYPE_CHECKING:
    from i2i.inference.translator import Translator

logger = logging.getLogger(__name__)

OUTPUT_EXTENSIONS = ("png", "jpg")
ONE_CHANNEL_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F")


@dataclass
class FolderSummary:
    """What :func:`translate_folder` did.

    Attributes:
        translated: Images translated and written.
        skipped: Images whose output already existed (not translated again without ``overwrite``).
        failed: (input path, reason) for every image that could not be read, translated or written.
        ignored: Non-image files in the input (by extension), left alone.
        seconds: Wall time of the translation loop.
        output_dir: Where outputs were written.
        html: The side-by-side index page, when requested.
    """

    output_dir: Path
    translated: int = 0
    skipped: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    ignored: int = 0
    seconds: float = 0.0
    html: Path | None = None

    @property
    def images_per_second(self) -> float:
        return self.translated / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        ignored = f", ignored {self.ignored} non-image file(s)" if self.ignored else ""
        return (f"translated {self.translated}, skipped {self.skipped} (output exists), failed {len(self.failed)}"
                f"{ignored} in {self.seconds:.1f} s ({self.images_per_second:.1f} images/s) -> {self.output_dir}")


@dataclass(frozen=True)
class Job:
    """One input image and where its output goes (``relative`` is the output path relative to the output folder)."""

    source: Path
    output: Path
    relative: Path

    @property
    def output_dir(self) -> Path:
        return self.output.parents[len(self.relative.parts) - 1]


# Planning.

def collect_inputs(src: str | Path, *, recursive: bool) -> tuple[list[tuple[Path, Path]], Path | None, int]:
    """Find the input images of a folder, a single file or a glob pattern.

    Returns:
        ([(path, path relative to the input root)], the input root folder (None for a single file), number of
        non-image files ignored).

    Raises:
        FileNotFoundError: Nothing exists at ``src``, the folder holds no image or the pattern matches no file.
    """
    path = Path(src)
    if path.is_dir():
        found = list_images(path, recursive=recursive)
        if not found.paths:
            hint = "" if recursive or not any(p.is_dir() for p in path.iterdir()) else " (sub-folders need --recursive)"
            raise FileNotFoundError(f"input: no images in folder '{path}'{hint}")
        return [(p, p.relative_to(path)) for p in found.paths], path, found.skipped
    if path.is_file():
        return [(path, Path(path.name))], None, 0
    if glob.has_magic(str(src)):
        root = _static_prefix(str(src))
        matches = sorted(Path(p) for p in glob.glob(str(src), recursive=recursive) if Path(p).is_file())
        if not matches:
            raise FileNotFoundError(f"input: no file matches '{src}'")
        images = [p for p in matches if is_image_file(p)]
        return [(p, p.relative_to(root)) for p in images], root, len(matches) - len(images)
    raise FileNotFoundError(f"input: '{src}' does not exist")


def _static_prefix(pattern: str) -> Path:
    """The folder part of a glob pattern before its first wildcard, e.g. ``photos`` for ``photos/*/a*.jpg``."""
    parts = Path(pattern).parts
    fixed = [part for part in parts[: next(i for i, part in enumerate(parts) if glob.has_magic(part))]]
    return Path(*fixed) if fixed else Path(".")


def plan_jobs(sources: list[tuple[Path, Path]], dst: Path, ext: str) -> list[Job]:
    """Map each input to ``dst/<relative path>.<ext>``; inputs that would share an output name (``a.jpg`` and
    ``a.png``) keep their extension in the name (``a_jpg.png``) unless it already is ``ext``."""
    plain = [relative.with_suffix(f".{ext}") for _, relative in sources]
    counts = Counter(plain)
    jobs = []
    for (source, relative), name in zip(sources, plain):
        if counts[name] > 1 and relative.suffix.lower() != f".{ext}":
            name = relative.with_name(f"{relative.stem}_{relative.suffix[1:].lower()}.{ext}")
        jobs.append(Job(source, dst / name, name))
    return jobs


def check_output_location(dst: Path, root: Path | None, jobs: list[Job], *, recursive: bool) -> None:
    """Refuse to write into or over the input.

    Raises:
        ValueError: ``dst`` is the input folder, lies inside it while reading recursively, or an output would
            replace an input file.
    """
    out = dst.resolve()
    if root is not None:
        source_root = root.resolve()
        if out == source_root:
            raise ValueError(f"output: '{dst}' is the input folder; choose another folder (inputs are never replaced)")
        if recursive and source_root in out.parents:
            raise ValueError(f"output: '{dst}' is inside the input folder '{root}', which --recursive would read back; "
                             "choose a folder outside it")
    inputs = {job.source.resolve() for job in jobs}
    clash = next((job for job in jobs if job.output.resolve() in inputs), None)
    if clash is not None:
        raise ValueError(f"output: '{clash.output}' would replace an input image; choose another output folder")


# Decoding (in DataLoader workers).

class DecodeDataset(Dataset):
    """Decodes the inputs; a sample is a dict, never an exception, so one bad file does not stop the loader.

    Sample keys: ``index``; ``pixels`` ``(H, W, channels)`` uint8 tensor at the working size or None; ``error``
    (None or a message naming the file); ``native_channels`` (1 or 3 as stored, 0 if unknown); ``size`` (H, W)
    of the file.
    """

    def __init__(self, paths: list[Path], *, channels: int, size: int | None) -> None:
        self.paths = paths
        self.channels = channels
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        path = self.paths[index]
        sample: dict[str, Any] = {"index": index, "pixels": None, "error": None, "native_channels": 0, "size": None}
        try:
            sample["native_channels"] = _native_channels(path)
            pixels = load_image(path, self.channels)
            sample["size"] = pixels.shape[:2]
            if self.size is not None:
                pixels = resize_pil_bicubic(pixels, (self.size, self.size))
            sample["pixels"] = torch.from_numpy(np.ascontiguousarray(pixels))
        except Exception as err:  # noqa: BLE001 - reported per file; the run goes on.
            sample["error"] = str(err) or type(err).__name__
        return sample


def _native_channels(path: Path) -> int:
    try:
        with Image.open(path) as image:
            return 1 if image.mode in ONE_CHANNEL_MODES else 3
    except Exception:  # noqa: BLE001 - load_image reports unreadable files.
        return 0


def _keep(sample: dict[str, Any]) -> dict[str, Any]:
    return sample


# The loop.

class _Batcher:
    """Groups decoded images by size and translates a group when it is full (or too many images wait)."""

    def __init__(self, translator: Translator, *, batch_size: int,
                 done: Callable[[list[dict[str, Any]], torch.Tensor | None, str | None], None]) -> None:
        """``done(samples, outputs or None, failure reason or None)`` is called once per translated group."""
        self.translator, self.batch_size, self.done = translator, batch_size, done
        self.groups: dict[tuple[int, ...], list[dict[str, Any]]] = {}
        self.max_pending = 4 * batch_size

    def add(self, sample: dict[str, Any]) -> None:
        key = tuple(sample["pixels"].shape)
        self.groups.setdefault(key, []).append(sample)
        if len(self.groups[key]) >= self.batch_size:
            self.run(self.groups.pop(key))
        elif sum(len(group) for group in self.groups.values()) > self.max_pending:
            self.run(self.groups.pop(max(self.groups, key=lambda k: len(self.groups[k]))))

    def flush(self) -> None:
        while self.groups:
            self.run(self.groups.pop(next(iter(self.groups))))

    def run(self, group: list[dict[str, Any]]) -> None:
        try:
            pixels = torch.stack([sample["pixels"] for sample in group])
            outputs = self.translator.translate_uint8(pixels, batch_size=self.batch_size)
        except torch.OutOfMemoryError:
            height, width = group[0]["pixels"].shape[:2]
            self.done(group, None, f"out of memory at {height}x{width} px; use --tile 512 or a smaller --batch-size")
        except (RuntimeError, ValueError) as err:
            self.done(group, None, f"translation failed ({first_line(err)})")
        else:
            self.done(group, outputs, None)


def _write_output(job: Job, output: np.ndarray, size: tuple[int, int], thumbnail: np.ndarray | None) -> None:
    from i2i.inference.html import write_thumbnail

    save_image(job.output, resize_pil_bicubic(output, size))
    if thumbnail is not None:
        write_thumbnail(job, thumbnail)


class _FolderRun:
    """The state of one folder translation: failures, background writes (bounded) and the summary."""

    def __init__(self, todo: list[Job], summary: FolderSummary, *, html: bool, max_writes: int,
                 report: Callable[[Path, str], None]) -> None:
        self.todo, self.summary, self.html, self.max_writes, self.report = todo, summary, html, max_writes, report
        self.errors: dict[Path, str] = {}
        self.writes: deque[tuple[Job, Future]] = deque()
        self.writer = ThreadPoolExecutor(max_workers=2)

    def fail(self, job: Job, reason: str) -> None:
        reason = reason if str(job.source) in reason else f"{job.source}: {reason}"
        self.summary.failed.append((job.source, reason))
        self.errors[job.source] = reason
        self.report(job.source, reason)

    def done(self, group: list[dict[str, Any]], outputs: torch.Tensor | None, reason: str | None) -> None:
        """Queue the writes of a translated group (or record its failure)."""
        for position, sample in enumerate(group):
            job = self.todo[sample["index"]]
            if outputs is None:
                self.fail(job, reason or "translation failed")
                continue
            thumbnail = sample["pixels"].numpy() if self.html else None
            args = (job, outputs[position].numpy(), tuple(sample["size"]), thumbnail)
            self.writes.append((job, self.writer.submit(_write_output, *args)))
        self.drain(self.max_writes)

    def drain(self, keep: int = 0) -> None:
        """Wait for the oldest writes until at most ``keep`` are in flight (bounding the memory they hold)."""
        while len(self.writes) > keep:
            job, future = self.writes.popleft()
            try:
                future.result()
                self.summary.translated += 1
            except Exception as err:  # noqa: BLE001 - a failed write is reported like a failed read.
                self.fail(job, f"cannot write '{job.output}' ({err})")

    def run(self, loader: DataLoader, batcher: _Batcher, bar: Any) -> None:
        try:
            for sample in loader:
                if sample["error"] is not None:
                    self.fail(self.todo[sample["index"]], sample["error"])
                    bar.update(1)
                    continue
                batcher.translator.warn_channels(sample["native_channels"] or batcher.translator.in_channels)
                batcher.add(sample)
            batcher.flush()
            self.drain()
        finally:
            self.writer.shutdown(wait=True)


def translate_folder(translator: Translator, src: str | Path, dst: str | Path, *, recursive: bool = False,
                     ext: str = "png", overwrite: bool = False, batch_size: int = 4, num_workers: int = 2,
                     size: int | None = None, html: bool = False, progress: bool = True,
                     on_failure: Callable[[Path, str], None] | None = None) -> FolderSummary:
    """Translate the images of ``src`` into ``dst``, keeping relative paths and names.

    Args:
        translator: The loaded generator.
        src: A folder, an image file, or a glob pattern (``"photos/*.jpg"``; ``**`` with ``recursive``).
        dst: Output folder; must not be the input folder (or inside it with ``recursive``).
        recursive: Include sub-folders.
        ext: Output format, "png" (default, lossless) or "jpg".
        overwrite: Translate again images whose output exists (default: skip them).
        batch_size: Images of equal size translated together (and tiles per call when tiling).
        num_workers: DataLoader worker processes decoding images (0: in this process).
        size: Translate at ``size`` x ``size`` px (as the reference's test.py), then resize the output back to the
            input's size; None (default) translates at the native size.
        html: Also write ``dst/index.html`` showing inputs and outputs side by side.
        progress: Show a progress bar (on terminals).
        on_failure: Called with (path, reason) for each failed image (default: log a warning).

    Returns:
        The :class:`FolderSummary`.
    """
    from i2i.progress import progress_bar

    if ext not in OUTPUT_EXTENSIONS:
        raise ValueError(f"ext: unknown output format '{ext}'; valid: {', '.join(OUTPUT_EXTENSIONS)}")
    if batch_size < 1 or num_workers < 0 or (size is not None and size < 1):
        raise ValueError(f"batch_size must be >= 1, num_workers >= 0 and size >= 1; got {batch_size}, {num_workers}, "
                         f"{size}")
    dst = check_writable(dst, "output", folder=True)
    sources, root, ignored = collect_inputs(src, recursive=recursive)
    jobs = plan_jobs(sources, dst, ext)
    check_output_location(dst, root, jobs, recursive=recursive)
    note = stale_temps_note(*remove_stale_temps(dst, recursive=True), dst)
    if note:
        logger.warning("%s", note)
    todo = [job for job in jobs if overwrite or not job.output.exists()]
    summary = FolderSummary(output_dir=dst, skipped=len(jobs) - len(todo), ignored=ignored)
    run = _FolderRun(todo, summary, html=html, max_writes=4 * batch_size,
                     report=on_failure or (lambda path, reason: logger.warning("%s", reason)))
    start = time.perf_counter()
    dataset = DecodeDataset([job.source for job in todo], channels=translator.in_channels, size=size)
    loader = DataLoader(dataset, batch_size=None, num_workers=min(num_workers, len(todo)), collate_fn=_keep,
                        pin_memory=translator.device.type == "cuda")
    with progress_bar(len(todo), desc="translate", unit="img", enabled=progress) as bar:

        def done(group: list[dict[str, Any]], outputs: torch.Tensor | None, reason: str | None) -> None:
            run.done(group, outputs, reason)
            bar.update(len(group))

        run.run(loader, _Batcher(translator, batch_size=batch_size, done=done), bar)
    summary.seconds = time.perf_counter() - start
    if html:
        from i2i.inference.html import write_index

        counts = f"translated {summary.translated}, skipped {summary.skipped}, failed {len(summary.failed)}"
        summary.html = write_index(dst, jobs, run.errors, model=translator.describe(), summary=counts)
    return summary
