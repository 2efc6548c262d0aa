"""Perceptual hash of a texture: 64 bits that survive resizing, mip levels, padding and re-encoding.

The picture is first cut to its content box (uniform or fully transparent borders trimmed, so
the same sprite dumped into canvases of different sizes hashes alike) and composited over
mid-grey. Then:

* 48 bits of shape: the luminance resampled to 32×32, its 48 lowest-frequency DCT terms
  (u + v ≤ 9, DC excluded), each compared with their median;
* 16 bits of colour: the alpha-weighted mean chromaticity (r and g of r+g+b = 1) in two
  8-step thermometer codes, so Hamming distance grows with the colour difference. Recolours and
  team colours (same layout, other colour) are different textures; luminance alone would merge them.

Hashes are returned as signed 64-bit integers (two's complement), so they fit SQLite INTEGER
and numpy int64 as they are; compare them with `hamming` or `pairs_within`, which only look at
the 64 bits. A picture without structure (one colour, or detail too faint to be more than noise)
hashes to `FLAT_HASH` (0): grouping treats it as "no evidence", not as a match.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

HASH_BITS = 64
FLAT_HASH = 0
_MASK = (1 << HASH_BITS) - 1
_SIZE = 32  # the low frequencies of a 32x32 DCT describe the picture down to ~1/8 of its side
_LOW = 8
# AC terms with u + v <= 9 inside the 8x8 corner: exactly 48, lowest frequencies first.
_SHAPE_TERMS = np.array([u * _LOW + v for u in range(_LOW) for v in range(_LOW) if 0 < u + v <= 9])
_CHROMA_STEPS = 8
_CHROMA_STEP = 0.03  # grey (1/3) sits half a step from the nearest threshold
_CHROMA_THRESHOLDS = 1 / 3 + (np.arange(_CHROMA_STEPS) - (_CHROMA_STEPS - 1) / 2) * _CHROMA_STEP
# Below this spread of the AC coefficients (luminance 0..1) the picture is flat: its bits would
# be rounding noise, and noise must not make two unrelated flat textures "similar".
_FLAT_SPREAD = 1e-3 * _SIZE
_WORK_SIDE = 256  # larger pictures are box-reduced to about this side before anything else
_PAD_TOLERANCE = 3  # block compression leaves padding a few levels off its nominal colour
_TRIM_PASSES = 4


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


_DCT = _dct_matrix(_SIZE)[:_LOW]  # only the rows of the frequencies we keep


def _as_rgba(image: np.ndarray) -> np.ndarray:
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        pixels = np.stack([pixels, pixels, pixels, np.full_like(pixels, 255)], axis=-1)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or pixels.size == 0:
        raise ValueError(f"expected an HxWx4 RGBA (or HxWx3) image, got shape {pixels.shape}")
    if pixels.dtype != np.uint8:
        pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    if pixels.shape[2] == 3:
        pixels = np.concatenate([pixels, np.full(pixels.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return pixels


def _shrink(rgba: np.ndarray) -> np.ndarray:
    """Box-reduce big pictures first: the hash needs 32x32, and a 4k texture must stay cheap."""
    factor = max(rgba.shape[0], rgba.shape[1]) // _WORK_SIDE
    if factor < 2:
        return rgba
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgba), mode="RGBA").reduce(factor))


def _near(channel: np.ndarray, value: int, tol: int) -> np.ndarray:
    lo, hi = max(int(value) - tol, 0), min(int(value) + tol, 255)
    # uint8 wrap-around makes `channel - lo` large for channel < lo: one compare, no wide copy.
    return (channel - np.uint8(lo)) <= np.uint8(hi - lo)


def _padding_mask(rgba: np.ndarray, ref: np.ndarray) -> np.ndarray:
    mask = np.ones(rgba.shape[:2], dtype=bool)
    for c in range(4):
        mask &= _near(rgba[:, :, c], ref[c], _PAD_TOLERANCE)
    if ref[3] == 0:
        mask |= rgba[:, :, 3] == 0  # transparent padding: its colour channels are anything
    return mask


def content_box(rgba: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the picture inside uniform or fully transparent padding.

    Dumpers pad textures to larger canvases with transparent pixels, black, or one repeated
    colour, on any side, and the picture may have a transparent margin of its own. Edge rows and
    columns matching the top-left corner pixel are trimmed, then those matching the bottom-right
    corner of what is left, and so on for a few passes. All one colour keeps the full box.
    """
    h, w = rgba.shape[:2]
    top, bottom, left, right = 0, h, 0, w
    for n in range(_TRIM_PASSES):
        corner = 0 if n % 2 == 0 else -1
        box = rgba[top:bottom, left:right]
        pad = _padding_mask(box, box[corner, corner])
        rows = np.flatnonzero(~pad.all(axis=1))
        cols = np.flatnonzero(~pad.all(axis=0))
        if rows.size == 0 or cols.size == 0:
            continue
        top, bottom = top + int(rows[0]), top + int(rows[-1]) + 1
        left, right = left + int(cols[0]), left + int(cols[-1]) + 1
    return top, bottom, left, right


