"""Texture decoding front door: any supported file → RGBA uint8 pixels plus what the file declared.

Decoders are small registered modules in the Pillow style: each has FORMAT, EXTENSIONS, accept(prefix)
and decode(fp, request). The decoder is chosen by magic bytes first and by extension second, so a
misnamed PNG still decodes and a TGA (which has no magic) is found by its name. Every failure is a
TextureError naming the file and a short reason; declared sizes are checked before anything is
allocated (DEFAULT_MAX_PIXELS allows 8192² textures).
"""

from __future__ import annotations

import functools
import importlib
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
from PIL import BmpImagePlugin, Image, ImageFile, JpegImagePlugin, PngImagePlugin, TgaImagePlugin

from ai.errors import TextureError

DEFAULT_MAX_PIXELS = 8192 * 8192
SUPPORTED_EXTENSIONS = frozenset({".dds", ".png", ".tga", ".bmp", ".jpg", ".jpeg", ".tm2", ".tim2"})
_PREFIX_BYTES = 16


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
    """Decoded pixels (HxWx4 uint8 RGBA, C-contiguous, read-only) and the file's TextureInfo."""

    pixels: np.ndarray
    info: TextureInfo


@dataclass(frozen=True)
class DecodeRequest:
    """One decode job as the format modules see it."""

    path: str
    file_size: int
    max_pixels: int
    min_size: int | None

    def error(self, reason: str) -> TextureError:
        return TextureError(self.path, reason)

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


