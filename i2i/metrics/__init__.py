"""Translation-quality metrics: FID/KID between image sets, paired L1/PSNR/SSIM, and in-training evaluation.

See docs/metrics.md for the FID protocol and the conventions (value ranges, PSNR cap, bad-input policy).
"""
from __future__ import annotations

from i2i.metrics.features import (
    FEATURE_EXTRACTORS,
    FeatureExtractor,
    InceptionFeatures,
    RandomFeatures,
    build_feature_extractor,
    default_inception_weights,
    extract_features,
    tf1_resize_bilinear,
)
from i2i.metrics.fid import (
    feature_statistics,
    fid_kid,
    fid_kid_from_features,
    frechet_distance,
    frechet_distance_from_features,
    kid_from_features,
)
from i2i.metrics.folders import ImageSet, as_image_set, list_images, match_by_stem, read_image
from i2i.metrics.paired import PSNR_CAP_DB, evaluate_generator, pair_scores, paired_metrics

__all__ = [
    "FEATURE_EXTRACTORS",
    "FeatureExtractor",
    "ImageSet",
    "InceptionFeatures",
    "PSNR_CAP_DB",
    "RandomFeatures",
    "as_image_set",
    "build_feature_extractor",
    "default_inception_weights",
    "evaluate_generator",
    "extract_features",
    "feature_statistics",
    "fid_kid",
    "fid_kid_from_features",
    "frechet_distance",
    "frechet_distance_from_features",
    "kid_from_features",
    "list_images",
    "match_by_stem",
    "pair_scores",
    "paired_metrics",
    "read_image",
    "tf1_resize_bilinear",
]
