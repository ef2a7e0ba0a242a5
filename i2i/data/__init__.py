"""Data pipeline: image I/O, pair-consistent transforms, datasets, loaders, synthetic data, GPU augmentation."""
from __future__ import annotations

from i2i.data.config import DataConfig
from i2i.data.datasets import (
    DATASETS,
    AlignedDataset,
    ImageFolderDataset,
    ImageLoader,
    KeyedSubset,
    PairedFolderDataset,
    SeededIndex,
    SingleDataset,
    UnalignedDataset,
    build_dataloader,
    build_dataset,
    sample_seed,
    seed_worker,
)
from i2i.data.gpu_augment import PairedGPUAugment, build_gpu_augment
from i2i.data.io import (
    IMAGE_EXTENSIONS,
    ImageFiles,
    ImageReadError,
    is_image_file,
    list_images,
    load_image,
    save_image,
    tensor_to_image,
)
from i2i.data.synthetic import ensure_synthetic_dataset, make_synthetic_dataset
from i2i.data.transforms import PairTransform, build_compose, to_tensor

__all__ = [
    "DATASETS",
    "IMAGE_EXTENSIONS",
    "AlignedDataset",
    "DataConfig",
    "ImageFiles",
    "ImageFolderDataset",
    "ImageLoader",
    "KeyedSubset",
    "ImageReadError",
    "PairTransform",
    "PairedFolderDataset",
    "PairedGPUAugment",
    "SeededIndex",
    "SingleDataset",
    "UnalignedDataset",
    "build_compose",
    "build_dataloader",
    "build_dataset",
    "build_gpu_augment",
    "ensure_synthetic_dataset",
    "is_image_file",
    "list_images",
    "load_image",
    "make_synthetic_dataset",
    "sample_seed",
    "save_image",
    "seed_worker",
    "tensor_to_image",
    "to_tensor",
]
