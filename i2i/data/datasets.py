"""Image-folder datasets returning dict items, and the DataLoader builder.

Items: ``{"A": (input_nc, H, W), "B": (output_nc, H, W), "A_path": str, "B_path": str}``, float32 in [-1, 1]
(``single``: only ``"A"`` and ``"A_path"``). ``direction=BtoA`` swaps the sides here, in the dataset, so the model
always reads its input from ``"A"``.

Randomness: every random choice (crop, flip, the B partner of an unaligned item) is drawn inside ``__getitem__``
from a generator seeded by the key. A key ``(index, seed)`` (a :class:`SeededIndex`, which the training sampler
yields with ``seed = sample_seed(run seed, epoch, index)``) makes an item a function of (run seed, epoch, index)
alone: the same whatever the number of DataLoader workers or processes, and after a resume. A plain integer index
draws from torch's global RNG (the per-worker RNG inside workers) as before.
"""
from __future__ import annotations

import logging
import random
import re
import signal
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from i2i.data.config import DataConfig
from i2i.data.io import ImageReadError, convert_channels, list_images, load_image
from i2i.data.synthetic import ensure_synthetic_dataset
from i2i.data.transforms import PairTransform
from i2i.registry import Registry

logger = logging.getLogger(__name__)

DATASETS: Registry[type[Dataset]] = Registry("dataset")
Item = dict[str, Any]
_MAX_SEED = 2**31 - 1
BAD_IMAGES_KEY = "skipped_images"  # item key: the unreadable images replaced by this item, one per line


