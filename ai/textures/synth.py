"""Synthetic textures for tests and benchmarks: plausible pictures and files of every supported format.

synth_image() draws gradients, smooth noise, normal maps and alpha cut-outs. The writers return the
pixels a decoder must produce from what they wrote: write_tim2() covers every TIM2 pixel format
(4/8-bit indexed with 16/24/32-bit CLUTs in CSM1 or CSM2 order, 16/24/32-bit direct colour, 16- or
128-byte alignment, mipmaps, extended headers); DDS files come from ai.textures.synth_dds.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from ai.textures.synth_dds import DDS_FORMATS, DdsFormat, encode_dds, normal_blue, write_dds

__all__ = [
    "DDS_FORMATS",
    "IMAGE_KINDS",
    "TIM2_FORMATS",
    "DdsFormat",
    "encode_dds",
    "encode_tim2",
    "normal_blue",
    "synth_image",
    "write_colour_squares",
    "write_dds",
    "write_png",
    "write_png_bomb",
    "write_tga",
    "write_tim2",
]

IMAGE_KINDS = ("gradient", "noise", "normal", "cutout", "alpha")
TIM2_FORMATS = ("PSMCT16", "PSMCT24", "PSMCT32", "PSMT4", "PSMT8")


# --- pictures --------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, w: int, h: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid, bicubically enlarged, plus a finer octave."""
    total = np.zeros((h, w), np.float32)
    for octave, weight in ((cells, 0.7), (cells * 4, 0.3)):
        grid = rng.random((octave, octave), dtype=np.float32)
        total += weight * np.asarray(Image.fromarray(grid, "F").resize((w, h), Image.Resampling.BICUBIC))
    return np.clip(total, 0.0, 1.0)


