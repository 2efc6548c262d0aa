"""Synthetic DDS files of every layout the decoder reads, each with the pixels a decoder must return.

Used by the tests and the benchmark's --generate. Uncompressed layouts are packed with numpy;
BC1/BC2/BC3/BC4/BC5 blocks come from a small min/max-endpoint encoder; BC6H blocks are built in
mode 11 and BC7 blocks in mode 6 (single subset, explicit endpoints), so the expected texels follow
from the format specs. Interpolated BC1–BC5 palette entries may differ by one between spec-conformant
decoders (rounding), hence each format's `tolerance`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class DdsFormat:
    """One synthesizable layout: how its header says so, how texels are encoded, how exact decoding is."""

    pixel_format: str  # what the decoder must report
    header: tuple  # ("fourcc", b"DXT1") | ("dx10", dxgi) | ("d3dfmt", n) | ("masks", flags, bits, masks) | ("p8",)
    encoding: tuple  # (kind, *args) for _encode
    tolerance: int  # max |decoded - expected| per channel


_BGRA8 = (0xFF0000, 0xFF00, 0xFF, 0xFF000000)
_BGRX8 = (0xFF0000, 0xFF00, 0xFF, 0)
_RGBA8 = (0xFF, 0xFF00, 0xFF0000, 0xFF000000)
_RGBX8 = (0xFF, 0xFF00, 0xFF0000, 0)
_RGBA16 = (0xFFFF, 0xFFFF << 16, 0xFFFF << 32, 0xFFFF << 48)
_RG16 = (0xFFFF, 0xFFFF << 16, 0, 0)
_RG8 = (0xFF, 0xFF00, 0, 0)
_R8 = (0xFF, 0, 0, 0)
_R16 = (0xFFFF, 0, 0, 0)
_A8 = (0, 0, 0, 0xFF)
_565 = (0xF800, 0x7E0, 0x1F, 0)
_5551 = (0x7C00, 0x3E0, 0x1F, 0x8000)
_4444 = (0xF00, 0xF0, 0xF, 0xF000)
_1010102 = (0x3FF, 0x3FF << 10, 0x3FF << 20, 0x3 << 30)
_RGB, _ALPHAPIXELS, _ALPHA, _LUM, _BUMP = 0x40, 0x1, 0x2, 0x20000, 0x80000


def _m(bits, masks, kind="plain"):
    return ("masked", bits, masks, kind)


# Interpolated BCn palette entries may round either way; BC5's rebuilt blue follows R and G.
_BC_TOLERANCE = {
    "bc1": 1, "bc2": 1, "bc3": 1, "bc4": 1, "bc4s": 1, "bc5": 2, "bc5s": 2, "rxgb": 1, "bc6h": 1, "bc6hs": 1,
    "bc7": 0,  # BC7 interpolation is specified bit-exactly
}  # fmt: skip


def _bc(kind):
    return (kind,), _BC_TOLERANCE[kind]


def _formats() -> dict[str, DdsFormat]:
    f: dict[str, DdsFormat] = {}

    def add(key, name, header, encoding, tol=0):
        f[key] = DdsFormat(name, header, encoding, tol)

    for cc, name, kind in [("DXT1", "BC1", "bc1"), ("DXT3", "BC2", "bc2"), ("DXT5", "BC3", "bc3"),
                           ("ATI1", "BC4", "bc4"), ("BC4U", "BC4", "bc4"), ("BC4S", "BC4_SNORM", "bc4s"),
                           ("ATI2", "BC5", "bc5"), ("BC5U", "BC5", "bc5"), ("BC5S", "BC5_SNORM", "bc5s"),
                           ("RXGB", "BC3_RXGB", "rxgb")]:  # fmt: skip
        add(cc, name, ("fourcc", cc.encode()), *_bc(kind))
    for dxgi, name, kind in [(71, "BC1", "bc1"), (72, "BC1_SRGB", "bc1"), (74, "BC2", "bc2"),
                             (75, "BC2_SRGB", "bc2"), (77, "BC3", "bc3"), (78, "BC3_SRGB", "bc3"),
                             (80, "BC4", "bc4"), (81, "BC4_SNORM", "bc4s"), (83, "BC5", "bc5"),
                             (84, "BC5_SNORM", "bc5s"), (95, "BC6H", "bc6h"), (96, "BC6H_SF16", "bc6hs"),
                             (98, "BC7", "bc7"), (99, "BC7_SRGB", "bc7")]:  # fmt: skip
        add(f"DX10_{name}", name, ("dx10", dxgi), *_bc(kind))
    for dxgi, name, enc in [
        (28, "R8G8B8A8", _m(32, _RGBA8)), (29, "R8G8B8A8_SRGB", _m(32, _RGBA8)),
        (31, "R8G8B8A8_SNORM", _m(32, _RGBA8, "signed")), (87, "B8G8R8A8", _m(32, _BGRA8)),
        (88, "B8G8R8X8", _m(32, _BGRX8)), (91, "B8G8R8A8_SRGB", _m(32, _BGRA8)),
        (93, "B8G8R8X8_SRGB", _m(32, _BGRX8)), (61, "R8", _m(8, _R8, "grey")), (65, "A8", _m(8, _A8)),
        (63, "R8_SNORM", _m(8, _R8, "signed_grey")), (49, "R8G8", _m(16, _RG8, "normal")),
        (51, "R8G8_SNORM", _m(16, _RG8, "signed_normal")), (56, "R16", _m(16, _R16, "grey")),
        (35, "R16G16", _m(32, _RG16, "normal")), (24, "R10G10B10A2", _m(32, _1010102)),
        (11, "R16G16B16A16", _m(64, _RGBA16)), (85, "B5G6R5", _m(16, _565)), (86, "B5G5R5A1", _m(16, _5551)),
        (115, "B4G4R4A4", _m(16, _4444)), (10, "R16G16B16A16_FLOAT", ("float", "<f2", "RGBA")),
        (2, "R32G32B32A32_FLOAT", ("float", "<f4", "RGBA")), (6, "R32G32B32_FLOAT", ("float", "<f4", "RGB")),
        (54, "R16_FLOAT", ("float", "<f2", "R")), (41, "R32_FLOAT", ("float", "<f4", "R")),
        (34, "R16G16_FLOAT", ("float", "<f2", "RG")), (26, "R11G11B10_FLOAT", ("r11g11b10",)),
    ]:  # fmt: skip
        add(f"DX10_{name}", name, ("dx10", dxgi), enc)
    for number, name, enc in [
        (20, "B8G8R8", _m(24, _BGRX8)), (21, "B8G8R8A8", _m(32, _BGRA8)), (22, "B8G8R8X8", _m(32, _BGRX8)),
        (23, "B5G6R5", _m(16, _565)), (24, "B5G5R5X1", _m(16, _5551[:3] + (0,))),
        (25, "B5G5R5A1", _m(16, _5551)), (26, "B4G4R4A4", _m(16, _4444)),
        (27, "B2G3R3", _m(8, (0xE0, 0x1C, 0x3, 0))), (28, "A8", _m(8, _A8)),
        (29, "B2G3R3A8", _m(16, (0xE0, 0x1C, 0x3, 0xFF00))), (30, "B4G4R4X4", _m(16, _4444[:3] + (0,))),
        (31, "R10G10B10A2", _m(32, _1010102)), (32, "R8G8B8A8", _m(32, _RGBA8)), (33, "R8G8B8X8", _m(32, _RGBX8)),
        (34, "R16G16", _m(32, _RG16, "normal")), (35, "B10G10R10A2", _m(32, (0x3FF << 20, 0x3FF << 10, 0x3FF, 3 << 30))),
        (36, "R16G16B16A16", _m(64, _RGBA16)), (50, "L8", _m(8, _R8, "grey")),
        (51, "L8A8", _m(16, (0xFF, 0, 0, 0xFF00), "grey")), (52, "L4A4", _m(8, (0xF, 0, 0, 0xF0), "grey")),
        (60, "V8U8", _m(16, _RG8, "signed_normal")), (63, "Q8W8V8U8", _m(32, _RGBA8, "signed")),
        (81, "L16", _m(16, _R16, "grey")), (110, "Q16W16V16U16", _m(64, _RGBA16, "signed")),
        (111, "R16_FLOAT", ("float", "<f2", "R")), (112, "R16G16_FLOAT", ("float", "<f2", "RG")),
        (113, "R16G16B16A16_FLOAT", ("float", "<f2", "RGBA")), (114, "R32_FLOAT", ("float", "<f4", "R")),
        (115, "R32G32_FLOAT", ("float", "<f4", "RG")), (116, "R32G32B32A32_FLOAT", ("float", "<f4", "RGBA")),
    ]:  # fmt: skip
        add(f"D3DFMT_{number}", name, ("d3dfmt", number), enc)
    for key, name, flags, bits, masks, kind in [
        ("MASK_B8G8R8A8", "B8G8R8A8", _RGB | _ALPHAPIXELS, 32, _BGRA8, "plain"),
        ("MASK_B8G8R8X8", "B8G8R8X8", _RGB, 32, _BGRX8, "plain"),
        ("MASK_R8G8B8A8", "R8G8B8A8", _RGB | _ALPHAPIXELS, 32, _RGBA8, "plain"),
        ("MASK_B8G8R8", "B8G8R8", _RGB, 24, _BGRX8, "plain"),
        ("MASK_B5G6R5", "B5G6R5", _RGB, 16, _565, "plain"),
        ("MASK_B5G5R5A1", "B5G5R5A1", _RGB | _ALPHAPIXELS, 16, _5551, "plain"),
        ("MASK_B4G4R4A4", "B4G4R4A4", _RGB | _ALPHAPIXELS, 16, _4444, "plain"),
        ("MASK_ODD16", "RGB16", _RGB | _ALPHAPIXELS, 16, (0xF, 0xF0, 0xF00, 0xF000), "plain"),
        ("MASK_ODD32", "RGB32", _RGB, 32, (0x7FF, 0x7FF << 11, 0x3FF << 22, 0), "plain"),
        ("LUM_L8", "L8", _LUM, 8, _R8, "grey"),
        ("LUM_L8A8", "L8A8", _LUM | _ALPHAPIXELS, 16, (0xFF, 0, 0, 0xFF00), "grey"),
        ("LUM_L16", "L16", _LUM, 16, _R16, "grey"),
        ("ALPHA_A8", "A8", _ALPHA, 8, _A8, "plain"),
        ("BUMP_V8U8", "V8U8", _BUMP, 16, _RG8, "signed_normal"),
    ]:  # fmt: skip
        add(key, name, ("masks", flags, bits, masks), _m(bits, masks, kind))
    add("PAL8", "P8", ("p8",), ("p8",))
    return f


# --- helpers ---------------------------------------------------------------------------------


def normal_blue(r: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The B the decoder rebuilds for two-channel normal maps: z = sqrt(1 - x² - y²) as (z/2 + 0.5)·255."""
    x = r.astype(np.float64) / 255 * 2 - 1
    y = g.astype(np.float64) / 255 * 2 - 1
    z = np.sqrt(np.clip(1 - x * x - y * y, 0, 1))
    return np.round((z * 0.5 + 0.5) * 255).astype(np.uint8)


