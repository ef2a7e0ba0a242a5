"""Paired metrics (L1, PSNR, SSIM) between predictions and targets, and the in-training evaluation helper.

Conventions: images are compared as float in [0, 1] (uint8 / 255), so PSNR uses data range 1 (the same as 255 for
uint8); L1 is the mean absolute difference in [0, 1] units (twice that in the [-1, 1] units of the training loss);
SSIM is torchmetrics' Gaussian SSIM (11x11 window, sigma 1.5). Each score is computed per image pair, then averaged
over pairs; per-image PSNR is capped at 100 dB, so identical images give 100.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from i2i.metrics.features import FeatureExtractor, build_feature_extractor
from i2i.metrics.fid import fid_kid_from_features
from i2i.metrics.folders import ImageSetLike, as_image_set, match_by_stem
from i2i.pixels import to_uint8
from i2i.progress import progress_bar

PSNR_CAP_DB = 100.0
SSIM_KERNEL_SIZE = 11
SSIM_SIGMA = 1.5
PAIRED_METRICS = ("l1", "psnr", "ssim")
DISTRIBUTION_METRICS = ("fid", "kid")


def pair_scores(target: Tensor, pred: Tensor) -> dict[str, Tensor]:
    """Per-image L1, PSNR (dB, capped at 100) and SSIM of two batches.

    Args:
        target, pred: ``(N, C, H, W)`` float in [0, 1], same shape, H and W >= 11.

    Returns:
        ``{"l1", "psnr", "ssim"}``, each ``(N,)`` float64 on the CPU.
    """
    # Imported on use: importing torchmetrics takes seconds.
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    if target.shape != pred.shape:
        raise ValueError(f"pair_scores: target {tuple(target.shape)} and pred {tuple(pred.shape)} differ in shape")
    if min(target.shape[-2:]) < SSIM_KERNEL_SIZE:
        raise ValueError(f"paired metrics need images of at least {SSIM_KERNEL_SIZE}x{SSIM_KERNEL_SIZE} px for SSIM, "
                         f"got {target.shape[-2]}x{target.shape[-1]}")
    target, pred = target.double(), pred.double()
    l1 = (pred - target).abs().flatten(1).mean(dim=1)
    psnr = peak_signal_noise_ratio(pred, target, data_range=1.0, reduction="none", dim=(1, 2, 3))
    ssim = structural_similarity_index_measure(pred, target, gaussian_kernel=True, kernel_size=SSIM_KERNEL_SIZE,
                                               sigma=SSIM_SIGMA, data_range=1.0, reduction="none")
    return {"l1": l1.cpu(), "psnr": psnr.clamp(max=PSNR_CAP_DB).cpu(), "ssim": ssim.reshape(-1).cpu()}


def resize_like(pred: Tensor, target: Tensor) -> Tensor:
    """Resize ``pred`` ``(N, C, h, w)`` in [0, 1] to ``target``'s H x W (bilinear, antialiased)."""
    return F.interpolate(pred, size=target.shape[-2:], mode="bilinear", align_corners=False,
                         antialias=True).clamp(0, 1)


def paired_metrics(target: ImageSetLike, pred: ImageSetLike, *, allow_missing: bool = False,
                   progress: bool = False) -> dict[str, float]:
    """Mean L1, PSNR and SSIM over image pairs matched by name.

    Args:
        target, pred: folders (matched by file stem; extensions may differ) or tensors ``(N, 3, H, W)`` uint8 in
            [0, 255] or float in [0, 1] (matched by index, so N must agree).
        allow_missing: skip names present on one side only (counted in ``n_skipped``) instead of raising.
        progress: show a progress bar (count, rate, ETA) on stderr.

    Returns:
        ``{"l1", "psnr", "ssim", "n", "n_skipped"}``. A pred whose size differs from its target is resized to the
        target's size first, with one warning giving the count.
    """
    target_set, pred_set = as_image_set(target, what="target"), as_image_set(pred, what="pred")
    pairs, n_skipped = match_by_stem(target_set, pred_set, allow_missing=allow_missing)
    if not pairs:
        raise ValueError("paired metrics: no image pairs to compare")
    scores: dict[str, list[Tensor]] = {name: [] for name in PAIRED_METRICS}
    resized = 0
    with progress_bar(len(pairs), desc="paired metrics", unit="pair", enabled=progress) as bar:
        for target_index, pred_index in pairs:
            target_image = target_set[target_index][None].double() / 255
            pred_image = pred_set[pred_index][None].double() / 255
            if pred_image.shape != target_image.shape:
                pred_image, resized = resize_like(pred_image, target_image), resized + 1
            for name, value in pair_scores(target_image, pred_image).items():
                scores[name].append(value)
            bar.update(1)
    if resized:
        warnings.warn(f"{resized} pred image(s) differ in size from their target; resized to the target size "
                      "(bilinear, antialiased) before scoring", stacklevel=2)
    return {**_means(scores), "n": len(pairs), "n_skipped": n_skipped}


