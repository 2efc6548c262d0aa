"""PNG, JPEG, BMP and TGA through Pillow: one plugin class per format, never Pillow's open-anything sniffing."""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import BmpImagePlugin, Image, ImageFile, JpegImagePlugin, PngImagePlugin, TgaImagePlugin

from ai.textures.base import (
    DecodeRequest,
    Texture,
    TextureInfo,
    is_opaque,
    reduce_rgba,
    reduction_factor,
    rgba_array,
)
from ai.textures.hashing import PixelHasher

# Pillow's format plugins raise many exception types on hostile input; each means "cannot decode".
# The bomb guards belong to Image.open, which we bypass; they stay listed in case a plugin adopts them.
_BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)


_PILLOW_ERRORS = (OSError, ValueError, SyntaxError, struct.error, EOFError, IndexError, KeyError, TypeError,
                  ZeroDivisionError, *_BOMB_ERRORS)  # fmt: skip


_MODE_BITS = {"1": 1, "L": 8, "P": 8, "LA": 16, "PA": 16, "RGB": 24, "RGBA": 32, "CMYK": 32, "YCbCr": 24}


_MODE_NAMES = {"1": "L1", "I;16": "L16", "I;16B": "L16", "I;16L": "L16", "I": "L32", "F": "F32"}


_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I", "F")


# Stored modes without alpha, held as RGBX (JPEG, 24-bit TGA and BMP, grey).
_OPAQUE_MODES = ("RGB", "L")


# Pillow's own storage per pixel: 1 byte for L/P/1, 2 for I;16, 4 for everything else.
def _stored_bytes(mode: str, width: int, height: int) -> int:
    per_pixel = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    return width * height * per_pixel


# The stored picture is converted (and reduced) in bands of rows of about this many pixels, so no
# full-size RGBA copy exists unless full size is what the caller gets.
_BAND_PIXELS = 1 << 22


def _grey_words(grey: np.ndarray) -> np.ndarray:
    """uint8 grey levels → opaque RGBA texels as little-endian 32-bit words."""
    return grey.astype("<u4") * 0x010101 | 0xFF000000


@functools.cache
def _rgba_of_16bit() -> np.ndarray:
    """Each 16-bit grey value → its opaque RGBA texel, grey = round(v / 257) (a 256 KB table)."""
    return _grey_words(_wide_to_grey(np.arange(65536, dtype=np.int64)))


