"""The ``data`` section of a training config: which images to read and how to prepare them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CROPPING_MODES = ("resize_and_crop", "crop", "scale_width_and_crop")


@dataclass
class DataConfig:
    """Where the images live and how they are decoded, resized, cropped, flipped and batched.

    Folder layout under ``root`` per ``dataset``:

    - ``aligned``: ``root/<phase>/*.png|jpg``, each image the A half on the left and the B half on the right.
    - ``paired``: ``root/<phase>/A`` and ``root/<phase>/B`` (or ``root/A`` and ``root/B``) holding files with
      matching names (stems; extensions may differ).
    - ``unaligned``: ``root/<phase>A`` and ``root/<phase>B`` (e.g. ``trainA``, ``trainB``), unrelated images.
    - ``single``: ``root/<phase>`` when it exists, else ``root`` itself; only an A side.

    Attributes:
        dataset: Folder layout, see above.
        root: Dataset folder.
        phase: Sub-folder name to read (``train``, ``test``, ``val``...).
        synthetic: When not ``none`` and ``root`` is missing or empty, a small deterministic synthetic dataset of
            this kind (``paired`` for ``aligned``, ``unpaired`` for ``unaligned``) is written there first.
        direction: ``BtoA`` swaps the A and B sides (input_nc then applies to the new A side).
        input_nc: Channels of the A (input) side, 1 (grayscale) or 3 (RGB).
        output_nc: Channels of the B (target) side.
        preprocess: ``resize_and_crop``: resize to load_size², random crop crop_size; ``crop``: random crop only;
            ``scale_width``: width to load_size keeping the aspect, sides rounded down to multiples of 4;
            ``scale_width_and_crop``: scale_width then random crop; ``none``: sides rounded down to multiples of 4.
        resize_filter: ``pil_bicubic`` (the reference's filter: PIL bicubic, antialiased when shrinking) or
            ``cv2_area`` (OpenCV: area averaging when shrinking, bicubic when enlarging; i2i before 2026-11).
        load_size: Size images are resized to before cropping.
        crop_size: Size of the (random in training, centred in evaluation) crop.
        flip: Random horizontal flips in training (the same flip for A and B of a pair).
        batch_size: Images per batch.
        num_workers: DataLoader worker processes (0 loads in the main process).
        pin_memory: Pin host memory (only used when CUDA is available).
        persistent_workers: Keep workers alive between epochs (only used when num_workers > 0).
        prefetch_factor: Batches prefetched per worker (only used when num_workers > 0).
        serial_batches: ``unaligned`` only: pair A[i] with B[i mod len(B)] instead of a random B.
        max_dataset_size: Keep only the first N images (sorted by name); None keeps all.
        skip_bad_images: Replace unreadable images by the next readable one (counted, with a warning) instead of
            failing.
        gpu_augment: The CPU side only decodes and resizes to load_size; the random crop and flip run on the GPU
            (see :class:`i2i.data.gpu_augment.PairedGPUAugment`). Needs a cropping ``preprocess``.
    """

    dataset: str = "aligned"
    root: str = "datasets/facades"
    phase: str = "train"
    synthetic: Literal["none", "paired", "unpaired"] = "none"
    direction: Literal["AtoB", "BtoA"] = "AtoB"
    input_nc: Literal[1, 3] = 3
    output_nc: Literal[1, 3] = 3
    preprocess: Literal["resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none"] = "resize_and_crop"
    resize_filter: Literal["pil_bicubic", "cv2_area"] = "pil_bicubic"
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True
    batch_size: int = 1
    num_workers: int = 4
    pin_memory: bool = True
    persistent_workers: bool = True
    prefetch_factor: int = 2
    serial_batches: bool = False
    max_dataset_size: int | None = None
    skip_bad_images: bool = False
    gpu_augment: bool = False

    def validate(self) -> None:
        """Check values the type hints cannot express.

        Raises:
            ValueError: ``"data.<key>: ..."`` naming the first offending key.
        """
        for key in ("load_size", "crop_size", "batch_size", "prefetch_factor"):
            if getattr(self, key) <= 0:
                raise ValueError(f"data.{key}: must be > 0, got {getattr(self, key)}")
        if self.num_workers < 0:
            raise ValueError(f"data.num_workers: must be >= 0, got {self.num_workers}")
        if self.max_dataset_size is not None and self.max_dataset_size <= 0:
            raise ValueError(f"data.max_dataset_size: must be > 0 or null, got {self.max_dataset_size}")
        if not self.root:
            raise ValueError("data.root: must not be empty")
        if not self.phase:
            raise ValueError("data.phase: must not be empty")
        if self.preprocess in ("resize_and_crop", "scale_width_and_crop") and self.crop_size > self.load_size:
            raise ValueError(f"data.crop_size: {self.crop_size} is larger than data.load_size {self.load_size} "
                             f"(preprocess={self.preprocess} resizes to load_size and then crops crop_size)")
        expected = {"paired": "aligned", "unpaired": "unaligned"}.get(self.synthetic)
        if expected is not None and self.dataset != expected:
            raise ValueError(f"data.synthetic: '{self.synthetic}' writes an '{expected}' dataset, "
                             f"but data.dataset is '{self.dataset}'")
        if self.gpu_augment and self.preprocess not in CROPPING_MODES:
            raise ValueError(f"data.gpu_augment: needs a cropping data.preprocess ({', '.join(CROPPING_MODES)}), "
                             f"got '{self.preprocess}'")