def evaluate_generator(generator: nn.Module, loader: Iterable[Mapping[str, Tensor]], *,
                       metrics: Sequence[str] = PAIRED_METRICS, device: str | torch.device | None = None,
                       fid_features: FeatureExtractor | str | None = None, kid_subset_size: int = 1000,
                       kid_subsets: int = 100) -> dict[str, float]:
    """Run an A->B generator over a loader and score its outputs against the B images.

    The generator runs in eval mode under ``torch.no_grad`` and gets its previous train/eval mode back afterwards.
    Outputs and targets are mapped from [-1, 1] to [0, 1] and quantised to 8 bits, as if saved to PNG.

    Args:
        generator: maps ``(N, C, H, W)`` in [-1, 1] to ``(N, C', H, W)`` in [-1, 1].
        loader: yields dicts with "A" and "B" tensors ``(N, C, H, W)`` in [-1, 1]; other keys are ignored.
        metrics: any of "l1", "psnr", "ssim", "fid", "kid".
        device: where the generator runs; default: the device of its first parameter.
        fid_features: FeatureExtractor (or its name) for "fid"/"kid"; required when those are asked for.
        kid_subset_size, kid_subsets: KID subset sampling (the subset size shrinks to the set size, with a warning).

    Returns:
        The requested metrics ("kid" gives "kid_mean" and "kid_std") plus "n", the number of images.
    """
    extractor = _check_metrics(metrics, fid_features)
    device = device or next(iter(generator.parameters()), torch.empty(0)).device
    if isinstance(extractor, str):
        extractor = build_feature_extractor(extractor, device=device)
    scores: dict[str, list[Tensor]] = {name: [] for name in PAIRED_METRICS if name in metrics}
    features: dict[str, list[Tensor]] = {"real": [], "fake": []}
    was_training = generator.training
    generator.eval()
    try:
        with torch.no_grad():
            for batch in loader:
                target = _to_unit_8bit(batch["B"].to(device))
                pred = _to_unit_8bit(generator(batch["A"].to(device)))
                if pred.shape[-2:] != target.shape[-2:]:
                    pred = resize_like(pred, target)
                if scores:
                    for name, value in pair_scores(target, pred).items():
                        if name in scores:
                            scores[name].append(value)
                if extractor is not None:
                    features["real"].append(_features(extractor, target))
                    features["fake"].append(_features(extractor, pred))
    finally:
        generator.train(was_training)
    result: dict[str, float] = {**_means(scores)}
    if extractor is not None:
        distances = fid_kid_from_features(torch.cat(features["real"]), torch.cat(features["fake"]),
                                          kid_subset_size=kid_subset_size, kid_subsets=kid_subsets)
        result.update({key: distances[key] for key in _distribution_keys(metrics)})
    result["n"] = sum(len(value) for value in features["real"]) if extractor is not None else _count(scores)
    return result


def _check_metrics(metrics: Sequence[str],
                   fid_features: FeatureExtractor | str | None) -> FeatureExtractor | str | None:
    unknown = sorted(set(metrics) - set(PAIRED_METRICS + DISTRIBUTION_METRICS))
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; valid: {', '.join(PAIRED_METRICS + DISTRIBUTION_METRICS)}")
    if not set(metrics) & set(DISTRIBUTION_METRICS):
        return None
    if fid_features is None:
        raise ValueError("metrics 'fid'/'kid' need fid_features=build_feature_extractor('inception') (or a name)")
    return fid_features


def _distribution_keys(metrics: Sequence[str]) -> list[str]:
    return (["fid"] if "fid" in metrics else []) + (["kid_mean", "kid_std"] if "kid" in metrics else [])


def _to_unit_8bit(images: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1] on the 8-bit grid."""
    return to_uint8(images).float() / 255


def _features(extractor: FeatureExtractor, images: Tensor) -> Tensor:
    """Features of ``(N, C, H, W)`` [0, 1] images; gray (C = 1) is repeated to RGB."""
    device = next(iter(extractor.parameters()), torch.empty(0)).device
    pixels = (images * 255).round().to(device=device, dtype=torch.uint8)
    return extractor(pixels.expand(-1, 3, -1, -1) if pixels.shape[1] == 1 else pixels).double().cpu()


def _means(scores: dict[str, list[Tensor]]) -> dict[str, float]:
    return {name: float(torch.cat(values).mean()) for name, values in scores.items() if values}


def _count(scores: dict[str, list[Tensor]]) -> int:
    return max((sum(len(value) for value in values) for values in scores.values()), default=0)
