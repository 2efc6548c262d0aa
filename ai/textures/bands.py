"""Decoding in bands of rows: the temporaries of a conversion never exist for a whole large picture."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Wide layouts are unpacked in bands of rows of about this many texels, so their temporaries
# (float16/32 texels: ~80 bytes per texel) never exist for a whole 8192² level at once.
BAND_TEXELS = 1 << 18
_BAND_BYTES_PER_TEXEL = 96


def band_bytes(width: int, height: int) -> int:
    """What unpacking one band may take at most, for DecodeRequest.reserve."""
    return min(height, max(4, BAND_TEXELS // max(width, 1))) * width * _BAND_BYTES_PER_TEXEL


def unpack_in_bands(
    unpack: Callable[[bytes, int, int], np.ndarray],
    data: bytes,
    width: int,
    height: int,
    unit: int,
    unit_bytes: int,
) -> np.ndarray:
    """unpack(data, width, rows) → RGBA, run over bands of whole `unit`-row units (`unit_bytes` each)."""
    rows = max(unit, BAND_TEXELS // max(width, 1) // unit * unit)
    if rows >= height:
        return unpack(data, width, height)
    out = np.empty((height, width, 4), np.uint8)
    for top in range(0, height, rows):
        n = min(rows, height - top)
        start = top // unit * unit_bytes
        out[top : top + n] = unpack(data[start : start + -(-n // unit) * unit_bytes], width, n)
    return out
