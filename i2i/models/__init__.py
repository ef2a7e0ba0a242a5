"""Networks: generators, discriminators, their registries and builders, init, and reference-checkpoint import."""
from __future__ import annotations

from i2i.models._builder import DISCRIMINATORS, GENERATORS, build_discriminator, build_generator
from i2i.models.discriminators import (MultiscaleDiscriminator, NLayerDiscriminator, PatchDiscriminator,
                                      PixelDiscriminator)
from i2i.models.generators import ResnetBlock, ResnetGenerator, UnetGenerator, UnetLevel, UpsampleBlock
from i2i.models.init import INIT_SCHEMES, init_weights
from i2i.models.layers import ConvNormAct, get_activation, get_norm_layer
from i2i.models.reference import (
    discriminator_from_reference_state_dict,
    generator_from_reference_file,
    generator_from_reference_state_dict,
    load_reference_file,
)

__all__ = [
    "DISCRIMINATORS",
    "GENERATORS",
    "INIT_SCHEMES",
    "ConvNormAct",
    "MultiscaleDiscriminator",
    "NLayerDiscriminator",
    "PatchDiscriminator",
    "PixelDiscriminator",
    "ResnetBlock",
    "ResnetGenerator",
    "UnetGenerator",
    "UnetLevel",
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
]
