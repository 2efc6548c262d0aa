"""Hostile and broken files: each one decodes to a valid RGBA array or raises TextureError, quickly."""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai.errors import TextureError
from ai.textures import load_texture
from ai.textures.synth import encode_dds, encode_tim2, synth_image, write_tga

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# A generous guard against hangs, not a speed requirement: every file here decodes in milliseconds.
HANG_GUARD_SECONDS = 5.0

REAL_SOURCES = [
    "0ad/public/art/textures/skies/cirrus/back.dds.cached.dds",  # DXT1
    "0ad/public/art/textures/skins/props/shield/kart_round_ah.dds.cached.dds",  # DXT5
    "0ad/public/art/textures/animated/water/default/normal29.dds.cached.dds",  # uncompressed, mips
    "0ad/mod/fonts/sans-10.png.cached.dds",  # DDPF_ALPHA
    "redeclipse/data/projectiles/cartridge/normal.dds",  # ATI2
    "0ad/public/art/textures/cursors/action-attack.png",
    "redeclipse/data/fonts/play0.png",
    "redeclipse/data/projectiles/cartridge/skin.jpg",
    "redeclipse/data/actors/player/RE_Player_mask.tga",
]
SYNTHETIC_SOURCES = ["synthetic-bc7.dds", "synthetic-psmt8.tm2", "synthetic-psmt4.tm2", "synthetic-rle.tga"]


def _source_bytes(name: str, tmp_path: Path) -> bytes:
    if not name.startswith("synthetic-"):
        return (FIXTURES / name).read_bytes()
    picture = synth_image((48, 40), "cutout", seed=9)
    if name == "synthetic-bc7.dds":
        return encode_dds(picture, "DX10_BC7", mip_levels=4)[0]
    if name == "synthetic-psmt8.tm2":
        return encode_tim2(picture, "PSMT8", clut_bits=32, align128=True, mip_levels=2)[0]
    if name == "synthetic-psmt4.tm2":
        return encode_tim2(picture, "PSMT4", clut_bits=16)[0]
    write_tga(tmp_path / "source.tga", picture, rle=True)
    return (tmp_path / "source.tga").read_bytes()


def _put(data: bytes, offset: int, fmt: str, *values) -> bytes:
    size = struct.calcsize(fmt)
    if offset + size > len(data):
        return data
    return data[:offset] + struct.pack(fmt, *values) + data[offset + size :]


def _size_edits(data: bytes, suffix: str) -> Iterator[tuple[str, bytes]]:
    """Wrong and absurd declared sizes, in the header fields of each format."""
    sides = [(0, 16), (16, 0), (1, 1), (3, 5), (65535, 65535), (2**31, 2**31), (2**32 - 1, 7), (4096, 4096)]
    if suffix == ".dds":
        for w, h in sides:
            yield f"dds-size-{w}x{h}", _put(data, 12, "<II", h, w)
        for mips in (0, 2, 200, 2**32 - 1):
            yield f"dds-mips-{mips}", _put(data, 28, "<I", mips)
        for bits in (0, 7, 33, 2**31):
            yield f"dds-bits-{bits}", _put(_put(data, 80, "<I", 0x41), 88, "<I", bits)
        for dxgi in (0, 45, 99, 130, 2**32 - 1):
            yield f"dds-dx10-{dxgi}", _put(_put(_put(data, 80, "<I", 4), 84, "4s", b"DX10"), 128, "<I", dxgi)
    elif suffix == ".tm2":
        picture = 128 if data[5] == 1 else 16
        for w, h in sides:
            yield f"tim2-size-{w}x{h}", _put(data, picture + 20, "<HH", min(w, 65535), min(h, 65535))
        for field, offset, fmt in (
            ("image", 8, "<I"),
            ("clut", 4, "<I"),
            ("header", 12, "<H"),
            ("colours", 14, "<H"),
        ):
            for value in (0, 1, 47, 2**15):
                yield f"tim2-{field}-{value}", _put(data, picture + offset, fmt, value)
        for clut_type in (0, 0x3F, 0x44, 0xC3):
            yield f"tim2-clut-type-{clut_type}", _put(data, picture + 18, "<B", clut_type)
        yield "tim2-no-pictures", _put(data, 6, "<H", 0)
    elif suffix == ".png":
        for w, h in sides:
            ihdr = struct.pack(">II", w % 2**32, h % 2**32) + data[24:29]
            fixed = _put(data, 16, ">II", w % 2**32, h % 2**32)
            yield f"png-size-{w}x{h}-bad-crc", fixed
            yield f"png-size-{w}x{h}", _put(fixed, 29, ">I", zlib.crc32(b"IHDR" + ihdr))
    elif suffix == ".tga":
        for w, h in sides:
            yield f"tga-size-{w}x{h}", _put(data, 12, "<HH", min(w, 65535), min(h, 65535))
        for depth in (0, 7, 64):
            yield f"tga-depth-{depth}", _put(data, 16, "<B", depth)
    elif suffix == ".jpg":
        at = data.find(b"\xff\xc0")
        for w, h in sides:
            yield f"jpeg-size-{w}x{h}", _put(data, at + 5, ">HH", min(h, 65535), min(w, 65535))