def _wide_to_grey(values: np.ndarray) -> np.ndarray:
    # round(v / 257) in integers: the same result as v / 257 + 0.5 in floats, for every value.
    return np.clip((values.astype(np.int64) * 2 + 257) // 514, 0, 255).astype(np.uint8)


def _band_rgba(band: Image.Image) -> np.ndarray:
    """A band of the stored picture → HxWx4 uint8 RGBA."""
    if band.mode in _WIDE_MODES:
        # 16-bit grey PNGs: Pillow's own conversion to 8 bits clips instead of scaling.
        wide = np.asarray(band)
        if band.mode.startswith("I;16"):
            words = _rgba_of_16bit()[wide]
        elif band.mode == "F":
            words = _grey_words(np.clip(wide + 0.5, 0, 255).astype(np.uint8))
        else:
            words = _grey_words(_wide_to_grey(wide))
        return words.view(np.uint8).reshape(*wide.shape, 4)
    return np.asarray(band if band.mode == "RGBA" else band.convert("RGBA"))


def _convert(image: Image.Image, factor: int, hasher: PixelHasher | None) -> np.ndarray:
    """The loaded picture → RGBA reduced by `factor`, band by band (hashing each full-size band)."""
    width, height = image.size
    rows = _band_rows(width, height, factor)
    if rows >= height:  # one band: the picture itself, converted and reduced by Pillow
        if image.mode in _WIDE_MODES:
            rgba = _band_rgba(image)
            if hasher is not None:
                hasher.update(rgba)
            return reduce_rgba(rgba, factor) if factor > 1 else rgba
        # A picture without alpha is held as RGBX (its fourth band 255, as RGBA's would be), so Pillow
        # does not premultiply and unpremultiply the full-size picture around the reduce.
        opaque = image.mode in _OPAQUE_MODES and "transparency" not in image.info
        picture = image if image.mode == "RGBA" else image.convert("RGBX" if opaque else "RGBA")
        full = np.asarray(picture) if hasher is not None or factor == 1 else None
        if hasher is not None:
            hasher.update(full)
        return full if factor == 1 else rgba_array(picture.reduce(factor))
    out = np.empty((-(-height // factor), -(-width // factor), 4), np.uint8)
    # Bands are whole multiples of the factor, so each reduction box lies in one band and the
    # result is the same as reducing the whole picture at once.
    for top in range(0, height, rows):
        band = _band_rgba(image.crop((0, top, width, min(height, top + rows))))
        if hasher is not None:
            hasher.update(band)
        if factor > 1:
            band = reduce_rgba(band, factor)
        out[top // factor : top // factor + band.shape[0]] = band
    return out


def _band_rows(width: int, height: int, factor: int) -> int:
    return min(height, max(factor, _BAND_PIXELS // max(width, 1) // factor * factor))


@dataclass(frozen=True)
class PillowDecoder:
    """PNG, JPEG, BMP and TGA through the one Pillow plugin class the file was routed to.

    Opening with the plugin class (what Image.open does after sniffing) keeps Pillow from trying other
    formats and leaves size policy to DecodeRequest.check_pixels: Pillow's MAX_IMAGE_PIXELS guard lives
    in Image.open and is not involved, so one configurable limit applies to every format. Pillow
    holds the stored picture whole (PNG cannot be decoded in parts); the RGBA conversion and the
    reduction run in bands, and the memory of all of it is reserved before the picture is loaded.
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
                if req.min_size and not req.hash_pixels and self.FORMAT == "JPEG":
                    image.draft(None, (req.min_size, req.min_size))  # DCT scaling, never below the ask
                w, h = image.size
                factor = reduction_factor(w, h, req.min_size)
                out_bytes = -(-w // factor) * -(-h // factor) * 4
                band_bytes = _band_rows(w, h, factor) * w * 12  # a band: its crop, RGBA and array copies
                req.reserve(_stored_bytes(image.mode, w, h) + out_bytes + band_bytes)
                image.load()
                hasher = PixelHasher((image.size[1], image.size[0], 4)) if req.hash_pixels else None
                pixels = _convert(image, factor, hasher)
        except _PILLOW_ERRORS as exc:
            message = str(exc) or type(exc).__name__
            if isinstance(exc, _BOMB_ERRORS):
                raise req.error(f"too many pixels: {message}") from exc
            kind = "truncated" if "truncat" in message.lower() else "cannot decode"
            raise req.error(f"{kind} {self.FORMAT}: {message}") from exc
        has_alpha = maybe_alpha and not is_opaque(pixels)
        name = _MODE_NAMES.get(mode, f"{mode}8")
        bits = _MODE_BITS.get(mode, 16 if mode.startswith("I;16") else 32)
        info = TextureInfo(self.FORMAT, width, height, name, has_alpha, 1, bits)
        return Texture(pixels, info, hasher.hexdigest() if hasher is not None else None)


PILLOW_PNG = PillowDecoder("PNG", (".png",), (b"\x89PNG\r\n\x1a\n",), PngImagePlugin.PngImageFile)
PILLOW_DECODERS = (
    PILLOW_PNG,
    PillowDecoder("JPEG", (".jpg", ".jpeg"), (b"\xff\xd8\xff",), JpegImagePlugin.JpegImageFile),
    PillowDecoder("BMP", (".bmp",), (b"BM",), BmpImagePlugin.BmpImageFile),
    PillowDecoder("TGA", (".tga",), (), TgaImagePlugin.TgaImageFile),  # no magic: chosen by extension
)
