"""PNG through libpng (imagecodecs): the same pixels as Pillow, about twice as fast, GIL released.

PNG is most of the decode time of a typical dump (86 % of it on the bench's mixed set). Pillow
inflates and unfilters in its own C loop; imagecodecs' `png_decode` is libpng with zlib and
releases the GIL while it works, so the pipeline's workers and the GUI thread are not held up.
The declared size is checked from IHDR before anything is decoded. 16-bit PNGs, files libpng
refuses, Adam7-interlaced files and installs without imagecodecs go to Pillow's decoder (the fallback), so every file
decodes as it did with Pillow alone, with the same messages.
"""

from __future__ import annotations

import contextlib
import struct
from typing import BinaryIO

import numpy as np

from ai.switches import switched
from ai.textures.base import DecodeRequest, Texture, TextureInfo, is_opaque, reduction_factor
from ai.textures.pillow import PILLOW_PNG

try:
    from imagecodecs import png_decode
except ImportError:  # an install without imagecodecs: Pillow decodes PNG
    png_decode = None

FORMAT = "PNG"
EXTENSIONS = (".png",)
_MAGIC = b"\x89PNG\r\n\x1a\n"
_IHDR = struct.Struct(">I4sIIBBBBB")  # length, b"IHDR", width, height, depth, colour, compression, filter, interlace
# PNG colour type → (Pillow's mode name, bits per texel at 8 bits per sample), as the Pillow path reports them.
_COLOUR_TYPES = {0: ("L8", 8), 2: ("RGB8", 24), 3: ("P8", 8), 4: ("LA8", 16), 6: ("RGBA8", 32)}
_enabled = png_decode is not None


def available() -> bool:
    """True when PNGs are decoded by libpng (imagecodecs is installed and not switched off)."""
    return _enabled


def pillow_only() -> contextlib.AbstractContextManager[None]:
    """Decode PNG with Pillow inside this block (the benchmark's old decoder, tests; ai.switches)."""
    return switched(globals(), "_enabled", False)


def accept(prefix: bytes) -> bool:
    return _enabled and prefix.startswith(_MAGIC)


def _to_rgba(decoded: np.ndarray) -> np.ndarray:
    if decoded.ndim == 2:
        decoded = decoded[:, :, None]
    channels = decoded.shape[2]
    if channels == 4:
        return decoded
    rgba = np.empty((*decoded.shape[:2], 4), np.uint8)
    if channels in (1, 2):  # grey, grey + alpha
        rgba[:, :, :3] = decoded[:, :, :1]
    else:
        rgba[:, :, :3] = decoded
    rgba[:, :, 3] = decoded[:, :, 1] if channels == 2 else 255
    return rgba


def _pillow(fp: BinaryIO, req: DecodeRequest) -> Texture:
    fp.seek(0)
    return PILLOW_PNG.decode(fp, req)


def decode(fp: BinaryIO, req: DecodeRequest) -> Texture:
    if req.file_size > req.max_bytes // 4:
        return _pillow(fp, req)  # Pillow streams a file this large; libpng would want it whole
    data = fp.read()
    try:
        _, tag, width, height, depth, colour, _, _, interlace = _IHDR.unpack_from(data, len(_MAGIC))
    except struct.error:
        tag = b""
    if tag != b"IHDR" or colour not in _COLOUR_TYPES or depth == 16 or interlace or not width or not height:
        # 16-bit, Adam7 (imagecodecs' libpng reads it but prints a warning on stdout) and malformed
        # headers: Pillow's handling and messages.
        return _pillow(fp, req)
    req.check_pixels(width, height)
    factor = reduction_factor(width, height, req.min_size)
    reduced = -(-width // factor) * -(-height // factor) * 4 if factor > 1 else 0
    # At once: the file, libpng's output (up to 4 bytes a pixel), its RGBA expansion, the reduction.
    req.reserve(len(data) + 8 * width * height + reduced)
    try:
        decoded = png_decode(data)
    except Exception:  # imagecodecs.PngError and friends: let Pillow decode it or name the reason
        decoded = None
    if decoded is None or decoded.dtype != np.uint8 or decoded.shape[:2] != (height, width):
        req.hold.release()
        return _pillow(fp, req)
    pixels = _to_rgba(decoded)  # reduced for req.min_size, and hashed, by the loader
    del decoded
    name, bits = ("L1", 1) if colour == 0 and depth == 1 else _COLOUR_TYPES[colour]
    has_alpha = not is_opaque(pixels)
    return Texture(pixels, TextureInfo(FORMAT, width, height, name, has_alpha, 1, bits))