class SeededIndex(NamedTuple):
    """A dataset key that carries the seed of the item's random crop/flip/partner choices."""

    index: int
    seed: int


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of sample ``index`` in ``epoch`` of a run seeded ``seed`` (well mixed, in [0, 2**63))."""
    state = np.random.SeedSequence((seed % 2**32, epoch, index)).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


class ImageFolderDataset(Dataset):
    """Shared machinery: folder scanning, per-item seeds and skipping unreadable images.

    Items can be read by a plain index or a :class:`SeededIndex` (see the module docstring).

    Attributes:
        skipped_files: Non-image files found (and ignored) in the dataset folders.
        bad_images: Unreadable images skipped so far in this process (``skip_bad_images``); with DataLoader workers
            each worker counts its own.
    """

    #: Kinds of training data the layout gives: "paired" (A and B of one scene), "unpaired" (an A and a B image),
    #: "single" (A only). An algorithm's ``data_kind`` must be among them.
    provides: frozenset[str] = frozenset()
    accepts_seeded_keys = True

    def __init__(self, cfg: DataConfig, *, train: bool = True) -> None:
        self.cfg = cfg
        self.train = train
        self.transform = PairTransform(cfg, train=train)
        self.skipped_files = 0
        self._bad: set[str] = set()

    @property
    def bad_images(self) -> int:
        return len(self._bad)

    def __len__(self) -> int:
        raise NotImplementedError

    def load_item(self, index: int, generator: torch.Generator | None) -> Item:
        raise NotImplementedError

    def __getitem__(self, key: int | SeededIndex) -> Item:
        index, seed = key if isinstance(key, tuple) else (key, None)
        generator = torch.Generator().manual_seed(seed) if seed is not None and self.train else None
        if not self.cfg.skip_bad_images:
            try:
                return self.load_item(index, generator)
            except ImageReadError as err:
                raise ImageReadError(f"{err}; set data.skip_bad_images=true to skip unreadable images") from None
        skipped = []
        for offset in range(len(self)):
            try:
                return {**self.load_item((index + offset) % len(self), generator), BAD_IMAGES_KEY: "\n".join(skipped)}
            except ImageReadError as err:
                self._bad.add(str(err))
                skipped.append(str(err))
        raise ImageReadError(f"data.root: no readable image in '{self.cfg.root}' ({self.bad_images} unreadable)")

    def _scan(self, folder: Path, expected: str) -> list[Path]:
        """Sorted images of ``folder`` (recursive, truncated to max_dataset_size); counts skipped files."""
        if not folder.is_dir():
            raise FileNotFoundError(f"data.root: folder '{folder}' does not exist; "
                                    f"the '{self.cfg.dataset}' dataset expects {expected}")
        paths, skipped = list_images(folder, recursive=True)
        self.skipped_files += skipped
        if not paths:
            raise FileNotFoundError(f"data.root: folder '{folder}' has no images ({skipped} other files); "
                                    f"the '{self.cfg.dataset}' dataset expects {expected}")
        return paths[: self.cfg.max_dataset_size]

    def _seeds(self, count: int, generator: torch.Generator | None) -> list[int | None]:
        """Seeds for the random crop/flip, drawn from ``generator`` (torch's RNG when None); None when evaluating."""
        if not self.train:
            return [None] * count
        return torch.randint(0, _MAX_SEED, (count,), generator=generator).tolist()


class KeyedSubset(Subset):
    """``torch.utils.data.Subset`` that passes :class:`SeededIndex` keys through (the seed stays with the item)."""

    accepts_seeded_keys = True

    def __getitem__(self, key: int | SeededIndex) -> Item:
        if isinstance(key, tuple):
            return self.dataset[SeededIndex(self.indices[key[0]], key[1])]
        return self.dataset[self.indices[key]]


def _split_sides(cfg: DataConfig, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order two images as (model input, target) by direction and give them input_nc / output_nc channels."""
    source, target = (left, right) if cfg.direction == "AtoB" else (right, left)
    return convert_channels(source, cfg.input_nc), convert_channels(target, cfg.output_nc)


def _load_channels(cfg: DataConfig) -> int:
    return 3 if 3 in (cfg.input_nc, cfg.output_nc) else 1


@DATASETS.register("aligned")
class AlignedDataset(ImageFolderDataset):
    """Pairs stored as one image, A on the left half and B on the right (``root/<phase>/*``)."""

    provides = frozenset({"paired", "unpaired"})

    def __init__(self, cfg: DataConfig, *, train: bool = True) -> None:
        super().__init__(cfg, train=train)
        self.paths = self._scan(Path(cfg.root) / cfg.phase, "A|B side-by-side images in <root>/<phase>/")

    def __len__(self) -> int:
        return len(self.paths)

    def load_item(self, index: int, generator: torch.Generator | None = None) -> Item:
        path = self.paths[index]
        pair = load_image(path, _load_channels(self.cfg))
        half = pair.shape[1] // 2
        left, right = np.ascontiguousarray(pair[:, :half]), np.ascontiguousarray(pair[:, half : 2 * half])
        image_a, image_b = _split_sides(self.cfg, left, right)
        tensor_a, tensor_b = self.transform(image_a, image_b, seed=self._seeds(1, generator)[0], name=str(path))
        return {"A": tensor_a, "B": tensor_b, "A_path": str(path), "B_path": str(path)}


@DATASETS.register("paired")
class PairedFolderDataset(ImageFolderDataset):
    """Pairs stored as files of the same name (stem) in ``A/`` and ``B/`` folders.

    Folders: ``root/<phase>/A`` and ``root/<phase>/B``, or ``root/A`` and ``root/B`` when the former are missing.
    """

    provides = frozenset({"paired", "unpaired"})

    def __init__(self, cfg: DataConfig, *, train: bool = True) -> None:
        super().__init__(cfg, train=train)
        base = Path(cfg.root) / cfg.phase
        if not (base / "A").is_dir() and (Path(cfg.root) / "A").is_dir():
            base = Path(cfg.root)
        expected = "matching files in <root>/<phase>/A and <root>/<phase>/B (or <root>/A and <root>/B)"
        paths_a = self._scan(base / "A", expected)
        paths_b = self._scan(base / "B", expected)
        self.pairs = _match_by_stem(base / "A", paths_a, base / "B", paths_b)[: cfg.max_dataset_size]

    def __len__(self) -> int:
        return len(self.pairs)

    def load_item(self, index: int, generator: torch.Generator | None = None) -> Item:
        path_a, path_b = self.pairs[index]
        left, right = load_image(path_a, _load_channels(self.cfg)), load_image(path_b, _load_channels(self.cfg))
        if left.shape[:2] != right.shape[:2] and self.cfg.preprocess == "resize_and_crop":
            right = convert_channels(cv2.resize(right, left.shape[1::-1], interpolation=cv2.INTER_AREA), right.shape[2])
        image_a, image_b = _split_sides(self.cfg, left, right)
        if self.cfg.direction == "BtoA":
            path_a, path_b = path_b, path_a
        tensor_a, tensor_b = self.transform(image_a, image_b, seed=self._seeds(1, generator)[0], name=str(path_a))
        return {"A": tensor_a, "B": tensor_b, "A_path": str(path_a), "B_path": str(path_b)}


def _match_by_stem(folder_a: Path, paths_a: list[Path], folder_b: Path, paths_b: list[Path]) -> list[tuple[Path, Path]]:
    """Pair files by their path relative to the folder, without extension; any unmatched name is an error."""
    def key(path: Path, folder: Path) -> str:
        return path.relative_to(folder).with_suffix("").as_posix()

    by_key_a = {key(p, folder_a): p for p in paths_a}
    by_key_b = {key(p, folder_b): p for p in paths_b}
    problems = []
    for folder, missing in ((folder_b, sorted(by_key_a.keys() - by_key_b.keys())),
                            (folder_a, sorted(by_key_b.keys() - by_key_a.keys()))):
        if missing:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            problems.append(f"{len(missing)} name(s) missing in '{folder}': {shown}")
    if problems:
        raise ValueError(f"data.root: paired folders do not match: {'; '.join(problems)}")
    return [(by_key_a[k], by_key_b[k]) for k in sorted(by_key_a)]


@DATASETS.register("unaligned")
class UnalignedDataset(ImageFolderDataset):
    """Two unrelated image sets ``root/<phase>A`` and ``root/<phase>B`` (CycleGAN).

    ``len`` is the larger set's size; item ``i`` takes A[i mod len(A)] and a random B (B[i mod len(B)] with
    ``serial_batches`` or when evaluating). With ``BtoA`` the ``<phase>B`` images are the A side.
    """

    provides = frozenset({"unpaired"})

    def __init__(self, cfg: DataConfig, *, train: bool = True) -> None:
        super().__init__(cfg, train=train)
        root = Path(cfg.root)
        folders = (root / f"{cfg.phase}A", root / f"{cfg.phase}B")
        expected = f"two folders of images, <root>/{cfg.phase}A and <root>/{cfg.phase}B"
        paths = [self._scan(folder, expected) for folder in folders]
        self.paths_a, self.paths_b = paths if cfg.direction == "AtoB" else paths[::-1]

    def __len__(self) -> int:
        return max(len(self.paths_a), len(self.paths_b))

    def load_item(self, index: int, generator: torch.Generator | None = None) -> Item:
        path_a = self.paths_a[index % len(self.paths_a)]
        if self.cfg.serial_batches or not self.train:
            index_b = index % len(self.paths_b)
        else:
            index_b = int(torch.randint(len(self.paths_b), (), generator=generator))
        path_b = self.paths_b[index_b]
        seed_a, seed_b = self._seeds(2, generator)
        tensor_a, _ = self.transform(load_image(path_a, self.cfg.input_nc), seed=seed_a, name=str(path_a))
        tensor_b, _ = self.transform(load_image(path_b, self.cfg.output_nc), seed=seed_b, name=str(path_b))
        return {"A": tensor_a, "B": tensor_b, "A_path": str(path_a), "B_path": str(path_b)}


@DATASETS.register("single")
class SingleDataset(ImageFolderDataset):
    """One set of images (``root/<phase>`` when it exists, else ``root``), e.g. for inference; A side only."""

    provides = frozenset({"single"})

    def __init__(self, cfg: DataConfig, *, train: bool = True) -> None:
        super().__init__(cfg, train=train)
        folder = Path(cfg.root) / cfg.phase
        self.paths = self._scan(folder if folder.is_dir() else Path(cfg.root), "images in <root>/<phase> or <root>")

    def __len__(self) -> int:
        return len(self.paths)

    def load_item(self, index: int, generator: torch.Generator | None = None) -> Item:
        path = self.paths[index]
        image = load_image(path, self.cfg.input_nc)
        tensor, _ = self.transform(image, seed=self._seeds(1, generator)[0], name=str(path))
        return {"A": tensor, "A_path": str(path)}


def build_dataset(cfg: DataConfig, *, train: bool = True) -> Dataset:
    """Validate ``cfg``, write the synthetic dataset if asked for, and build the ``cfg.dataset`` dataset.

    Args:
        cfg: Data settings.
        train: Random crop/flip (and random unaligned partners) when True; deterministic when False.

    Raises:
        ValueError: Invalid settings, or paired folders whose names do not match.
        FileNotFoundError: A dataset folder is missing or has no images.
    """
    cfg.validate()
    if cfg.synthetic != "none":
        ensure_synthetic_dataset(cfg.root, cfg.synthetic)
    return DATASETS.get(cfg.dataset)(cfg, train=train)


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed numpy and random from the worker's torch seed; one OpenCV thread.

    Workers ignore SIGINT and SIGTERM: Ctrl-C, ``timeout`` and job schedulers signal the whole process group, and
    the trainer, not the workers, decides how to stop (finish the step, write a checkpoint). Workers end with the
    main process.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
    cv2.setNumThreads(1)


class ImageLoader(DataLoader):
    """A DataLoader that reports each image skipped by ``data.skip_bad_images`` once (in the main process, however
    many workers draw it), and re-raises errors from worker processes with their own one-line message instead of
    torch's "Caught ... in DataLoader worker process" text with a traceback inside."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reported_bad_images: set[str] = set()

    def __iter__(self):
        iterator = super().__iter__()
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except Exception as err:  # noqa: BLE001 - re-raised, as its own type, with a clean message
                raise _unwrap_worker_error(err) from None
            if isinstance(batch, dict) and BAD_IMAGES_KEY in batch:
                self._report(batch.pop(BAD_IMAGES_KEY))
            yield batch

    def _report(self, entries: list[str]) -> None:
        for message in (line for entry in entries for line in entry.splitlines() if line):
            if message not in self.reported_bad_images:
                self.reported_bad_images.add(message)
                warnings.warn(f"data.skip_bad_images: skipped {message} (reported once)", stacklevel=3)


def _unwrap_worker_error(err: Exception) -> Exception:
    """``err`` itself, or for an error re-raised from a worker, the same type with only the original message."""
    text = str(err)
    if not (text.startswith("Caught ") and "Original Traceback" in text):
        return err
    last = [line for line in text.splitlines() if line.strip()][-1]
    message = re.sub(r"^[\w.]*(Error|Exception)\w*: ", "", last.strip())
    try:
        return type(err)(message)
    except TypeError:
        return RuntimeError(message)


def build_dataloader(dataset: Dataset, cfg: DataConfig, *, shuffle: bool, sampler: Sampler | None = None,
                     seed: int | None = None, drop_last: bool = False) -> DataLoader:
    """Wrap ``dataset`` in an :class:`ImageLoader` configured from ``cfg``.

    Args:
        dataset: Map-style dataset, usually from :func:`build_dataset`.
        cfg: batch_size, num_workers, pin_memory (used only with CUDA), persistent_workers and prefetch_factor
            (used only with workers).
        shuffle: Shuffle each epoch (ignored when ``sampler`` is given; the sampler decides the order).
        sampler: e.g. a DistributedSampler; one yielding :class:`SeededIndex` keys makes every item independent of
            the worker count.
        seed: Seeds the loader's generator, which decides the shuffle order and the worker seeds. Two loaders with
            the same seed (and the same torch global RNG state when ``num_workers=0``) give identical batches.
            None uses torch's global RNG.
        drop_last: Drop the last incomplete batch.

    Raises:
        ValueError: ``drop_last`` is set and the dataset is smaller than one batch.
    """
    size = len(sampler) if sampler is not None else len(dataset)
    if drop_last and size < cfg.batch_size:
        raise ValueError(f"data.batch_size: {cfg.batch_size} is larger than the dataset ({size} items) "
                         f"and drop_last is set, so there would be no batch")
    generator = None
    if seed is not None:
        generator = torch.Generator()
        generator.manual_seed(seed)
    workers: dict[str, Any] = {}
    if cfg.num_workers > 0:
        workers = {"persistent_workers": cfg.persistent_workers, "prefetch_factor": cfg.prefetch_factor,
                   "worker_init_fn": seed_worker}
    return ImageLoader(dataset, batch_size=cfg.batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
                       num_workers=cfg.num_workers, pin_memory=cfg.pin_memory and torch.cuda.is_available(),
                       drop_last=drop_last, generator=generator, **workers)