def _resample(luma: np.ndarray) -> np.ndarray:
    h, w = luma.shape
    # Area averaging when shrinking matches how mip levels are made; upscaling tiny mips
    # bilinearly keeps their few pixels from turning into hard blocks.
    method = Image.Resampling.BOX if min(h, w) >= _SIZE else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(luma, mode="F").resize((_SIZE, _SIZE), method), dtype=np.float64)


def _chromaticity(rgb: np.ndarray, alpha: np.ndarray) -> tuple[float, float]:
    total = (rgb * alpha[:, :, None]).reshape(-1, 3).sum(axis=0, dtype=np.float64)
    s = float(total.sum())
    if s <= 1e-6:
        return 1 / 3, 1 / 3  # black or invisible: no colour to speak of
    return float(total[0] / s), float(total[1] / s)


def perceptual_hash(rgba: np.ndarray) -> int:
    """The 64-bit perceptual hash of an RGBA (or RGB) uint8 image, as a signed int64 value."""
    pixels = _shrink(_as_rgba(rgba))
    top, bottom, left, right = content_box(pixels)
    pixels = pixels[top:bottom, left:right]
    rgb = pixels[:, :, :3].astype(np.float32) / 255.0
    alpha = pixels[:, :, 3].astype(np.float32) / 255.0
    # Over mid-grey: transparent texels (whose colour is often garbage) all look alike, and an
    # alpha-only texture (fonts, masks) still has a shape.
    luma = (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)) * alpha + 0.5 * (1.0 - alpha)
    small = _resample(np.ascontiguousarray(luma))
    coeffs = (_DCT @ small @ _DCT.T).ravel()[_SHAPE_TERMS]
    if float(np.abs(coeffs).max()) < _FLAT_SPREAD:
        return FLAT_HASH
    bits = list(coeffs > np.median(coeffs))
    for value in _chromaticity(rgb, alpha):
        bits.extend(value > _CHROMA_THRESHOLDS)
    word = 0
    for bit in bits:
        word = (word << 1) | int(bit)
    return to_signed(word) or 1  # 0 is reserved for flat pictures


def to_signed(value: int) -> int:
    """A 64-bit pattern as a signed int64 (what SQLite INTEGER and numpy int64 hold)."""
    value &= _MASK
    return value - (1 << HASH_BITS) if value >> (HASH_BITS - 1) else value


def hash_to_hex(value: int) -> str:
    return f"{value & _MASK:016x}"


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes (signed or unsigned form)."""
    return ((a ^ b) & _MASK).bit_count()


_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount_table(x: np.ndarray) -> np.ndarray:
    as_bytes = np.ascontiguousarray(x, dtype=np.uint64)[..., None].view(np.uint8)
    return _POPCOUNT8[as_bytes].sum(axis=-1, dtype=np.uint8)


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0 has it built in; older ones use the table
        return np.bitwise_count(x).astype(np.uint8)
    return _popcount_table(x)


def as_hash_array(hashes: Sequence[int]) -> np.ndarray:
    """uint64 array of hashes given in signed or unsigned form."""
    return np.fromiter((h & _MASK for h in hashes), dtype=np.uint64, count=len(hashes))


def hamming_matrix(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Pairwise Hamming distances (uint8) between two arrays of uint64 hashes (or a with itself)."""
    a = np.asarray(a, dtype=np.uint64)
    b = a if b is None else np.asarray(b, dtype=np.uint64)
    return _popcount(a[:, None] ^ b[None, :])


def pairs_within(
    hashes: np.ndarray, threshold: int, *, block: int | None = None
) -> Iterator[tuple[int, int]]:
    """Index pairs (i < j) whose hashes differ in at most `threshold` bits.

    Compares `block` rows at a time against the rest, so memory stays near 32 MB for any
    number of files (100k hashes: about 5e9 bit comparisons, seconds in numpy).
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    n = len(hashes)
    if block is None:
        block = max(16, (4 << 20) // max(n, 1))
    for start in range(0, n, block):
        stop = min(start + block, n)
        dist = _popcount(hashes[start:stop, None] ^ hashes[None, start:])
        rows, cols = np.nonzero(dist <= threshold)
        rows, cols = rows + start, cols + start
        keep = cols > rows
        yield from zip(rows[keep].tolist(), cols[keep].tolist(), strict=True)