def palette_lookup(palette: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """N×4 uint8 palette indexed by an array → (*indices.shape, 4), as one 32-bit take per texel."""
    words = np.ascontiguousarray(palette, np.uint8).view("<u4").ravel()
    return words.take(indices).view(np.uint8).reshape(*indices.shape, 4)


# --- Pillow-backed formats -------------------------------------------------------------------

# Pillow's format plugins raise many exception types on hostile input; each means "cannot decode".
# The bomb guards belong to Image.open, which we bypass; they stay listed in case a plugin adopts them.
_BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
_PILLOW_ERRORS = (OSError, ValueError, SyntaxError, struct.error, EOFError, IndexError, KeyError, TypeError,
                  ZeroDivisionError, *_BOMB_ERRORS)  # fmt: skip
_MODE_BITS = {"1": 1, "L": 8, "P": 8, "LA": 16, "PA": 16, "RGB": 24, "RGBA": 32, "CMYK": 32, "YCbCr": 24}
_MODE_NAMES = {"1": "L1", "I;16": "L16", "I;16B": "L16", "I;16L": "L16", "I": "L32", "F": "F32"}
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I", "F")


def _pillow_rgba(image: ImageFile.ImageFile | Image.Image) -> Image.Image:
    if image.mode in _WIDE_MODES:
        # 16-bit grey PNGs: Pillow's own conversion to 8 bits clips instead of scaling.
        wide = np.asarray(image, dtype=np.float64)
        scale = 1.0 if image.mode == "F" else 1.0 / 257.0
        image = Image.fromarray(np.clip(wide * scale + 0.5, 0, 255).astype(np.uint8), "L")
    return image if image.mode == "RGBA" else image.convert("RGBA")


@dataclass(frozen=True)
class PillowDecoder:
    """PNG, JPEG, BMP and TGA through the one Pillow plugin class the file was routed to.

    Opening with the plugin class (what Image.open does after sniffing) keeps Pillow from trying other
    formats and leaves size policy to DecodeRequest.check_pixels: Pillow's MAX_IMAGE_PIXELS guard lives
    in Image.open and is not involved, so one configurable limit applies to every format.
    """

    FORMAT: str
    EXTENSIONS: tuple[str, ...]
    magics: tuple[bytes, ...]
    plugin: type[ImageFile.ImageFile]

    def accept(self, prefix: bytes) -> bool:
        return any(prefix.startswith(m) for m in self.magics)

    def decode(self, fp: BinaryIO, req: DecodeRequest) -> Texture:
        try:
            with self.plugin(fp) as image:
                width, height = image.size
                req.check_pixels(width, height)
                mode = image.mode
                maybe_alpha = "A" in image.getbands() or "transparency" in image.info
                if req.min_size and self.FORMAT == "JPEG":
                    image.draft(None, (req.min_size, req.min_size))  # DCT scaling, never below the ask
                image.load()
                rgba = _pillow_rgba(image)
                factor = reduction_factor(rgba.width, rgba.height, req.min_size)
                if factor > 1:
                    rgba = rgba.reduce(factor)
                pixels = np.asarray(rgba)
        except _PILLOW_ERRORS as exc:
            message = str(exc) or type(exc).__name__
            if isinstance(exc, _BOMB_ERRORS):
                raise req.error(f"too many pixels: {message}") from exc
            kind = "truncated" if "truncat" in message.lower() else "cannot decode"
            raise req.error(f"{kind} {self.FORMAT}: {message}") from exc
        has_alpha = maybe_alpha and bool(pixels[..., 3].min() < 255)
        name = _MODE_NAMES.get(mode, f"{mode}8")
        bits = _MODE_BITS.get(mode, 16 if mode.startswith("I;16") else 32)
        return Texture(pixels, TextureInfo(self.FORMAT, width, height, name, has_alpha, 1, bits))


_PILLOW_DECODERS = (
    PillowDecoder("PNG", (".png",), (b"\x89PNG\r\n\x1a\n",), PngImagePlugin.PngImageFile),
    PillowDecoder("JPEG", (".jpg", ".jpeg"), (b"\xff\xd8\xff",), JpegImagePlugin.JpegImageFile),
    PillowDecoder("BMP", (".bmp",), (b"BM",), BmpImagePlugin.BmpImageFile),
    PillowDecoder("TGA", (".tga",), (), TgaImagePlugin.TgaImageFile),  # no magic: chosen by extension
)
_DECODER_MODULES = ("ai.textures.dds", "ai.textures.tim2")


@functools.cache
def decoders() -> tuple[Decoder, ...]:
    """The registered decoders; the format modules import this one, so they are loaded on first use."""
    modules = tuple(importlib.import_module(name) for name in _DECODER_MODULES)
    return modules + _PILLOW_DECODERS


def _choose(prefix: bytes, suffix: str) -> Decoder | None:
    registered = decoders()
    for decoder in registered:
        if decoder.accept(prefix):
            return decoder
    for decoder in registered:
        if suffix in decoder.EXTENSIONS:
            return decoder
    return None


def is_texture_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in SUPPORTED_EXTENSIONS


def load_texture(
    path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS, min_size: int | None = None
) -> Texture:
    """Decode a texture file to RGBA uint8.

    min_size is a hint from a caller that will downscale to min_size×min_size: the result may then be
    smaller than the stored image (JPEG DCT scaling, a box reduction, or a smaller DDS mip level), but
    both sides stay ≥ min_size, or at the stored size when that is smaller. Raises TextureError.
    """
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if min_size is not None and min_size < 1:
        raise ValueError(f"min_size must be positive, got {min_size}")
    name = os.fspath(path)
    try:
        mode = os.stat(name).st_mode
    except (OSError, ValueError) as exc:  # ValueError: a name with a NUL byte
        raise TextureError(name, f"cannot read file: {getattr(exc, 'strerror', None) or exc}") from exc
    if not stat.S_ISREG(mode):  # a FIFO or device would block or never end
        raise TextureError(name, "not a regular file")
    try:
        with open(name, "rb") as fp:
            file_size = os.fstat(fp.fileno()).st_size
            if file_size == 0:
                raise TextureError(name, "empty file")
            prefix = fp.read(_PREFIX_BYTES)
            decoder = _choose(prefix, Path(name).suffix.lower())
            if decoder is None:
                raise TextureError(name, "not a supported texture format")
            fp.seek(0)
            texture = decoder.decode(fp, DecodeRequest(name, file_size, max_pixels, min_size))
    except OSError as exc:
        raise TextureError(name, f"cannot read file: {exc.strerror or exc}") from exc
    except MemoryError as exc:
        raise TextureError(name, "not enough memory to decode") from exc
    pixels = np.ascontiguousarray(texture.pixels, dtype=np.uint8)
    pixels.flags.writeable = False
    return Texture(pixels, texture.info)
