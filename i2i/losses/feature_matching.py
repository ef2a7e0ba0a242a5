"""pix2pixHD's discriminator feature-matching loss (Wang et al. 2018, eq. 4)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def feature_matching_loss(real_features: Sequence[Sequence[Tensor]], fake_features: Sequence[Sequence[Tensor]],
                          weight: float = 10.0) -> Tensor:
    """L1 between a discriminator's intermediate features on real and on generated images, weighted as pix2pixHD.

    Each term is ``weight * (4 / (n_layers + 1)) * (1 / num_D) * mean|fake - real|``, summed over the scales and the
    n_layers + 1 feature maps of each scale (the final logit map of a scale is not matched). The real features are
    detached: the loss trains the generator only.

    Args:
        real_features: ``num_D`` lists of n_layers + 1 feature maps followed by the logits, as returned by
            ``forward_features`` of a PatchGAN or :class:`~i2i.models.MultiscaleDiscriminator` on real inputs.
        fake_features: The same on generated inputs (with their graph, so gradients reach the generator).
        weight: lambda_feat (pix2pixHD: 10).

    Returns:
        Scalar loss (float32).
    """
    if len(real_features) != len(fake_features) or not real_features:
        raise ValueError(f"feature matching needs the same non-zero number of scales, got {len(real_features)} real "
                         f"and {len(fake_features)} fake")
    per_scale = 1.0 / len(real_features)
    total = torch.zeros((), device=fake_features[0][-1].device)
    for real, fake in zip(real_features, fake_features):
        per_layer = 4.0 / (len(real) - 1)  # len(real) - 1 = n_layers + 1 feature maps
        for real_map, fake_map in zip(real[:-1], fake[:-1]):
            total = total + per_scale * per_layer * F.l1_loss(fake_map.float(), real_map.detach().float())
    return weight * total
