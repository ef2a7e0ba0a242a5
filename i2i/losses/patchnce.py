"""PatchNCE (Park et al., CUT, ECCV 2020): a contrastive loss between patches of an input and of its translation.

For each tapped generator layer, the same random spatial positions are taken from the features of the source image
(keys) and of the translated image (queries), projected by a per-layer 2-layer MLP and L2-normalised
(:class:`PatchSampler`, CUT's ``F``). :func:`patch_nce_loss` then asks each query to pick its own key among the
keys at the other positions (the negatives) with an InfoNCE cross-entropy at temperature 0.07.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NEGATIVES = ("image", "batch")


def sample_patch_ids(features: Sequence[Tensor], num_patches: int) -> list[Tensor]:
    """Draw random spatial positions per layer, shared by every image of the batch (as CUT).

    Args:
        features: (N, C_i, H_i, W_i) tensors, one per layer.
        num_patches: Positions per layer; fewer when a layer has fewer than this.

    Returns:
        Per layer, a (min(num_patches, H_i * W_i),) long tensor of distinct indices into the flattened H_i * W_i
        grid, on the features' device.
    """
    if num_patches < 1:
        raise ValueError(f"num_patches must be >= 1, got {num_patches}")
    ids = []
    for feature in features:
        positions = feature.shape[2] * feature.shape[3]
        ids.append(torch.randperm(positions, device=feature.device)[: min(num_patches, positions)])
    return ids


def l2_normalize(x: Tensor, eps: float = 1e-7) -> Tensor:
    """Divide the last dimension by its L2 norm plus `eps` (CUT's `Normalize`), in float32.

    `vector_norm`'s gradient is 0 at a zero vector (a head whose ReLUs are all off), where sqrt(sum(x^2)) gives NaN.
    """
    x = x.float()
    return x / (torch.linalg.vector_norm(x, dim=-1, keepdim=True) + eps)


class PatchSampler(nn.Module):
    """CUT's projection head F (`PatchSampleF` with `use_mlp`): gathers patches and projects them per layer.

    Built from the tapped layers' channels (`FeatureTaps.feature_channels`) before training starts, so that
    optimisers, checkpoints and DDP see every parameter from the beginning (CUT builds it lazily on the first batch).
    Head `i` is Linear(C_i, num_units) - ReLU - Linear(num_units, num_units).
    """

    def __init__(self, *, in_channels: Sequence[int], num_units: int = 256) -> None:
        """Args:
            in_channels: Channels of each tapped layer.
            num_units: Width of the MLPs and of the projected features (CUT's `netF_nc`, 256).
        """
        super().__init__()
        if len(in_channels) == 0:
            raise ValueError("in_channels: at least one tapped layer is needed")
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(channels, num_units), nn.ReLU(), nn.Linear(num_units, num_units))
            for channels in in_channels
        )

    def forward(self, features: Sequence[Tensor], patch_ids: Sequence[Tensor]) -> list[Tensor]:
        """Project the features at `patch_ids`.

        Args:
            features: Per layer, (N, C_i, H_i, W_i) features.
            patch_ids: Per layer, (P_i,) indices into the flattened H_i * W_i grid (`sample_patch_ids`).

        Returns:
            Per layer, (N, P_i, num_units) float32 projections of unit L2 norm.
        """
        if len(features) != len(self.heads) or len(patch_ids) != len(self.heads):
            raise ValueError(f"PatchSampler has {len(self.heads)} heads, got {len(features)} feature maps and "
                             f"{len(patch_ids)} id lists")
        projected = []
        for head, feature, ids in zip(self.heads, features, patch_ids):
            patches = feature.flatten(2).transpose(1, 2)[:, ids]  # (N, P, C)
            projected.append(l2_normalize(head(patches)))
        return projected


def patch_nce_loss(queries: Tensor, keys: Tensor, *, temperature: float = 0.07, negatives: str = "image") -> Tensor:
    """InfoNCE between each query patch and the key patch at the same position (CUT's `PatchNCELoss`, mean).

    Args:
        queries: (N, P, D) L2-normalised projections of the translated image's patches.
        keys: (N, P, D) projections of the source image's patches at the same positions; detached here.
        temperature: Softmax temperature (CUT's `nce_T`, 0.07).
        negatives: "image" (the other positions of the same image, CUT's default) or "batch" (the other positions
            of every image in the batch, CUT's `nce_includes_all_negatives_from_minibatch`).

    Returns:
        The cross-entropy averaged over the N * P queries (a float32 scalar).
    """
    if negatives not in NEGATIVES:
        raise ValueError(f"negatives: unknown '{negatives}'; valid: {', '.join(NEGATIVES)}")
    if queries.shape != keys.shape or queries.dim() != 3:
        raise ValueError(f"queries and keys must both be (N, P, D), got {tuple(queries.shape)} and {tuple(keys.shape)}")
    keys = keys.detach()
    dim = queries.shape[-1]
    positive = (queries * keys).sum(-1).reshape(-1, 1)
    if negatives == "batch":
        queries, keys = queries.reshape(1, -1, dim), keys.reshape(1, -1, dim)
    similarities = torch.bmm(queries, keys.transpose(1, 2))  # (B', P', P')
    # The diagonal pairs a query with its own key, the positive: exp(-10 / T) removes it from the negatives.
    own = torch.eye(similarities.shape[-1], dtype=torch.bool, device=similarities.device)
    negative = similarities.masked_fill(own, -10.0).reshape(-1, similarities.shape[-1])
    logits = torch.cat([positive, negative], dim=1) / temperature
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits.float(), target)
