"""The libpng PNG decoder returns exactly what Pillow's path returns: pixels, info and error messages."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ai.errors import TextureError
from ai.textures import load_texture, png

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
pytestmark = pytest.mark.skipif(not png.available(), reason="imagecodecs is not installed")


def _both(path: Path, **kw):
    fast = load_texture(path, **kw)
    with png.pillow_only():
        slow = load_texture(path, **kw)
    return fast, slow


def _assert_same(path: Path, **kw) -> None:
    fast, slow = _both(path, **kw)
    assert fast.info == slow.info, path
    assert fast.pixels.shape == slow.pixels.shape and np.array_equal(fast.pixels, slow.pixels), path


def _variants(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(7)
    rgba = rng.integers(0, 256, (67, 45, 4), dtype=np.uint8)
    rgba[:10, :, 3] = 255
    opaque = rgba.copy()
    opaque[..., 3] = 255
    grey = rgba[..., 0]
    images = {
        "rgba": (Image.fromarray(rgba, "RGBA"), {}),
        "rgba_opaque": (Image.fromarray(opaque, "RGBA"), {}),
        "rgb": (Image.fromarray(rgba[..., :3], "RGB"), {}),
        "rgb_trns": (Image.fromarray(rgba[..., :3] // 64 * 64, "RGB"), {"transparency": (0, 64, 128)}),
        "grey": (Image.fromarray(grey, "L"), {}),
        "grey_trns": (Image.fromarray(grey // 32 * 32, "L"), {"transparency": 64}),
        "grey_alpha": (Image.fromarray(rgba[..., :2], "LA"), {}),
        "mono": (Image.fromarray(grey > 128), {}),
        "grey4": (Image.fromarray(grey // 17 * 17, "L"), {"bits": 4}),
        "grey2": (Image.fromarray(grey // 85 * 85, "L"), {"bits": 2}),
        "palette16": (Image.fromarray(rgba[..., :3], "RGB").quantize(16), {"bits": 4}),
        "palette256": (Image.fromarray(rgba[..., :3], "RGB").quantize(256), {}),
        "palette_trns": (Image.fromarray(rgba[..., :3], "RGB").quantize(32), {"transparency": 5}),
        "big_rgb": (Image.fromarray(np.repeat(np.repeat(rgba[..., :3], 9, 0), 11, 1), "RGB"), {}),
        "big_rgba": (Image.fromarray(np.repeat(np.repeat(rgba, 9, 0), 11, 1), "RGBA"), {}),
    }
    paths = []
    for name, (image, options) in images.items():
        path = tmp_path / f"{name}.png"
        image.save(path, "PNG", **options)
        paths.append(path)
    return paths


def test_every_png_fixture_decodes_identically_to_pillow():
    fixtures = sorted(FIXTURES.rglob("*.png"))
    assert fixtures, "the committed fixtures have PNGs"
    for path in fixtures:
        _assert_same(path)
        _assert_same(path, min_size=32)  # reduced decodes too


def test_every_colour_type_and_bit_depth_decodes_identically_to_pillow(tmp_path, monkeypatch):
    calls = []
    real = png.png_decode
    monkeypatch.setattr(png, "png_decode", lambda data: calls.append(1) or real(data))
    paths = _variants(tmp_path)
    for path in paths:
        for min_size in (None, 16, 100, 160):
            _assert_same(path, min_size=min_size)
    assert len(calls) == 4 * len(paths)  # libpng decoded every one of them (none fell back)


def _adam7_png(rgba: np.ndarray) -> bytes:
    """An Adam7-interlaced RGBA PNG (Pillow cannot write one): seven passes, filter 0, one IDAT."""
    import struct
    import zlib

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    h, w = rgba.shape[:2]
    raw = b""
    for y0, x0, dy, dx in ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1)):
        sub = rgba[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\0" + row.tobytes() for row in sub)
    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 1)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_adam7_interlaced_png_decodes_identically_without_a_libpng_warning(tmp_path):
    import subprocess
    import sys

    rgba = np.random.default_rng(3).integers(0, 256, (33, 40, 4), dtype=np.uint8)
    path = tmp_path / "adam7.png"
    path.write_bytes(_adam7_png(rgba))
    # libpng prints "Interlace handling should be turned on …" through C stdio (flushed at exit),
    # so only a separate process shows whether decoding writes anything.
    code = f"from ai.textures import load_texture; load_texture({str(path)!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout + done.stderr == ""
    fast, slow = _both(path)
    assert np.array_equal(slow.pixels, rgba)  # the hand-made file is what it claims
    _assert_same(path)
    _assert_same(path, min_size=16)


def test_16_bit_png_goes_to_pillow(tmp_path):
    wide = (np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 21).astype(np.uint16)
    path = tmp_path / "wide.png"
    Image.fromarray(wide).save(path)
    fast, slow = _both(path)
    assert fast.info == slow.info and fast.info.pixel_format == "L16"
    assert np.array_equal(fast.pixels, slow.pixels)


@pytest.mark.parametrize("cut", [20, 40, 200])
def test_broken_pngs_fail_with_pillows_message(tmp_path, cut):
    good = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 4), dtype=np.uint8)).save(good, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(good.getvalue()[:cut])
    with pytest.raises(TextureError) as fast:
        load_texture(path)
    with png.pillow_only(), pytest.raises(TextureError) as slow:
        load_texture(path)
    assert str(fast.value) == str(slow.value)


def test_a_header_declaring_no_pixels_fails_with_pillows_message(tmp_path):
    import struct
    import zlib

    good = io.BytesIO()
    Image.new("RGB", (4, 4)).save(good, "PNG")
    data = bytearray(good.getvalue())
    data[16:20] = struct.pack(">I", 0)  # width 0
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path = tmp_path / "empty.png"
    path.write_bytes(bytes(data))
    with pytest.raises(TextureError) as fast:
        load_texture(path, min_size=160)
    with png.pillow_only(), pytest.raises(TextureError) as slow:
        load_texture(path, min_size=160)
    assert str(fast.value) == str(slow.value)


def test_declared_size_is_checked_before_decoding(tmp_path):
    path = tmp_path / "large.png"
    Image.new("RGB", (300, 200)).save(path)
    with pytest.raises(TextureError, match="too many pixels"):
        load_texture(path, max_pixels=300 * 200 - 1)
