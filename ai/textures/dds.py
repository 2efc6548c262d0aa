"""DDS decoding: DDS_HEADER/DX10 parsing, BC1–BC7 blocks via Pillow's C codec, other layouts via numpy.

Conventions (what a texture looks like after decoding, whatever its storage):
- BC1 punch-through: the transparent index decodes to alpha 0 with black RGB (the DDS spec, and Pillow).
- Two-channel data (BC5/ATI2, R8G8, R16G16, V8U8 …) are normal maps by convention: R and G come from the
  two channels and B is rebuilt as z = sqrt(1 - x² - y²), stored as (z * 0.5 + 0.5) * 255.
- Signed channels (BC4/BC5 SNORM, *_SNORM, V8U8) are shifted so that 0 → 128 and +1 → 255.
- One-channel data (R8, R16, L8, BC4, R16F …) decode as grey; A8 and DDPF_ALPHA decode as black with alpha.
- Float formats (BC6H, *_FLOAT) are clamped to [0, 1]; sRGB formats keep their stored (sRGB) bytes.
- Cube maps, arrays and volumes: the first face / element / slice only.
pixel_format names follow DXGI (memory order, LSB first): D3DFMT_A8R8G8B8 and DX10 format 87 are both
"B8G8R8A8"; DXT1/DXT3/DXT5 are "BC1"/"BC2"/"BC3".
"""

from __future__ import annotations

import functools
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image

from ai.textures.bands import band_bytes, unpack_in_bands
from ai.textures.base import DecodeRequest, Texture, TextureInfo, is_opaque, palette_lookup, pick_mip_level

log = logging.getLogger(__name__)

FORMAT = "DDS"
EXTENSIONS = (".dds",)
_MAGIC = b"DDS "
_HEADER_BYTES = 128  # magic + DDS_HEADER
_DX10_BYTES = 20

_DDPF_ALPHAPIXELS = 0x1
_DDPF_ALPHA = 0x2
_DDPF_FOURCC = 0x4
_DDPF_PALETTEINDEXED8 = 0x20
_DDPF_RGB = 0x40
_DDPF_LUMINANCE = 0x20000
_DDPF_BUMPDUDV = 0x80000
_DDSCAPS2_VOLUME = 0x200000
_DX10_TEXTURE3D = 4

Unpack = Callable[[bytes, int, int], np.ndarray]


def accept(prefix: bytes) -> bool:
    return prefix[:4] == _MAGIC


