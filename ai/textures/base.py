"""What every texture decoder shares: the decoded Texture, what the file declared, one decode request, and mip/reduction helpers."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

import numpy as np
from PIL import Image

from ai.errors import TextureError
from ai.textures.memory import DECODE_BUDGET, DEFAULT_MAX_DECODE_BYTES, MemoryHold


@dataclass(frozen=True)
class TextureInfo:
    """What the file declares. width/height are the stored top level, even when a smaller level or a
    reduced decode was returned; bit_depth is bits per texel as stored (4 for BC1, 32 for RGBA8)."""

    format: str  # "DDS", "PNG", "TGA", "BMP", "JPEG", "TIM2"
    width: int
    height: int
    pixel_format: str  # e.g. "BC1", "BC7_SRGB", "B8G8R8A8", "RGBA8", "P8", "PSMT8/CLUT32"
    has_alpha: bool  # some decoded texel has alpha < 255
    mip_count: int
    bit_depth: int


@dataclass(frozen=True, eq=False)  # arrays do not compare to a single bool
class Texture:
    """Decoded pixels (HxWx4 uint8 RGBA, C-contiguous, read-only) and the file's TextureInfo.

    pixel_hash, when asked for, is hashing.pixel_hash of the full first mip level, even when the
    pixels returned are reduced.
    """

    pixels: np.ndarray
    info: TextureInfo
    pixel_hash: str | None = None


@dataclass(frozen=True)
class DecodeRequest:
    """One decode job as the format modules see it."""

    path: str
    file_size: int
    max_pixels: int
    min_size: int | None
    max_bytes: int = DEFAULT_MAX_DECODE_BYTES
    hash_pixels: bool = False  # the full first mip must be seen (hashed), even if reduced after
    hold: MemoryHold = field(default_factory=lambda: MemoryHold(DECODE_BUDGET))

    def error(self, reason: str) -> TextureError:
        return TextureError(self.path, reason)

    def reserve(self, nbytes: int) -> None:
        """Before allocating: refuse a decode over the byte cap, else wait for its share of the budget.

        Each decoder calls this once, with all it will hold at once (stored data, full-size
        decode, the array returned); the loader releases it when the decode is done.
        """
        if nbytes > self.max_bytes:
            raise self.error(
                f"too much memory to decode: {nbytes / 1e6:,.0f} MB is over the limit of "
                f"{self.max_bytes / 1e6:,.0f} MB"
            )
        self.hold.reserve(nbytes)

    def check_pixels(self, width: int, height: int) -> None:
        """Refuse a declared size over the pixel limit before anything is allocated for it."""
        if width * height > self.max_pixels:
            raise self.error(
                f"too many pixels: {width:,}×{height:,} is over the limit of {self.max_pixels:,}"
            )


class Decoder(Protocol):
    FORMAT: str
    EXTENSIONS: tuple[str, ...]

    def accept(self, prefix: bytes) -> bool: ...

    def decode(self, fp: BinaryIO, req: DecodeRequest) -> Texture: ...


def pick_mip_level(width: int, height: int, mip_count: int, min_size: int | None) -> int:
    """The smallest stored mip level whose sides are both ≥ min_size (or the full side if smaller)."""
    if not min_size:
        return 0
    need_w, need_h = min(min_size, width), min(min_size, height)
    level = 0
    while level + 1 < mip_count and width >> (level + 1) >= need_w and height >> (level + 1) >= need_h:
        level += 1
    return level


def reduction_factor(width: int, height: int, min_size: int | None) -> int:
    """The largest integer box-reduction keeping both sides ≥ min_size (or the full side if smaller)."""
    if not min_size:
        return 1
    return max(1, min(width // min(min_size, width), height // min(min_size, height)))


# In a C-contiguous RGBA array read as 32-bit texels, alpha is the most significant byte here.
_ALPHA_HIGH_BYTE = sys.byteorder == "little"


def is_opaque(rgba: np.ndarray) -> bool:
    """True when every texel of an RGBA uint8 HxWx4 array has alpha 255.

    Read as one 32-bit word per texel, "alpha is 255 everywhere" is "the smallest word is at least
    0xFF000000": one contiguous pass instead of a strided one over every fourth byte (~10× fewer
    instructions; every decode and every resize of every file asks it).
    """
    if _ALPHA_HIGH_BYTE and rgba.flags.c_contiguous and rgba.size:
        return int(rgba.view(np.uint32).min()) >= 0xFF000000
    return bool(rgba[:, :, 3].min() == 255)


def pillow_image(rgba: np.ndarray) -> Image.Image:
    """An RGBA uint8 HxWx4 array as a Pillow image without a copy: mode RGBX when every texel is
    opaque, RGBA otherwise. Pillow premultiplies RGBA around a resize or reduce, the identity for
    opaque texels, so RGBX gives the same pixels without those two passes."""
    data = np.ascontiguousarray(rgba)
    mode = "RGBX" if is_opaque(data) else "RGBA"
    return Image.frombuffer(mode, (data.shape[1], data.shape[0]), data, "raw", mode, 0, 1)


def rgba_array(image: Image.Image) -> np.ndarray:
    """A Pillow RGBX, RGBa (premultiplied) or RGBA image → uint8 HxWx4 RGBA; RGBX's fourth band
    is set to 255."""
    if image.mode == "RGBX":
        out = np.array(image)
        out[:, :, 3] = 255
        return out
    return np.asarray(image.convert("RGBA") if image.mode == "RGBa" else image)


def reduce_rgba(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Box-reduce RGBA uint8 by an integer factor, as Pillow's `Image.reduce` does (premultiplied)."""
    return rgba_array(pillow_image(pixels).reduce(factor))


def palette_lookup(palette: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """N×4 uint8 palette indexed by an array → (*indices.shape, 4), as one 32-bit take per texel."""
    words = np.ascontiguousarray(palette, np.uint8).view("<u4").ravel()
    return words.take(indices).view(np.uint8).reshape(*indices.shape, 4)
