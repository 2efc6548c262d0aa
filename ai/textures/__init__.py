"""Textures: decode any supported file to RGBA pixels, prepare them for a model, and hash them.

`load_texture` (ai.textures.loader) is the front door; the format modules (dds, tim2, pillow)
share ai.textures.base and the loader registers them. preprocess turns pixels into model
tensors, hashing and phash give a texture's identity, and synth/synth_dds write synthetic files
of every format for tests and the benchmark.
This package imports nothing else of ai/ but ai.errors.
"""

from ai.textures.base import (
    DecodeRequest,
    Texture,
    TextureInfo,
    palette_lookup,
    pick_mip_level,
    reduction_factor,
)
from ai.textures.loader import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED_EXTENSIONS,
    is_texture_path,
    load_texture,
    load_texture_bytes,
)
from ai.textures.memory import DECODE_BUDGET, DEFAULT_MAX_DECODE_BYTES, DecodeBudget, decode_memory

__all__ = [
    "DECODE_BUDGET",
    "DEFAULT_MAX_DECODE_BYTES",
    "DecodeBudget",
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_EXTENSIONS",
    "DecodeRequest",
    "Texture",
    "TextureInfo",
    "decode_memory",
    "is_texture_path",
    "load_texture",
    "load_texture_bytes",
    "palette_lookup",
    "pick_mip_level",
    "reduction_factor",
]
