"""Texture decoding front door: any supported file → RGBA uint8 pixels plus what the file declared.

Decoders are small registered modules in the Pillow style (base.Decoder): each has FORMAT, EXTENSIONS, accept(prefix)
and decode(fp, request). The decoder is chosen by magic bytes first and by extension second, so a
misnamed PNG still decodes and a TGA (which has no magic) is found by its name. Every failure is a
TextureError naming the file and a short reason; declared sizes are checked before anything is
allocated (DEFAULT_MAX_PIXELS allows 8192² textures), and so is the memory a decode will take
(ai.textures.memory: a cap per decode, one budget for all threads).
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ai.errors import TextureError
from ai.textures import dds, png, tim2
from ai.textures.base import Decoder, DecodeRequest, Texture, reduce_rgba, reduction_factor
from ai.textures.hashing import pixel_hash as hash_of_pixels
from ai.textures.memory import DECODE_BUDGET, DEFAULT_MAX_DECODE_BYTES, MemoryHold
from ai.textures.pillow import PILLOW_DECODERS

DEFAULT_MAX_PIXELS = 8192 * 8192
SUPPORTED_EXTENSIONS = frozenset({".dds", ".png", ".tga", ".bmp", ".jpg", ".jpeg", ".tm2", ".tim2"})
_PREFIX_BYTES = 16


# png (libpng) comes before Pillow's PNG decoder, which takes PNGs whenever png declines them.
_DECODERS: tuple[Decoder, ...] = (dds, tim2, png, *PILLOW_DECODERS)


def decoders() -> tuple[Decoder, ...]:
    """The registered decoders, in the order their magic bytes are tried: our DDS and TIM2, then Pillow's."""
    return _DECODERS


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
    path: str | os.PathLike[str],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_size: int | None = None,
    max_bytes: int = DEFAULT_MAX_DECODE_BYTES,
    pixel_hash: bool = False,
    hold: MemoryHold | None = None,
) -> Texture:
    """Decode a texture file to RGBA uint8.

    min_size is a hint from a caller that will downscale to min_size×min_size: the result is then
    the stored image shrunk by a whole factor (JPEG DCT scaling, a smaller DDS mip level, or a box
    reduction of the one stored size) as far as both sides stay ≥ min_size, or at the stored size
    when that is smaller. pixel_hash=True also gives Texture.pixel_hash, the hash of the full first
    mip, without a full-size copy where the decoder can avoid one. The decode's memory (at most max_bytes) is drawn from the shared
    DECODE_BUDGET and given back on return, or when `hold` (from decode_memory()) ends: a caller
    that goes on working on a large result (a DDS level without mips) keeps it reserved so.
    Raises TextureError.
    """
    _check_limits(max_pixels, min_size)
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
            req = _request(name, file_size, max_pixels, min_size, max_bytes, pixel_hash, hold)
            return _decode(fp, req, Path(name).suffix.lower(), own_hold=hold is None)
    except OSError as exc:
        raise TextureError(name, f"cannot read file: {exc.strerror or exc}") from exc


def load_texture_bytes(
    data: bytes,
    name: str,
    *,
    suffix: str = "",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_size: int | None = None,
    max_bytes: int = DEFAULT_MAX_DECODE_BYTES,
) -> Texture:
    """Decode an in-memory texture (an upload) exactly as load_texture decodes a file.

    name labels errors; suffix (".tga") stands in for the file extension, which TGA needs.
    Only the registered texture decoders are tried, never Pillow's open-anything.
    """
    _check_limits(max_pixels, min_size)
    req = _request(name, len(data), max_pixels, min_size, max_bytes, False, None)
    return _decode(io.BytesIO(data), req, suffix.lower(), own_hold=True)


def _check_limits(max_pixels: int, min_size: int | None) -> None:
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if min_size is not None and min_size < 1:
        raise ValueError(f"min_size must be positive, got {min_size}")


def _request(name, file_size, max_pixels, min_size, max_bytes, pixel_hash, hold) -> DecodeRequest:
    hold = hold if hold is not None else MemoryHold(DECODE_BUDGET)
    return DecodeRequest(name, file_size, max_pixels, min_size, max_bytes, pixel_hash, hold)


def _decode(fp: BinaryIO, req: DecodeRequest, suffix: str, own_hold: bool) -> Texture:
    if req.file_size == 0:
        raise req.error("empty file")
    try:
        prefix = fp.read(_PREFIX_BYTES)
        decoder = _choose(prefix, suffix)
        if decoder is None:
            raise req.error("not a supported texture format")
        fp.seek(0)
        texture = decoder.decode(fp, req)
        pixels, digest = texture.pixels, texture.pixel_hash
        if req.hash_pixels and digest is None:
            digest = hash_of_pixels(pixels)
        # A decoder that stores one size (PNG, TIM2, a DDS level without smaller mips) gives it whole;
        # the box reduce here gives the model's resize and the rules' views at most twice what they need.
        factor = reduction_factor(pixels.shape[1], pixels.shape[0], req.min_size)
        if factor > 1:
            pixels = reduce_rgba(pixels, factor)
    except MemoryError as exc:
        raise req.error("not enough memory to decode") from exc
    finally:
        if own_hold:
            req.hold.release()
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    pixels.flags.writeable = False
    return Texture(pixels, texture.info, digest)