def synth_image(size: int | tuple[int, int], kind: str = "gradient", seed: int = 0) -> np.ndarray:
    """An HxWx4 uint8 RGBA test picture; size is an int (square) or (width, height)."""
    w, h = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x /= max(w - 1, 1)
    y /= max(h - 1, 1)
    rgba = np.empty((h, w, 4), np.float32)
    rgba[..., 3] = 1.0
    if kind == "gradient":
        phase = rng.random(3, dtype=np.float32)
        rgba[..., 0] = x
        rgba[..., 1] = y
        rgba[..., 2] = 0.5 + 0.5 * np.sin(6.0 * (x + y) + 6.28 * phase[2])
    elif kind in ("noise", "alpha"):
        for c in range(3):
            rgba[..., c] = _smooth_noise(rng, w, h, 6)
        if kind == "alpha":
            rgba[..., 3] = 0.5 + 0.5 * np.sin(5.0 * x + 3.0 * _smooth_noise(rng, w, h, 3))
    elif kind == "normal":
        height = _smooth_noise(rng, w, h, 8) * 0.08 * max(w, h)
        gy, gx = np.gradient(height)
        n = np.stack([-gx, -gy, np.ones_like(gx)], -1)
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
        rgba[..., :3] = n * 0.5 + 0.5
    elif kind == "cutout":
        rgba[..., 0] = 0.3 + 0.7 * x
        rgba[..., 1] = _smooth_noise(rng, w, h, 5)
        rgba[..., 2] = 1.0 - y
        inside = np.zeros((h, w), bool)
        for cx, cy, r in rng.random((4, 3)):
            inside |= (x - cx) ** 2 + (y - cy) ** 2 < (0.1 + 0.25 * r) ** 2
        rgba[..., 3] = inside
    else:
        raise ValueError(f"unknown kind {kind!r}; expected one of {IMAGE_KINDS}")
    return (np.clip(rgba, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_colour_squares(folder: str | Path, n: int, size: int = 12, seed: int = 5) -> dict[str, np.ndarray]:
    """n PNGs of one random colour each (with a little noise) → path: that colour (uint8 RGB).

    A simulated user can answer them by a colour rule: a truth the learner can pick up from the
    pixels (the model-statistics test and the README's Statistics screenshot use it).
    """
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    colours = {}
    for i in range(n):
        colour = rng.integers(0, 256, 3)
        pixels = np.clip(colour + rng.integers(-10, 11, (size, size, 3)), 0, 255).astype(np.uint8)
        path = folder / f"tex_{i:03d}.png"
        Image.fromarray(pixels, "RGB").save(path)
        colours[str(path)] = colour.astype(np.uint8)
    return colours


# --- Pillow formats --------------------------------------------------------------------------


def write_png(path: str | Path, rgba: np.ndarray, mode: str = "RGBA") -> np.ndarray:
    """Save rgba converted to mode ("RGBA", "RGB", "L", "LA", "P"); returns the pixels as RGBA."""
    image = Image.fromarray(rgba, "RGBA")
    image = image.quantize(256) if mode == "P" else image.convert(mode)
    image.save(path, format="PNG")
    return np.asarray(image.convert("RGBA"))


def write_png_bomb(path: str | Path, side: int = 8192) -> int:
    """A side×side 16-bit grey PNG of one level: 130 KB on disk at 8192², 128 MiB once decoded.

    A legitimate file (a flat height map), and the cheapest way to ask a decoder for the most
    memory the pixel limit allows. Written row by row, so making it costs no such memory. Returns
    the file size.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = bytes(1 + side * 2)  # filter byte 0, then the row's 16-bit samples
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 16, 0, 0, 0, 0))
        + chunk(b"IDAT", body)
        + chunk(b"IEND", b"")
    )
    Path(path).write_bytes(data)
    return len(data)


def write_tga(path: str | Path, rgba: np.ndarray, mode: str = "RGBA", *, rle: bool = False) -> np.ndarray:
    """Save rgba as TGA in mode ("RGBA", "RGB", "L"), optionally RLE-compressed; returns RGBA pixels."""
    image = Image.fromarray(rgba, "RGBA").convert(mode)
    image.save(path, format="TGA", compression="tga_rle" if rle else None)
    return np.asarray(image.convert("RGBA"))


# --- TIM2 ------------------------------------------------------------------------------------


def _gs_colours(rgba: np.ndarray, bits: int) -> tuple[bytes, np.ndarray]:
    """N×4 RGBA → GS colour bytes of `bits` bits each, and the colours a decoder reads back."""
    c = rgba.reshape(-1, 4).astype(np.uint16)
    back = np.empty((len(c), 4), np.uint8)
    if bits == 32:
        half = (c[:, 3] + 1) // 2  # the GS stores opaque as 0x80
        back[:, :3], back[:, 3] = c[:, :3], np.minimum(half * 2, 255)
        return np.column_stack([c[:, :3], half]).astype(np.uint8).tobytes(), back
    if bits == 24:
        back[:, :3], back[:, 3] = c[:, :3], 255
        return c[:, :3].astype(np.uint8).tobytes(), back
    q = c[:, :3] >> 3
    stp = c[:, 3] >= 128
    packed = q[:, 0] | (q[:, 1] << 5) | (q[:, 2] << 10) | (stp.astype(np.uint16) << 15)
    back[:, :3], back[:, 3] = (q << 3) | (q >> 2), np.where(stp, 255, 0)
    return packed.astype("<u2").tobytes(), back


def _csm1(entries: np.ndarray) -> np.ndarray:
    """Swap entries 8–15 with 16–23 of every 32 (its own inverse)."""
    return entries.reshape(-1, 4, 8, *entries.shape[1:])[:, [0, 2, 1, 3]].reshape(entries.shape)


def _pad(data: bytes, align: int) -> bytes:
    return data + bytes(-len(data) % align)


def _level_image(
    rgba: np.ndarray, pixel_format: str, clut_bits: int
) -> tuple[bytes, np.ndarray, np.ndarray | None]:
    """One level's image bytes, its expected RGBA, and (indexed formats) the true-order CLUT RGBA."""
    h, w = rgba.shape[:2]
    if pixel_format.startswith("PSMCT"):
        data, back = _gs_colours(rgba, int(pixel_format[5:]))
        return data, back.reshape(h, w, 4), None
    colours = 16 if pixel_format == "PSMT4" else 256
    quantized = Image.fromarray(rgba, "RGBA").quantize(colours, method=Image.Quantize.FASTOCTREE)
    indices = np.asarray(quantized, np.uint8).ravel()
    clut = np.zeros((colours, 4), np.uint8)
    used = np.asarray(quantized.getpalette("RGBA"), np.uint8).reshape(-1, 4)[:colours]
    clut[: len(used)] = used
    _, clut_back = _gs_colours(clut, clut_bits)
    if colours == 16:
        padded = np.append(indices, np.zeros(len(indices) % 2, np.uint8))
        data = (padded[0::2] | (padded[1::2] << 4)).astype(np.uint8).tobytes()  # low nibble first
    else:
        data = indices.tobytes()
    return data, clut_back[indices].reshape(h, w, 4), clut


def encode_tim2(
    rgba: np.ndarray,
    pixel_format: str,
    *,
    clut_bits: int = 32,
    csm2: bool = False,
    align128: bool = False,
    mip_levels: int = 1,
    extended_header: bytes = b"",
) -> tuple[bytes, np.ndarray]:
    """A one-picture TIM2 file and the RGBA a decoder must read from its first level.

    pixel_format: PSMCT16/24/32 (direct colour) or PSMT4/PSMT8 (indexed, CLUT of clut_bits 16/24/32).
    Mip levels halve the size; indexed levels share the top level's CLUT.
    """
    if pixel_format not in TIM2_FORMATS:
        raise ValueError(f"unknown TIM2 pixel format {pixel_format!r}")
    align = 128 if align128 else 16
    image_type = {"PSMCT16": 1, "PSMCT24": 2, "PSMCT32": 3, "PSMT4": 4, "PSMT8": 5}[pixel_format]
    top, expected, clut = _level_image(rgba, pixel_format, clut_bits)
    levels = [_pad(top, align)]
    level = rgba
    for _ in range(1, mip_levels):
        h, w = level.shape[:2]
        level = np.asarray(Image.fromarray(level, "RGBA").resize((max(1, w // 2), max(1, h // 2))))
        if clut is None:
            data = _level_image(level, pixel_format, clut_bits)[0]
        else:  # reuse the top CLUT: map each texel to its nearest entry
            d = ((level.reshape(-1, 1, 4).astype(np.int32) - clut[None].astype(np.int32)) ** 2).sum(-1)
            idx = d.argmin(1).astype(np.uint8)
            idx = np.append(idx, np.zeros(len(idx) % 2, np.uint8))
            data = (
                (idx[0::2] | (idx[1::2] << 4)).astype(np.uint8).tobytes()
                if len(clut) == 16
                else idx.tobytes()
            )
        levels.append(_pad(data, align))
    image = b"".join(levels)
    clut_data, clut_type, colours = b"", 0, 0
    if clut is not None:
        stored = clut if len(clut) == 16 or csm2 else _csm1(clut)
        clut_data = _pad(_gs_colours(stored, clut_bits)[0], align)
        clut_type = {16: 1, 24: 2, 32: 3}[clut_bits] | (0x80 if csm2 else 0)
        colours = len(clut)
    mip_header = b""
    if mip_levels > 1:
        mip_header = struct.pack(f"<QQ{mip_levels}I", 0, 0, *map(len, levels))
    header_size = 48 + len(mip_header) + len(extended_header)
    header_size += -(header_size + (128 if align128 else 16)) % align  # image data starts aligned
    h, w = rgba.shape[:2]
    picture = struct.pack(
        "<IIIHHBBBBHHQQII", header_size + len(image) + len(clut_data), len(clut_data), len(image),
        header_size, colours, 0, mip_levels, clut_type, image_type, w, h, 0, 0, 0, 0,
    )  # fmt: skip
    header = picture + mip_header + extended_header
    file_header = _pad(struct.pack("<4sBBH8x", b"TIM2", 4, 1 if align128 else 0, 1), 128 if align128 else 16)
    data = file_header + header + bytes(header_size - len(header)) + image + clut_data
    if not expected[..., 3].any():  # the decoder reads all-zero alpha as "alpha unused"
        expected[..., 3] = 255
    return data, expected


def write_tim2(path: str | Path, rgba: np.ndarray, pixel_format: str, **options) -> np.ndarray:
    """Write encode_tim2(...) to path; returns the expected top-level RGBA."""
    data, expected = encode_tim2(rgba, pixel_format, **options)
    Path(path).write_bytes(data)
    return expected