def variants(data: bytes, suffix: str) -> Iterator[tuple[str, bytes]]:
    rng = np.random.default_rng(len(data))
    n = len(data)
    yield "empty", b""
    for cut in sorted({1, 2, 3, 4, 8, 15, 16, 17, 47, 48, 64, 100, 127, 128, 129, 147, 148, 149, 200,
                       n // 4, n // 2, 3 * n // 4, n - 1}):  # fmt: skip
        if 0 < cut < n:
            yield f"truncated-{cut}", data[:cut]
    header = min(n, 148)
    for i in range(14):
        offset, bit = int(rng.integers(4, header)), int(rng.integers(8))
        flipped = bytearray(data)
        flipped[offset] ^= 1 << bit
        yield f"bitflip-{offset}-{bit}-{i}", bytes(flipped)
    for i in range(4):
        offset = int(rng.integers(4, max(5, header - 4)))
        yield f"garbage-header-{i}", data[:offset] + rng.bytes(4) + data[offset + 4 :]
    for length in (0, 10, 200, 5000):
        yield f"magic-then-garbage-{length}", data[:4] + rng.bytes(length)
    yield "trailing-garbage", data + rng.bytes(333)
    yield from _size_edits(data, suffix)


def _check(path: Path, failures: list[str]) -> float:
    started = time.perf_counter()
    try:
        texture = load_texture(path)
    except TextureError as exc:
        if exc.path != str(path) or not exc.reason:
            failures.append(f"{path.name}: TextureError without path or reason: {exc!r}")
    except Exception as exc:  # noqa: BLE001 — the point of this test is that nothing else escapes
        failures.append(f"{path.name}: {type(exc).__name__}: {exc}")
    else:
        p = texture.pixels
        if p.dtype != np.uint8 or p.ndim != 3 or p.shape[2] != 4 or min(p.shape[:2]) < 1:
            failures.append(f"{path.name}: invalid pixels {p.dtype} {p.shape}")
    return time.perf_counter() - started


def _suffix(name: str) -> str:
    return Path(name).suffix


@pytest.mark.parametrize("source", REAL_SOURCES + SYNTHETIC_SOURCES)
def test_corrupted_variants_decode_or_raise_texture_error(tmp_path, source):
    data = _source_bytes(source, tmp_path)
    suffix = _suffix(source)
    failures: list[str] = []
    slowest = 0.0
    for name, corrupted in variants(data, suffix):
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(corrupted)
        slowest = max(slowest, _check(path, failures))
    assert not failures, "\n".join(failures)
    assert slowest < HANG_GUARD_SECONDS


def test_there_are_at_least_300_corrupted_variants(tmp_path):
    count = sum(
        1
        for source in REAL_SOURCES + SYNTHETIC_SOURCES
        for _ in variants(_source_bytes(source, tmp_path), _suffix(source))
    )
    assert count >= 300


# --- property-based header fuzzing -----------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
u32 = st.integers(0, 2**32 - 1)
small_side = st.sampled_from([1, 2, 3, 4, 5, 7, 8, 16, 33, 64])


@FUZZ
@given(
    width=small_side | u32,
    height=small_side | u32,
    mips=st.sampled_from([0, 1, 3, 12]) | u32,
    pf_flags=st.sampled_from([0x4, 0x40, 0x41, 0x20000, 0x20001, 0x2, 0x20, 0x80000]) | u32,
    fourcc=st.sampled_from([b"DXT1", b"DXT3", b"DXT5", b"ATI1", b"ATI2", b"BC4S", b"BC5S", b"RXGB", b"DX10",
                            b"\x15\0\0\0", b"\x24\0\0\0", b"\x71\0\0\0", bytes(4)]) | st.binary(min_size=4, max_size=4),
    bits=st.sampled_from([8, 16, 24, 32, 64]) | u32,
    masks=st.tuples(u32, u32, u32, u32),
    dxgi=st.integers(0, 140),
    depth=st.sampled_from([0, 1, 4]),
    caps2=st.sampled_from([0, 0xFE00, 0x200000]),
    payload=st.integers(0, 6000),
)  # fmt: skip
def test_fuzzed_dds_headers_never_escape_as_other_errors(
    tmp_path, width, height, mips, pf_flags, fourcc, bits, masks, dxgi, depth, caps2, payload
):
    header = struct.pack(
        "<4s7I44x2I4s5I4I4x", b"DDS ", 124, 0x100F, height, width, 0, depth, mips, 32, pf_flags, fourcc, bits,
        *masks, 0x1000, caps2, 0, 0,
    )  # fmt: skip
    if fourcc == b"DX10":
        header += struct.pack("<5I", dxgi, 3, 0, 1, 0)
    path = tmp_path / "fuzz.dds"
    path.write_bytes(header + bytes(range(256)) * (payload // 256) + bytes(payload % 256))
    failures: list[str] = []
    _check(path, failures)
    assert not failures, failures


@FUZZ
@given(
    format_id=st.integers(0, 255),
    count=st.integers(0, 3),
    sizes=st.tuples(u32, u32, u32),
    header_size=st.sampled_from([48, 64, 128]) | st.integers(0, 65535),
    colours=st.sampled_from([0, 16, 256]) | st.integers(0, 65535),
    mips=st.integers(0, 255),
    clut_type=st.sampled_from([0, 1, 2, 3, 0x83]) | st.integers(0, 255),
    image_type=st.integers(0, 8),
    width=small_side | st.integers(0, 65535),
    height=small_side | st.integers(0, 65535),
    payload=st.integers(0, 6000),
)
def test_fuzzed_tim2_headers_never_escape_as_other_errors(
    tmp_path,
    format_id,
    count,
    sizes,
    header_size,
    colours,
    mips,
    clut_type,
    image_type,
    width,
    height,
    payload,
):
    head = struct.pack("<4sBBH8x", b"TIM2", 4, format_id, count)
    if format_id == 1:
        head += bytes(112)
    picture = struct.pack(
        "<IIIHHBBBBHHQQII",
        *sizes,
        header_size,
        colours,
        0,
        mips,
        clut_type,
        image_type,
        width,
        height,
        0,
        0,
        0,
        0,
    )
    path = tmp_path / "fuzz.tm2"
    path.write_bytes(head + picture + bytes(range(256)) * (payload // 256) + bytes(payload % 256))
    failures: list[str] = []
    _check(path, failures)
    assert not failures, failures
