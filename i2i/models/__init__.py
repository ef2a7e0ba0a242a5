"""Networks: generators, discriminators, their registries and builders, init, and reference-checkpoint import."""
from __future__ import annotations

from i2i.models._builder import DISCRIMINATORS, GENERATORS, build_discriminator, build_generator
from i2i.models.discriminators import (MultiscaleDiscriminator, NLayerDiscriminator, PatchDiscriminator,
                                      PixelDiscriminator)
from i2i.models.features import FeatureTaps, TapLayer, supports_feature_taps
from i2i.models.generators import ResnetBlock, ResnetGenerator, UnetGenerator, UnetLevel, UpsampleBlock
from i2i.models.init import INIT_SCHEMES, init_weights
from i2i.models.layers import ConvNormAct, Downsample, Upsample, get_activation, get_norm_layer
from i2i.models.reference import (
    discriminator_from_reference_state_dict,
    generator_from_reference_file,
    generator_from_reference_state_dict,
    load_reference_file,
    patch_sampler_from_cut_state_dict,
)

__all__ = [
    "DISCRIMINATORS",
    "GENERATORS",
    "INIT_SCHEMES",
    "ConvNormAct",
    "Downsample",
    "FeatureTaps",
    "MultiscaleDiscriminator",
    "NLayerDiscriminator",
    "PatchDiscriminator",
    "PixelDiscriminator",
    "ResnetBlock",
    "ResnetGenerator",
    "TapLayer",
    "UnetGenerator",
    "UnetLevel",
    "Upsample",
    "UpsampleBlock",
    "build_discriminator",
    "build_generator",
    "discriminator_from_reference_state_dict",
    "generator_from_reference_file",
    "generator_from_reference_state_dict",
    "get_activation",
    "get_norm_layer",
    "init_weights",
    "load_reference_file",
    "patch_sampler_from_cut_state_dict",
    "supports_feature_taps",
]