def _blocks(rgba: np.ndarray) -> tuple[np.ndarray, int, int]:
    """HxWx4 → (N, 16, 4) 4×4 blocks in row-major block order (edges replicated), plus block counts."""
    h, w = rgba.shape[:2]
    bh, bw = (h + 3) // 4, (w + 3) // 4
    padded = np.pad(rgba, ((0, bh * 4 - h), (0, bw * 4 - w), (0, 0)), mode="edge")
    return padded.reshape(bh, 4, bw, 4, 4).transpose(0, 2, 1, 3, 4).reshape(-1, 16, 4), bh, bw


def _unblocks(texels: np.ndarray, bh: int, bw: int, h: int, w: int) -> np.ndarray:
    c = texels.shape[-1]
    image = texels.reshape(bh, bw, 4, 4, c).transpose(0, 2, 1, 3, 4).reshape(bh * 4, bw * 4, c)
    return np.ascontiguousarray(image[:h, :w])


def _pack_bits(fields: list[tuple[np.ndarray, int]], n: int) -> np.ndarray:
    """Little-endian bit fields (values per block, width), in order from bit 0, → (n, 16) bytes."""
    bits = np.zeros((n, 128), np.uint8)
    pos = 0
    for values, width in fields:
        v = np.asarray(values, np.uint64).reshape(n)
        bits[:, pos : pos + width] = (v[:, None] >> np.arange(width, dtype=np.uint64)) & 1
        pos += width
    return np.packbits(bits, axis=1, bitorder="little")


