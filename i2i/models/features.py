"""Feature taps: a generator's intermediate activations by layer index (CUT's PatchNCE; later feature losses).

A generator that supports taps lists its computation as a flat sequence of layers (:meth:`FeatureTaps.tap_layers`)
numbered as the reference's ``nn.Sequential`` of the same architecture, so that published layer ids carry over
(CUT's ``nce_layers`` 0, 4, 8, 12, 16 on its ResNet generator). :class:`FeatureTaps` then provides:

- ``forward_features(x, layers)``: the outputs of the requested layers, in the requested order; the computation stops
  after the deepest requested layer (encoder only). Request the last layer (``-1``) to get the translated image too.
- ``feature_channels(layers)``: the channels of those outputs, known without running the network, so that heads on
  the features (CUT's projection MLPs) are built before optimisers, checkpoints and DDP see them.
- ``forward(x, layers=...)`` delegates to ``forward_features`` so that wrappers which only call ``forward``
  (DistributedDataParallel, ``torch.compile``) can reach the taps.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

from torch import Tensor, nn


class TapLayer(NamedTuple):
    """One layer of the flat sequence: what it computes and how many channels its output has."""

    fn: Callable[[Tensor], Tensor]
    channels: int


class FeatureTaps:
    """Mixin for networks that expose :meth:`tap_layers`; see the module docstring for the contract."""

    def tap_layers(self) -> list[TapLayer]:
        """The network as a flat sequence of layers whose composition equals ``forward``."""
        raise NotImplementedError

    @property
    def num_feature_layers(self) -> int:
        """Number of layers in :meth:`tap_layers`; valid tap indices are 0 .. num_feature_layers - 1 (or -1)."""
        return len(self.tap_layers())

    def tap_indices(self, layers: Sequence[int]) -> list[int]:
        """Check `layers` and return them with negative indices (from the end) made non-negative.

        Raises:
            ValueError: An empty list, a repeated index, or an index past the last layer; the message says the range.
        """
        count = self.num_feature_layers
        name = type(self).__name__
        if len(layers) == 0:
            raise ValueError(f"layers: no layer requested; {name} has layers 0..{count - 1}")
        resolved = []
        for index in layers:
            if not -count <= index < count:
                raise ValueError(f"layers: {index} is past the last layer of {name} (valid: 0..{count - 1}, or -1)")
            resolved.append(index % count)
        if len(set(resolved)) != len(resolved):
            raise ValueError(f"layers: {list(layers)} names a layer twice")
        return resolved

    def feature_channels(self, layers: Sequence[int]) -> list[int]:
        """Channels of the tapped outputs of `layers` (same order), without running the network."""
        tap_layers = self.tap_layers()
        return [tap_layers[index].channels for index in self.tap_indices(layers)]

    def forward_features(self, x: Tensor, layers: Sequence[int]) -> list[Tensor]:
        """Outputs of `layers` for input `x`, in the order of `layers`; stops after the deepest requested layer.

        Args:
            x: The network's input, e.g. (N, C, H, W) images in [-1, 1].
            layers: Indices into :meth:`tap_layers`; -1 is the last layer (the network's output).

        Returns:
            One (N, C_i, H_i, W_i) tensor per requested layer.
        """
        indices = self.tap_indices(layers)
        wanted = {index: position for position, index in enumerate(indices)}
        taps: list[Tensor | None] = [None] * len(indices)
        h = x
        for index, layer in enumerate(self.tap_layers()[: max(indices) + 1]):
            if getattr(layer.fn, "inplace", False) and any(h is tap for tap in taps):
                h = h.clone()  # An in-place activation must not overwrite a tapped output.
            h = layer.fn(h)
            if index in wanted:
                taps[wanted[index]] = h
        return taps  # type: ignore[return-value]


def supports_feature_taps(net: nn.Module) -> bool:
    """Whether `net` implements the :class:`FeatureTaps` contract."""
    return isinstance(net, FeatureTaps)