@dataclass(frozen=True)
class _Layout:
    """How one pixel format is stored and turned into RGBA."""

    name: str
    bits: int  # bits per texel as stored
    block: int  # bytes per 4×4 block; 0 for per-texel layouts
    unpack: Unpack
    alpha: bool  # can carry alpha; when False has_alpha is False without looking
    mask_key: tuple | None = None  # (bits, masks) of a plain unsigned mask layout

    def level_bytes(self, width: int, height: int) -> int:
        if self.block:
            return max(1, (width + 3) // 4) * max(1, (height + 3) // 4) * self.block
        return width * height * self.bits // 8


# --- RGBA assembly helpers -------------------------------------------------------------------


def _to_rgba(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 4:
        return np.ascontiguousarray(arr)
    out = np.empty((*arr.shape[:2], 4), np.uint8)
    out[..., :3] = arr[..., None] if arr.ndim == 2 else arr
    out[..., 3] = 255
    return out


@functools.cache
def _blue_from_red_green() -> np.ndarray:
    """256×256 table: B of a unit normal whose x, y are stored in R, G (both as unsigned bytes)."""
    v = np.arange(256, dtype=np.float64) / 255.0 * 2.0 - 1.0
    z = np.sqrt(np.clip(1.0 - v[:, None] ** 2 - v[None, :] ** 2, 0.0, 1.0))
    return np.round((z * 0.5 + 0.5) * 255.0).astype(np.uint8).ravel()


def _rebuild_blue(rgba: np.ndarray) -> np.ndarray:
    out = rgba if rgba.flags.writeable else rgba.copy()
    index = out[..., 0].astype(np.intp) << 8
    index |= out[..., 1]
    out[..., 2] = _blue_from_red_green()[index]
    return out


# --- block-compressed (Pillow's "bcn" codec: BC1 alpha per spec, bounds-checked) --------------

_BC_MODES = {1: "RGBA", 2: "RGBA", 3: "RGBA", 4: "L", 5: "RGB", 6: "RGB", 7: "RGBA"}


def _bc4_signed_as_unsigned(data: bytes) -> bytes:
    # Flipping the sign bit of both endpoints maps int8 → uint8 monotonically, so the unsigned
    # decoder picks the same interpolation mode and returns value + 128 (within 1 LSB).
    blocks = np.frombuffer(data, np.uint8).reshape(-1, 8).copy()
    blocks[:, :2] ^= 0x80
    return blocks.tobytes()


def _rxgb_swap(rgba: np.ndarray) -> np.ndarray:
    # Doom 3's RXGB is DXT5 with red moved into the alpha block for precision.
    out = rgba.copy()
    out[..., 0] = rgba[..., 3]
    out[..., 3] = 255
    return out


def _bc(name: str, n: int, codec_name: str, *, pre=None, post=None) -> _Layout:
    mode = _BC_MODES[n]

    def unpack(data: bytes, width: int, height: int) -> np.ndarray:
        if pre is not None:
            data = pre(data)
        image = Image.frombytes(mode, (width, height), data, "bcn", (n, codec_name))
        rgba = np.asarray(image if mode == "RGBA" else image.convert("RGBA"))  # Pillow widens fastest
        return post(rgba) if post is not None else rgba

    block = 8 if n in (1, 4) else 16
    alpha = n in (1, 2, 3, 7) and post is not _rxgb_swap
    return _Layout(name, block // 2, block, unpack, alpha)


# --- per-texel layouts -----------------------------------------------------------------------


def _texel_ints(data: bytes, bits: int, count: int) -> np.ndarray:
    if bits == 24:
        b = np.frombuffer(data, np.uint8, count * 3).reshape(-1, 3).astype(np.uint32)
        return b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    dtype = {8: np.uint8, 16: "<u2", 32: "<u4", 64: "<u8"}[bits]
    return np.frombuffer(data, dtype, count)


def _channel(values: np.ndarray, mask: int, signed: bool) -> np.ndarray:
    shift = (mask & -mask).bit_length() - 1
    top = mask >> shift
    x = (values.astype(np.uint64) >> np.uint64(shift)) & np.uint64(top)
    if signed:  # two's complement → offset binary, so 0 lands mid-range
        x ^= np.uint64((top + 1) >> 1)
    if top == 255:
        return x.astype(np.uint8)
    return ((x * np.uint64(255) + np.uint64(top // 2)) // np.uint64(top)).astype(np.uint8)


def _masked(
    name: str,
    bits: int,
    masks: tuple[int, int, int, int],
    *,
    grey: bool = False,
    signed: bool = False,
    normal: bool = False,
) -> _Layout:
    """Texels of `bits` bits with channel bit masks (R, G, B, A); a zero mask is an absent channel."""
    byte_masks = [m == 0 or (m in [0xFF << (8 * k) for k in range(bits // 8)]) for m in masks]
    fast = bits % 8 == 0 and all(byte_masks) and not signed

    def unpack(data: bytes, width: int, height: int) -> np.ndarray:
        out = np.zeros((height, width, 4), np.uint8)
        if fast:
            raw = np.frombuffer(data, np.uint8, width * height * bits // 8).reshape(height, width, -1)
            chans = [raw[..., (m.bit_length() - 1) // 8] if m else None for m in masks]
        else:
            values = _texel_ints(data, bits, width * height).reshape(height, width)
            chans = [_channel(values, m, signed) if m else None for m in masks]
        for c, chan in enumerate(chans):
            if chan is not None:
                out[..., c] = chan
        if grey:
            out[..., 1] = out[..., 2] = out[..., 0]
        if not masks[3]:
            out[..., 3] = 255
        return _rebuild_blue(out) if normal else out

    plain = not (grey or signed or normal)
    return _Layout(name, bits, 0, unpack, bool(masks[3]), (bits, masks) if plain else None)


def _floats(name: str, dtype: str, channels: str) -> _Layout:
    """IEEE float texels ('<f2' or '<f4'), channels one of R, RG, RGB, RGBA; clamped to [0, 1]."""
    n = len(channels)
    bits = np.dtype(dtype).itemsize * 8 * n

    def unpack(data: bytes, width: int, height: int) -> np.ndarray:
        values = np.frombuffer(data, dtype, width * height * n).reshape(height, width, n)
        return _float_rgba(values, channels)

    return _Layout(name, bits, 0, unpack, channels == "RGBA")


def _float_rgba(values: np.ndarray, channels: str) -> np.ndarray:
    f = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    u8 = (np.clip(f, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if channels == "R":
        return _to_rgba(u8[..., 0])
    if channels == "RG":
        out = np.zeros((*u8.shape[:2], 4), np.uint8)
        out[..., :2] = u8
        out[..., 3] = 255
        return _rebuild_blue(out)
    return _to_rgba(u8)


def _unpack_r11g11b10(data: bytes, width: int, height: int) -> np.ndarray:
    # 11- and 10-bit floats share half precision's 5-bit exponent and bias: shift into a half.
    v = np.frombuffer(data, "<u4", width * height).reshape(height, width)
    halves = np.stack([(v & 0x7FF) << 4, ((v >> 11) & 0x7FF) << 4, ((v >> 22) & 0x3FF) << 5], axis=-1)
    return _float_rgba(halves.astype(np.uint16).view(np.float16), "RGB")


def _palette8(palette: bytes) -> _Layout:
    colours = np.frombuffer(palette, np.uint8).reshape(256, 4).copy()
    if not colours[:, 3].any():  # old writers leave PALETTEENTRY.peFlags at 0: not an alpha channel
        colours[:, 3] = 255

    def unpack(data: bytes, width: int, height: int) -> np.ndarray:
        return palette_lookup(colours, np.frombuffer(data, np.uint8, width * height).reshape(height, width))

    return _Layout("P8", 8, 0, unpack, True)


# --- format tables ---------------------------------------------------------------------------

_BGRA8 = (0xFF0000, 0xFF00, 0xFF, 0xFF000000)
_BGRX8 = (0xFF0000, 0xFF00, 0xFF, 0)
_RGBA8 = (0xFF, 0xFF00, 0xFF0000, 0xFF000000)
_RGBA16 = (0xFFFF, 0xFFFF << 16, 0xFFFF << 32, 0xFFFF << 48)
_RG16 = (0xFFFF, 0xFFFF << 16, 0, 0)
_RG8 = (0xFF, 0xFF00, 0, 0)
_R10G10B10A2 = (0x3FF, 0x3FF << 10, 0x3FF << 20, 0x3 << 30)

_BC1 = _bc("BC1", 1, "DXT1")
_BC2 = _bc("BC2", 2, "DXT3")
_BC3 = _bc("BC3", 3, "DXT5")
_BC4 = _bc("BC4", 4, "BC4")
_BC4S = _bc("BC4_SNORM", 4, "BC4", pre=_bc4_signed_as_unsigned)
_BC5 = _bc("BC5", 5, "BC5", post=_rebuild_blue)
_BC5S = _bc("BC5_SNORM", 5, "BC5S", post=_rebuild_blue)
_BC7 = _bc("BC7", 7, "BC7")

_FOURCC: dict[bytes, _Layout] = {
    b"DXT1": _BC1,
    b"DXT2": _BC2,  # premultiplied alpha, shown as stored
    b"DXT3": _BC2,
    b"DXT4": _BC3,
    b"DXT5": _BC3,
    b"ATI1": _BC4,
    b"BC4U": _BC4,
    b"BC4S": _BC4S,
    b"ATI2": _BC5,
    b"BC5U": _BC5,
    b"BC5S": _BC5S,
    b"RXGB": _bc("BC3_RXGB", 3, "DXT5", post=_rxgb_swap),
}

# D3DFMT numbers that some writers store in dwFourCC instead of describing the masks.
_D3DFMT: dict[int, _Layout] = {
    20: _masked("B8G8R8", 24, _BGRX8),
    21: _masked("B8G8R8A8", 32, _BGRA8),
    22: _masked("B8G8R8X8", 32, _BGRX8),
    23: _masked("B5G6R5", 16, (0xF800, 0x7E0, 0x1F, 0)),
    24: _masked("B5G5R5X1", 16, (0x7C00, 0x3E0, 0x1F, 0)),
    25: _masked("B5G5R5A1", 16, (0x7C00, 0x3E0, 0x1F, 0x8000)),
    26: _masked("B4G4R4A4", 16, (0xF00, 0xF0, 0xF, 0xF000)),
    27: _masked("B2G3R3", 8, (0xE0, 0x1C, 0x3, 0)),
    28: _masked("A8", 8, (0, 0, 0, 0xFF)),
    29: _masked("B2G3R3A8", 16, (0xE0, 0x1C, 0x3, 0xFF00)),
    30: _masked("B4G4R4X4", 16, (0xF00, 0xF0, 0xF, 0)),
    31: _masked("R10G10B10A2", 32, _R10G10B10A2),
    32: _masked("R8G8B8A8", 32, _RGBA8),
    33: _masked("R8G8B8X8", 32, (*_RGBA8[:3], 0)),
    34: _masked("R16G16", 32, _RG16, normal=True),
    35: _masked("B10G10R10A2", 32, (0x3FF << 20, 0x3FF << 10, 0x3FF, 0x3 << 30)),
    36: _masked("R16G16B16A16", 64, _RGBA16),
    50: _masked("L8", 8, (0xFF, 0, 0, 0), grey=True),
    51: _masked("L8A8", 16, (0xFF, 0, 0, 0xFF00), grey=True),
    52: _masked("L4A4", 8, (0xF, 0, 0, 0xF0), grey=True),
    60: _masked("V8U8", 16, _RG8, signed=True, normal=True),
    63: _masked("Q8W8V8U8", 32, _RGBA8, signed=True),
    81: _masked("L16", 16, (0xFFFF, 0, 0, 0), grey=True),
    110: _masked("Q16W16V16U16", 64, _RGBA16, signed=True),
    111: _floats("R16_FLOAT", "<f2", "R"),
    112: _floats("R16G16_FLOAT", "<f2", "RG"),
    113: _floats("R16G16B16A16_FLOAT", "<f2", "RGBA"),
    114: _floats("R32_FLOAT", "<f4", "R"),
    115: _floats("R32G32_FLOAT", "<f4", "RG"),
    116: _floats("R32G32B32A32_FLOAT", "<f4", "RGBA"),
}

_R8 = _masked("R8", 8, (0xFF, 0, 0, 0), grey=True)
_R8G8 = _masked("R8G8", 16, _RG8, normal=True)

# DXGI_FORMAT values of the DX10 extension header; typeless and UINT variants read as UNORM.
_DXGI: dict[int, _Layout] = {
    2: _D3DFMT[116],
    6: _floats("R32G32B32_FLOAT", "<f4", "RGB"),
    10: _D3DFMT[113],
    11: _D3DFMT[36],
    13: _masked("R16G16B16A16_SNORM", 64, _RGBA16, signed=True),
    24: _D3DFMT[31],
    26: _Layout("R11G11B10_FLOAT", 32, 0, _unpack_r11g11b10, False),
    27: _D3DFMT[32],
    28: _D3DFMT[32],
    29: _masked("R8G8B8A8_SRGB", 32, _RGBA8),
    30: _D3DFMT[32],
    31: _masked("R8G8B8A8_SNORM", 32, _RGBA8, signed=True),
    34: _D3DFMT[112],
    35: _D3DFMT[34],
    37: _masked("R16G16_SNORM", 32, _RG16, signed=True, normal=True),
    41: _D3DFMT[114],
    48: _R8G8,
    49: _R8G8,
    51: _masked("R8G8_SNORM", 16, _RG8, signed=True, normal=True),
    54: _D3DFMT[111],
    56: _masked("R16", 16, (0xFFFF, 0, 0, 0), grey=True),
    58: _masked("R16_SNORM", 16, (0xFFFF, 0, 0, 0), grey=True, signed=True),
    60: _R8,
    61: _R8,
    62: _R8,
    63: _masked("R8_SNORM", 8, (0xFF, 0, 0, 0), grey=True, signed=True),
    65: _D3DFMT[28],
    70: _BC1,
    71: _BC1,
    72: _bc("BC1_SRGB", 1, "DXT1"),
    73: _BC2,
    74: _BC2,
    75: _bc("BC2_SRGB", 2, "DXT3"),
    76: _BC3,
    77: _BC3,
    78: _bc("BC3_SRGB", 3, "DXT5"),
    79: _BC4,
    80: _BC4,
    81: _BC4S,
    82: _BC5,
    83: _BC5,
    84: _BC5S,
    85: _D3DFMT[23],
    86: _D3DFMT[25],
    87: _D3DFMT[21],
    88: _D3DFMT[22],
    90: _D3DFMT[21],
    91: _masked("B8G8R8A8_SRGB", 32, _BGRA8),
    92: _D3DFMT[22],
    93: _masked("B8G8R8X8_SRGB", 32, _BGRX8),
    94: _bc("BC6H", 6, "BC6H"),
    95: _bc("BC6H", 6, "BC6H"),
    96: _bc("BC6H_SF16", 6, "BC6HS"),
    97: _BC7,
    98: _BC7,
    99: _bc("BC7_SRGB", 7, "BC7"),
    115: _D3DFMT[26],
}

# DDPF_RGB headers whose masks match a plain D3DFMT layout report that layout's name.
_MASK_NAMES = {layout.mask_key: layout.name for layout in _D3DFMT.values() if layout.mask_key}
_LUMINANCE_NAMES = {
    (8, 0xFF, 0): "L8",
    (16, 0xFFFF, 0): "L16",
    (16, 0xFF, 0xFF00): "L8A8",
    (8, 0xF, 0xF0): "L4A4",
}


# --- header ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    width: int
    height: int
    mip_count: int
    volume: bool
    data_start: int
    layout: _Layout


def _mask_layout(req: DecodeRequest, pf_flags: int, bits: int, masks: tuple[int, ...]) -> _Layout:
    r, g, b, a = masks
    if not pf_flags & (_DDPF_ALPHAPIXELS | _DDPF_ALPHA):
        a = 0
    if bits not in (8, 16, 24, 32, 64):
        raise req.error(f"unsupported DDS bit count {bits}")
    if any(m >> bits for m in (r, g, b, a)):
        raise req.error(f"corrupt DDS: channel mask wider than {bits} bits")
    if pf_flags & _DDPF_BUMPDUDV:
        return _masked("V8U8" if bits == 16 else "Q8W8V8U8", bits, (r, g, b, a), signed=True, normal=not b)
    if pf_flags & _DDPF_LUMINANCE:
        name = _LUMINANCE_NAMES.get((bits, r, a), f"L{bits}")
        return _masked(name, bits, (r, 0, 0, a), grey=True)
    if r or g or b:
        name = _MASK_NAMES.get((bits, (r, g, b, a)), f"RGB{bits}")
        return _masked(name, bits, (r, g, b, a))
    if a:  # DDPF_ALPHA: alpha only
        return _masked(f"A{bits}", bits, (0, 0, 0, a))
    raise req.error(f"corrupt DDS: no channel masks (pixel format flags 0x{pf_flags:x})")


def _fourcc_layout(req: DecodeRequest, fourcc: bytes) -> _Layout:
    number = int.from_bytes(fourcc, "little")
    if fourcc in _FOURCC:
        return _FOURCC[fourcc]
    if number in _D3DFMT:
        return _D3DFMT[number]
    shown = fourcc.decode("ascii") if fourcc.isascii() and fourcc.isalnum() else str(number)
    raise req.error(f"unsupported DDS FourCC {shown}")


def _parse_header(fp: BinaryIO, req: DecodeRequest) -> _Header:
    head = fp.read(_HEADER_BYTES)
    if len(head) < _HEADER_BYTES:
        raise req.error(f"truncated DDS: header is {len(head)} of {_HEADER_BYTES} bytes")
    height, width, _pitch, depth, mips = struct.unpack_from("<5I", head, 12)
    pf_flags, fourcc, bits = struct.unpack_from("<I4sI", head, 80)
    masks = struct.unpack_from("<4I", head, 92)
    (caps2,) = struct.unpack_from("<I", head, 112)
    if width == 0 or height == 0:
        raise req.error(f"corrupt DDS: declared size {width}×{height}")
    req.check_pixels(width, height)
    data_start = _HEADER_BYTES
    volume = bool(caps2 & _DDSCAPS2_VOLUME) and depth > 1
    described = pf_flags & (_DDPF_RGB | _DDPF_LUMINANCE | _DDPF_ALPHA | _DDPF_BUMPDUDV)
    if fourcc == b"DX10" and (pf_flags & _DDPF_FOURCC or not described):
        ext = fp.read(_DX10_BYTES)
        if len(ext) < _DX10_BYTES:
            raise req.error("truncated DDS: DX10 header missing")
        dxgi, dimension = struct.unpack_from("<2I", ext)
        data_start += _DX10_BYTES
        volume = dimension == _DX10_TEXTURE3D and depth > 1
        if dxgi not in _DXGI:
            raise req.error(f"unsupported DDS DXGI format {dxgi}")
        layout = _DXGI[dxgi]
    elif fourcc != bytes(4) and (pf_flags & _DDPF_FOURCC or not described):
        # Writers that forget DDPF_FOURCC but fill dwFourCC are trusted when no mask flag competes.
        layout = _fourcc_layout(req, fourcc)
    elif pf_flags & _DDPF_PALETTEINDEXED8:
        fp.seek(data_start)
        palette = fp.read(1024)
        if len(palette) < 1024:
            raise req.error("truncated DDS: palette missing")
        data_start += 1024
        layout = _palette8(palette)
    else:
        layout = _mask_layout(req, pf_flags, bits, masks)
    max_levels = max(width, height).bit_length()
    return _Header(width, height, min(max(mips, 1), max_levels), volume, data_start, layout)


def _level_span(header: _Header, level: int) -> tuple[int, int, int, int]:
    """(file offset, byte count, width, height) of mip `level` of the first face."""
    layout, width, height = header.layout, header.width, header.height
    skipped = sum(layout.level_bytes(max(1, width >> k), max(1, height >> k)) for k in range(level))
    w, h = max(1, width >> level), max(1, height >> level)
    return header.data_start + skipped, layout.level_bytes(w, h), w, h


def decode(fp: BinaryIO, req: DecodeRequest) -> Texture:
    header = _parse_header(fp, req)
    layout = header.layout
    # A pixel hash is of the top level, so a hashing decode does not pick a smaller mip.
    wanted = None if req.hash_pixels else req.min_size
    level = 0 if header.volume else pick_mip_level(header.width, header.height, header.mip_count, wanted)
    offset, size, w, h = _level_span(header, level)
    if level and offset + size > req.file_size:
        log.debug("%s: mip %d is incomplete, decoding the top level", req.path, level)
        offset, size, w, h = _level_span(header, 0)
    found = max(0, req.file_size - offset)
    if size > found:
        raise req.error(f"truncated DDS: expected {size:,} bytes of {layout.name} data, found {found:,}")
    req.reserve(size + w * h * 4 * 2 + band_bytes(w, h))  # data, level, a reduced copy, a band's temporaries
    fp.seek(offset)
    data = fp.read(size)
    if len(data) < size:  # the file shrank while we read it
        raise req.error(f"truncated DDS: expected {size:,} bytes of {layout.name} data, found {len(data):,}")
    try:
        # Whole block rows (BCn) or rows of texels; every per-texel layout has whole bytes per row.
        unit, unit_bytes = (
            (4, max(1, (w + 3) // 4) * layout.block) if layout.block else (1, w * layout.bits // 8)
        )
        pixels = unpack_in_bands(layout.unpack, data, w, h, unit, unit_bytes)
    except (ValueError, OSError) as exc:
        raise req.error(f"corrupt DDS {layout.name} data: {exc}") from exc
    has_alpha = layout.alpha and not is_opaque(pixels)
    info = TextureInfo(
        FORMAT, header.width, header.height, layout.name, has_alpha, header.mip_count, layout.bits
    )
    return Texture(pixels, info)
