"""PNG, JPEG, BMP and TGA through Pillow: one plugin class per format, never Pillow's open-anything sniffing."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import BmpImagePlugin, Image, ImageFile, JpegImagePlugin, PngImagePlugin, TgaImagePlugin

from ai.textures.base import DecodeRequest, Texture, TextureInfo, reduce_rgba, reduction_factor

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
                pixels = np.asarray(_pillow_rgba(image))
                factor = reduction_factor(pixels.shape[1], pixels.shape[0], req.min_size)
                if factor > 1:
                    pixels = reduce_rgba(pixels, factor)
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


PILLOW_PNG = PillowDecoder("PNG", (".png",), (b"\x89PNG\r\n\x1a\n",), PngImagePlugin.PngImageFile)
PILLOW_DECODERS = (
    PILLOW_PNG,
    PillowDecoder("JPEG", (".jpg", ".jpeg"), (b"\xff\xd8\xff",), JpegImagePlugin.JpegImageFile),
    PillowDecoder("BMP", (".bmp",), (b"BM",), BmpImagePlugin.BmpImageFile),
    PillowDecoder("TGA", (".tga",), (), TgaImagePlugin.TgaImageFile),  # no magic: chosen by extension
)
