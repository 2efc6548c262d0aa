"""PS2 TIM2 (.tm2/.tim2) decoding: first picture, first mip level, to RGBA.

Layout: a 16-byte file header ("TIM2", version, FormatId, picture count; FormatId 1 pads it to 128
bytes), then per picture a header of HeaderSize bytes (48 fixed bytes, then optional mipmap and
extended headers, which we skip), the image data (ImageSize bytes, all mip levels) and the CLUT.

Colour conventions, from the GS:
- 32-bit texels and CLUT entries store alpha 0x80 as opaque: alpha is doubled and clamped to 255.
- 16-bit texels and CLUT entries are A1B5G5R5 (red in the low bits); the STP bit set means opaque
  (255), clear means transparent (0) — the usual TEXA setting (TA0 = 0, TA1 = 0x80).
- The blend state that decides whether alpha is used lives outside the file, so a picture whose alpha
  is 0 everywhere is taken not to use alpha and decodes opaque.
- 8-bit CLUTs in CSM1 order (ClutType bit 0x80 clear) have entries 8–15 and 16–23 of every 32 swapped;
  CSM2 CLUTs are linear. 4-bit indices are packed low nibble first.
"""

from __future__ import annotations

import functools
import logging
import struct
from typing import BinaryIO

import numpy as np

from ai.textures.base import DecodeRequest, Texture, TextureInfo, is_opaque, palette_lookup

log = logging.getLogger(__name__)

FORMAT = "TIM2"
EXTENSIONS = (".tm2", ".tim2")
_MAGIC = b"TIM2"
_FILE_HEADER = struct.Struct("<4sBBH8x")
_PICTURE_HEADER = struct.Struct("<IIIHHBBBBHH")  # the first 24 of 48 bytes; GS registers follow
_PICTURE_HEADER_BYTES = 48
_CLUT_CSM2 = 0x80
_IMAGE_BITS = {1: 16, 2: 24, 3: 32, 4: 4, 5: 8}
_DIRECT_NAMES = {16: "PSMCT16", 24: "PSMCT24", 32: "PSMCT32"}
_CLUT_BITS = {1: 16, 2: 24, 3: 32}


def accept(prefix: bytes) -> bool:
    return prefix[:4] == _MAGIC


def _colours(raw: np.ndarray, bits: int) -> np.ndarray:
    """Packed GS colours (uint8 bytes) → N×4 RGBA."""
    if bits == 16:
        v = raw[: raw.size // 2 * 2].view("<u2").astype(np.uint16)
        rgb = np.stack([v & 31, (v >> 5) & 31, (v >> 10) & 31], axis=-1).astype(np.uint8)
        out = np.empty((v.size, 4), np.uint8)
        out[:, :3] = (rgb << 3) | (rgb >> 2)
        out[:, 3] = np.where(v & 0x8000, 255, 0)
        return out
    if bits == 24:
        out = np.full((raw.size // 3, 4), 255, np.uint8)
        out[:, :3] = raw[: raw.size // 3 * 3].reshape(-1, 3)
        return out
    out = raw[: raw.size // 4 * 4].reshape(-1, 4).copy()
    out[:, 3] = np.minimum(out[:, 3].astype(np.uint16) * 2, 255)
    return out


@functools.cache
def _csm1_order() -> np.ndarray:
    order = np.arange(256).reshape(-1, 4, 8)  # blocks of 32 entries as four runs of 8
    return order[:, [0, 2, 1, 3], :].ravel()


def _read_at(fp: BinaryIO, offset: int, size: int) -> bytes:
    fp.seek(offset)
    return fp.read(size)


def decode(fp: BinaryIO, req: DecodeRequest) -> Texture:
    head = fp.read(_FILE_HEADER.size)
    if len(head) < _FILE_HEADER.size:
        raise req.error(f"truncated TIM2: file header is {len(head)} of {_FILE_HEADER.size} bytes")
    _magic, _version, format_id, count = _FILE_HEADER.unpack(head)
    if count == 0:
        raise req.error("TIM2 file holds no pictures")
    picture = 128 if format_id == 1 else _FILE_HEADER.size
    raw_header = _read_at(fp, picture, _PICTURE_HEADER_BYTES)
    if len(raw_header) < _PICTURE_HEADER_BYTES:
        raise req.error("truncated TIM2: picture header missing")
    (_total, _clut_size, image_size, header_size, clut_colours, _pict_format, mipmaps, clut_type, image_type,
     width, height) = _PICTURE_HEADER.unpack_from(raw_header)  # fmt: skip
    if header_size < _PICTURE_HEADER_BYTES:
        raise req.error(f"corrupt TIM2: picture header size {header_size} is under 48 bytes")
    bits = _IMAGE_BITS.get(image_type)
    if bits is None:
        raise req.error(f"unsupported TIM2 image type {image_type}")
    if width == 0 or height == 0:
        raise req.error(f"corrupt TIM2: declared size {width}×{height}")
    req.check_pixels(width, height)
    texels = width * height
    level_bytes = (texels * bits + 7) // 8
    if image_size < level_bytes:
        raise req.error(
            f"corrupt TIM2: image size {image_size:,} is under the {level_bytes:,} bytes it needs"
        )
    image_at = picture + header_size
    if image_at + level_bytes > req.file_size:
        found = max(0, req.file_size - image_at)
        raise req.error(f"truncated TIM2: expected {level_bytes:,} bytes of image data, found {found:,}")
    req.reserve(level_bytes + texels * (4 * 2 + 2) + 4096)  # data, indices, RGBA, a reduced copy
    data = np.frombuffer(_read_at(fp, image_at, level_bytes), np.uint8)
    if data.size < level_bytes:
        raise req.error("truncated TIM2: the file shrank while reading")

    if bits > 8:
        rgba = _colours(data, bits)
        name = _DIRECT_NAMES[bits]
    else:
        clut_bits = _CLUT_BITS.get(clut_type & 0x3F)
        if clut_bits is None:
            raise req.error(f"unsupported TIM2 CLUT type 0x{clut_type:02x} ({bits}-bit indexed image)")
        if clut_colours == 0:
            raise req.error(f"corrupt TIM2: {bits}-bit indexed image with an empty CLUT")
        entries = 1 << bits
        wanted = min(clut_colours, entries) * clut_bits // 8
        raw_clut = np.frombuffer(_read_at(fp, image_at + image_size, wanted), np.uint8)
        if raw_clut.size < wanted:
            raise req.error(f"truncated TIM2: expected {wanted:,} bytes of CLUT, found {raw_clut.size:,}")
        palette = np.zeros((entries, 4), np.uint8)  # entries the CLUT lacks decode as transparent black
        stored = _colours(raw_clut, clut_bits)
        palette[: len(stored)] = stored
        if bits == 8 and not clut_type & _CLUT_CSM2:
            palette = palette[_csm1_order()]
        if bits == 4:
            indices = np.empty(level_bytes * 2, np.uint8)
            indices[0::2] = data & 0x0F
            indices[1::2] = data >> 4
            indices = indices[:texels]
        else:
            indices = data
        rgba = palette_lookup(palette, indices)
        name = f"PSMT{bits}/CLUT{clut_bits}"
    rgba = rgba.reshape(height, width, 4)
    if not rgba[..., 3].any():
        log.debug("%s: alpha is 0 everywhere, decoding opaque", req.path)
        rgba[..., 3] = 255
    has_alpha = not is_opaque(rgba)
    info = TextureInfo(FORMAT, width, height, name, has_alpha, max(1, mipmaps), bits)
    return Texture(rgba, info)