def _nearest(values: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Per block: index of the palette entry nearest each texel. values (N,16,C), palette (N,K,C)."""
    d = ((values[:, :, None, :].astype(np.int32) - palette[:, None, :, :].astype(np.int32)) ** 2).sum(-1)
    return d.argmin(-1)


# --- BC1–BC5 ---------------------------------------------------------------------------------


def _expand565(c: np.ndarray) -> np.ndarray:
    r, g, b = (c >> 11) & 31, (c >> 5) & 63, c & 31
    return np.stack([(r << 3) | (r >> 2), (g << 2) | (g >> 4), (b << 3) | (b >> 2)], -1).astype(np.int32)


def _colour_blocks(
    rgba: np.ndarray, *, punch_through: bool, force_four: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(N,16,4) → (N,8) BC1 colour blocks and (N,16,4) expected texels.

    punch_through (BC1 only): texels with alpha < 128 use the transparent index of 3-colour mode.
    force_four: BC2/BC3 colour blocks, which decoders always read in 4-colour mode.
    """
    rgb = rgba[..., :3].astype(np.int32)
    cut = (rgba[..., 3] < 128) if punch_through else np.zeros(rgba.shape[:2], bool)
    empty = cut.all(1)[:, None]
    hi = np.where(empty, 0, np.where(cut[..., None], -1, rgb).max(1))
    lo = np.where(empty, 0, np.where(cut[..., None], 256, rgb).min(1))
    q_hi, q_lo = ((c[:, 0] >> 3) << 11 | (c[:, 1] >> 2) << 5 | (c[:, 2] >> 3) for c in (hi, lo))
    three = cut.any(1)  # 3-colour mode is chosen by storing c0 <= c1
    c0 = np.where(three, q_lo, q_hi)
    c1 = np.where(three, q_hi, q_lo)
    p0, p1 = _expand565(c0), _expand565(c1)
    four = (c0 > c1) | force_four
    p2 = np.where(four[:, None], (2 * p0 + p1) // 3, (p0 + p1) // 2)
    p3 = np.where(four[:, None], (p0 + 2 * p1) // 3, 0)
    palette = np.stack([p0, p1, p2, p3], 1)
    d = ((rgb[:, :, None, :] - palette[:, None, :, :]) ** 2).sum(-1)
    d[:, :, 3] = np.where(four[:, None], d[:, :, 3], 1 << 30)  # a visible texel never takes index 3
    index = np.where(cut, 3, d.argmin(-1))
    words = (index.astype(np.uint32) << (2 * np.arange(16, dtype=np.uint32))).sum(1, dtype=np.uint32)
    ends = np.stack([c0, c1], 1).astype("<u2").view(np.uint8)
    blocks = np.concatenate([ends, words.astype("<u4")[:, None].view(np.uint8)], axis=1)
    expected = np.empty(rgba.shape, np.uint8)
    expected[..., :3] = np.take_along_axis(palette, index[..., None], 1)
    expected[..., 3] = np.where(cut, 0, 255)
    return blocks, expected


def _alpha_blocks(values: np.ndarray, *, signed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(N,16) uint8 → (N,8) BC4/BC3-alpha blocks (8-value mode) and (N,16) expected values.

    signed: endpoints are stored as int8 (value - 128), as BC4/BC5 SNORM decoders read them.
    """
    v = values.astype(np.int32)
    a0, a1 = v.max(1), v.min(1)
    k = np.arange(1, 7)
    inner = ((7 - k) * a0[:, None] + k * a1[:, None]) // 7
    palette = np.concatenate([a0[:, None], a1[:, None], inner], 1)
    palette = np.where((a0 > a1)[:, None], palette, a0[:, None])  # flat block: index 0 everywhere
    index = np.abs(v[:, :, None] - palette[:, None, :]).argmin(-1)
    words = (index.astype(np.uint64) << (3 * np.arange(16, dtype=np.uint64))).sum(1, dtype=np.uint64)
    ends = np.stack([a0, a1], 1).astype(np.uint8) ^ (0x80 if signed else 0)
    blocks = np.concatenate([ends, words.astype("<u8")[:, None].view(np.uint8)[:, :6]], axis=1)
    return blocks, np.take_along_axis(palette, index, 1).astype(np.uint8)


def _encode_bc(kind: str, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,16,4) RGBA blocks → (encoded (N, bytes), expected (N,16,4))."""
    expected = np.empty(blocks.shape, np.uint8)
    expected[..., 3] = 255
    if kind == "bc1":
        return _colour_blocks(blocks, punch_through=True, force_four=False)
    if kind in ("bc2", "bc3", "rxgb"):
        colour_src = blocks.copy()
        if kind == "rxgb":
            colour_src[..., 0] = 0
        colour, expected = _colour_blocks(colour_src, punch_through=False, force_four=True)
        if kind == "bc2":
            a4 = (blocks[..., 3].astype(np.uint64) * 15 + 127) // 255
            alpha = (a4 << (4 * np.arange(16, dtype=np.uint64))).sum(1, dtype=np.uint64)
            expected[..., 3] = a4 * 17
            return np.concatenate([alpha.astype("<u8")[:, None].view(np.uint8), colour], 1), expected
        alpha, values = _alpha_blocks(blocks[..., 0 if kind == "rxgb" else 3])
        if kind == "rxgb":
            expected[..., 0] = values
        else:
            expected[..., 3] = values
        return np.concatenate([alpha, colour], 1), expected
    signed = kind.endswith("s")
    red, r = _alpha_blocks(blocks[..., 0], signed=signed)
    if kind.startswith("bc4"):
        expected[..., :3] = r[..., None]
        return red, expected
    green, g = _alpha_blocks(blocks[..., 1], signed=signed)
    expected[..., 0], expected[..., 1], expected[..., 2] = r, g, normal_blue(r, g)
    return np.concatenate([red, green], 1), expected


# --- BC6H (mode 11) and BC7 (mode 6) ---------------------------------------------------------

_WEIGHTS4 = np.array([0, 4, 9, 13, 17, 21, 26, 30, 34, 38, 43, 47, 51, 55, 60, 64], np.int64)


def _bc6_unquantize(comp: np.ndarray, signed: bool) -> np.ndarray:
    comp = comp.astype(np.int64)
    if signed:  # non-negative 10-bit endpoints only: 0x1FF and up saturate
        return np.where(comp == 0, 0, np.where(comp >= 0x1FF, 0x7FFF, ((comp << 15) + 0x4000) >> 9))
    return np.where(comp == 0, 0, np.where(comp == 0x3FF, 0xFFFF, ((comp << 16) + 0x8000) >> 10))


def _bc6_float(unq: np.ndarray, signed: bool) -> np.ndarray:
    half = (unq * 31) >> (5 if signed else 6)
    return half.astype(np.uint16).view(np.float16).astype(np.float64)


def _encode_bc6h(blocks: np.ndarray, signed: bool) -> tuple[np.ndarray, np.ndarray]:
    n = len(blocks)
    comps = np.arange(0x200 if signed else 0x400)
    table = _bc6_float(_bc6_unquantize(comps, signed), signed)  # increasing in comp
    target = blocks[..., :3].astype(np.float64) / 255.0
    pos = np.clip(np.searchsorted(table, target), 1, len(table) - 1)
    nearest = np.where(np.abs(table[pos - 1] - target) <= np.abs(table[pos] - target), pos - 1, pos)
    e0, e1 = nearest.min(1), nearest.max(1)  # (N,3) endpoint codes
    u0, u1 = _bc6_unquantize(e0, signed), _bc6_unquantize(e1, signed)
    w = _WEIGHTS4[None, :, None]
    palette = _bc6_float(((64 - w) * u0[:, None] + w * u1[:, None] + 32) >> 6, signed)  # (N,16,3)
    index = ((target[:, :, None, :] - palette[:, None, :, :]) ** 2).sum(-1).argmin(-1)
    expected = np.empty(blocks.shape, np.uint8)
    expected[..., :3] = np.round(np.clip(np.take_along_axis(palette, index[..., None], 1), 0, 1) * 255)
    expected[..., 3] = 255
    swap = index[:, 0] >= 8  # the anchor index has only 3 bits: swap ends to keep its top bit clear
    e0, e1 = np.where(swap[:, None], e1, e0), np.where(swap[:, None], e0, e1)
    index = np.where(swap[:, None], 15 - index, index)
    fields = [(np.full(n, 0x03), 5)] + [(e[:, c], 10) for e in (e0, e1) for c in range(3)]
    fields += [(index[:, 0], 3)] + [(index[:, i], 4) for i in range(1, 16)]
    return _pack_bits(fields, n), expected


def _encode_bc7(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(blocks)
    v = blocks.astype(np.int64)
    c0, c1 = v.min(1) >> 1, v.max(1) >> 1  # 7-bit endpoint codes; p-bit 0 for the low end, 1 for the high
    p0, p1 = np.zeros(n, np.int64), np.ones(n, np.int64)
    w = _WEIGHTS4[None, :, None]
    e0, e1 = (c0 << 1) | p0[:, None], (c1 << 1) | p1[:, None]
    palette = ((64 - w) * e0[:, None] + w * e1[:, None] + 32) >> 6  # (N,16,4)
    index = ((v[:, :, None, :] - palette[:, None, :, :]) ** 2).sum(-1).argmin(-1)
    expected = np.take_along_axis(palette, index[..., None], 1).astype(np.uint8)
    swap = index[:, 0] >= 8
    c0, c1 = np.where(swap[:, None], c1, c0), np.where(swap[:, None], c0, c1)
    p0, p1 = np.where(swap, p1, p0), np.where(swap, p0, p1)
    index = np.where(swap[:, None], 15 - index, index)
    fields = [(np.full(n, 1 << 6), 7)] + [(c[:, ch], 7) for ch in range(4) for c in (c0, c1)]
    fields += [(p0, 1), (p1, 1), (index[:, 0], 3)] + [(index[:, i], 4) for i in range(1, 16)]
    return _pack_bits(fields, n), expected


# --- per-texel layouts -----------------------------------------------------------------------


def _encode_masked(rgba: np.ndarray, bits: int, masks: tuple, kind: str) -> tuple[bytes, np.ndarray]:
    h, w = rgba.shape[:2]
    src = rgba.astype(np.uint64)
    packed = np.zeros((h, w), np.uint64)
    expected = np.zeros((h, w, 4), np.uint8)
    expected[..., 3] = 255
    for c, mask in enumerate(masks):
        if not mask:
            continue
        shift = (mask & -mask).bit_length() - 1
        top = mask >> shift
        q = (src[..., c] * top + 127) // 255
        expected[..., c] = (q * 255 + top // 2) // top
        stored = q ^ ((top + 1) >> 1) if "signed" in kind else q
        packed |= stored << np.uint64(shift)
    if "grey" in kind:
        expected[..., 1] = expected[..., 2] = expected[..., 0]
    if "normal" in kind:
        expected[..., 2] = normal_blue(expected[..., 0], expected[..., 1])
    if bits == 24:
        data = packed.astype("<u4").view(np.uint8).reshape(h, w, 4)[..., :3].tobytes()
    else:
        data = packed.astype({8: np.uint8, 16: "<u2", 32: "<u4", 64: "<u8"}[bits]).tobytes()
    return data, expected


def _encode_float(rgba: np.ndarray, dtype: str, channels: str) -> tuple[bytes, np.ndarray]:
    stored = (rgba[..., : len(channels)] / 255.0).astype(dtype)
    got = (np.clip(stored.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
    expected = np.zeros((*rgba.shape[:2], 4), np.uint8)
    expected[..., 3] = 255
    expected[..., : len(channels)] = got
    if channels == "R":
        expected[..., 1] = expected[..., 2] = got[..., 0]
    if channels == "RG":
        expected[..., 2] = normal_blue(got[..., 0], got[..., 1])
    return stored.tobytes(), expected


def _encode_r11g11b10(rgba: np.ndarray) -> tuple[bytes, np.ndarray]:
    halves = (rgba[..., :3] / 255.0).astype(np.float16).view(np.uint16).astype(np.uint32)
    r, g, b = halves[..., 0] >> 4, halves[..., 1] >> 4, halves[..., 2] >> 5  # drop low mantissa bits
    back = np.stack([r << 4, g << 4, b << 5], -1).astype(np.uint16).view(np.float16).astype(np.float32)
    expected = np.full((*rgba.shape[:2], 4), 255, np.uint8)
    expected[..., :3] = (np.clip(back, 0, 1) * 255 + 0.5).astype(np.uint8)
    return (r | (g << 11) | (b << 22)).astype("<u4").tobytes(), expected


def _palette(rgba: np.ndarray) -> tuple[bytes, np.ndarray, np.ndarray]:
    quantized = Image.fromarray(rgba, "RGBA").quantize(256, method=Image.Quantize.FASTOCTREE)
    colours = np.zeros((256, 4), np.uint8)
    used = np.asarray(quantized.getpalette("RGBA"), np.uint8).reshape(-1, 4)[:256]
    colours[: len(used)] = used
    return colours.tobytes(), np.asarray(quantized, np.uint8), colours


# --- files -----------------------------------------------------------------------------------

DDS_FORMATS: dict[str, DdsFormat] = _formats()


def _encode(rgba: np.ndarray, fmt: DdsFormat) -> tuple[bytes, np.ndarray]:
    kind, *args = fmt.encoding
    if kind == "masked":
        return _encode_masked(rgba, *args)
    if kind == "float":
        return _encode_float(rgba, *args)
    if kind == "r11g11b10":
        return _encode_r11g11b10(rgba)
    h, w = rgba.shape[:2]
    blocks, bh, bw = _blocks(rgba)
    if kind == "bc7":
        data, expected = _encode_bc7(blocks)
    elif kind.startswith("bc6h"):
        data, expected = _encode_bc6h(blocks, signed=kind == "bc6hs")
    else:
        data, expected = _encode_bc(kind, blocks)
    return data.tobytes(), _unblocks(expected, bh, bw, h, w)


def _mip_chain(rgba: np.ndarray, levels: int) -> list[np.ndarray]:
    chain = [rgba]
    while len(chain) < levels:
        h, w = chain[-1].shape[:2]
        smaller = Image.fromarray(chain[-1], "RGBA").resize(
            (max(1, w // 2), max(1, h // 2)), Image.Resampling.BOX
        )
        chain.append(np.asarray(smaller))
    return chain


def _header(width: int, height: int, levels: int, fmt: DdsFormat, linear_size: int, cube: bool) -> bytes:
    kind = fmt.header[0]
    pf_flags, fourcc, bits, masks = 0x4, bytes(4), 0, (0, 0, 0, 0)
    if kind == "fourcc":
        fourcc = fmt.header[1]
    elif kind == "dx10":
        fourcc = b"DX10"
    elif kind == "d3dfmt":
        fourcc = struct.pack("<I", fmt.header[1])
    elif kind == "masks":
        pf_flags, bits, masks = fmt.header[1:]
    else:  # p8
        pf_flags, bits = 0x20, 8
    flags = 0x1 | 0x2 | 0x4 | 0x1000 | 0x80000 | (0x20000 if levels > 1 else 0)
    caps = 0x1000 | (0x400008 if levels > 1 else 0) | (0x8 if cube else 0)
    caps2 = 0xFE00 if cube else 0
    head = struct.pack(
        "<4s7I44x2I4s5I4I4x", b"DDS ", 124, flags, height, width, linear_size, 0, levels, 32, pf_flags,
        fourcc, bits, *masks, caps, caps2, 0, 0,
    )  # fmt: skip
    if kind == "dx10":
        head += struct.pack("<5I", fmt.header[1], 3, 0x4 if cube else 0, 1, 0)
    return head


def encode_dds(
    rgba: np.ndarray, key: str, *, mip_levels: int = 1, cube_faces: list[np.ndarray] | None = None
) -> tuple[bytes, list[np.ndarray]]:
    """A DDS file of format DDS_FORMATS[key] holding rgba (and 5 more cube faces, when given), with the
    expected decoded pixels of every mip level of the first face."""
    fmt = DDS_FORMATS[key]
    if cube_faces is not None and len(cube_faces) != 5:
        raise ValueError("a cube map needs 5 faces besides the first")
    if fmt.encoding[0] == "p8" and (mip_levels > 1 or cube_faces):
        raise ValueError("P8 synthesis writes one palette for one level")
    payload, expected = [], []
    for face_number, face in enumerate([rgba, *(cube_faces or [])]):
        for level in _mip_chain(face, mip_levels):
            if fmt.encoding[0] == "p8":
                palette, indices, colours = _palette(level)
                payload += [palette, indices.tobytes()]
                level_expected = colours[indices]
            else:
                data, level_expected = _encode(level, fmt)
                payload.append(data)
            if face_number == 0:
                expected.append(level_expected)
    h, w = rgba.shape[:2]
    linear = len(payload[1] if fmt.encoding[0] == "p8" else payload[0])
    return _header(w, h, mip_levels, fmt, linear, cube_faces is not None) + b"".join(payload), expected


def write_dds(path: str | Path, rgba: np.ndarray, key: str, **options) -> list[np.ndarray]:
    """Write encode_dds(...) to path; returns the expected pixels of each mip level."""
    data, expected = encode_dds(rgba, key, **options)
    Path(path).write_bytes(data)
    return expected
