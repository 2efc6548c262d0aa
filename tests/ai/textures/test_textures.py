"""The texture front door: decoder choice, Pillow formats, limits, min_size, and the real fixtures."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ai.errors import TextureError
from ai.textures.base import pick_mip_level, reduction_factor
from ai.textures.loader import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED_EXTENSIONS,
    decoders,
    is_texture_path,
    load_texture,
)
from ai.textures.synth import synth_image, write_dds, write_png, write_tga, write_tim2

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SYNTHETIC = FIXTURES / "tim2"  # made by the project's own writer: see its README, not real game files
FIXTURE_FILES = sorted(
    p for p in FIXTURES.rglob("*") if p.is_file() and p.name != "README.md" and SYNTHETIC not in p.parents
)


def test_supported_extensions_are_exactly_those_of_the_registered_decoders():
    registered = {ext for decoder in decoders() for ext in decoder.EXTENSIONS}
    assert registered == SUPPORTED_EXTENSIONS
    assert {".dds", ".png", ".tga", ".bmp", ".jpg", ".jpeg", ".tm2", ".tim2"} == SUPPORTED_EXTENSIONS
    assert DEFAULT_MAX_PIXELS >= 8192 * 8192


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.DDS", True),
        ("b.Tm2", True),
        ("dir/c.tim2", True),
        ("d.jpeg", True),
        ("e.txt", False),
        ("png", False),
    ],
)
def test_is_texture_path_goes_by_the_extension_in_any_case(name, expected):
    assert is_texture_path(name) is expected
    assert is_texture_path(Path(name)) is expected


def test_magic_bytes_win_over_a_wrong_extension(tmp_path):
    source = synth_image(16, "alpha")
    write_png(tmp_path / "really_png.tga", source)
    write_dds(tmp_path / "really_dds.png", source, "DX10_R8G8B8A8")
    write_tim2(tmp_path / "really_tim2.dds", source, "PSMCT32")
    assert load_texture(tmp_path / "really_png.tga").info.format == "PNG"
    assert load_texture(tmp_path / "really_dds.png").info.format == "DDS"
    assert load_texture(tmp_path / "really_tim2.dds").info.format == "TIM2"


@pytest.mark.parametrize(("mode", "rle"), [("RGBA", False), ("RGBA", True), ("RGB", True), ("L", False)])
def test_tga_has_no_magic_and_is_found_by_its_extension(tmp_path, mode, rle):
    source = synth_image((24, 10), "cutout", seed=1)
    expected = write_tga(tmp_path / "t.tga", source, mode, rle=rle)
    texture = load_texture(tmp_path / "t.tga")
    assert texture.info.format == "TGA"
    assert np.array_equal(texture.pixels, expected)  # orientation included


@pytest.mark.parametrize(
    ("mode", "pixel_format", "bits", "has_alpha"),
    [
        ("RGBA", "RGBA8", 32, True),
        ("RGB", "RGB8", 24, False),
        ("L", "L8", 8, False),
        ("LA", "LA8", 16, True),
        ("P", "P8", 8, True),
    ],  # fmt: skip
)
def test_png_modes_decode_to_rgba(tmp_path, mode, pixel_format, bits, has_alpha):
    expected = write_png(tmp_path / "t.png", synth_image((20, 12), "cutout", seed=2), mode)
    texture = load_texture(tmp_path / "t.png")
    assert np.array_equal(texture.pixels, expected)
    assert (texture.info.pixel_format, texture.info.bit_depth, texture.info.has_alpha) == (
        pixel_format,
        bits,
        has_alpha,
    )


def test_opaque_png_with_an_alpha_channel_has_no_alpha(tmp_path):
    write_png(tmp_path / "t.png", synth_image(8, "gradient"))
    assert not load_texture(tmp_path / "t.png").info.has_alpha


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path):
    wide = np.array([[0, 257 * 100, 65535, 300]], np.uint16)
    Image.fromarray(wide).save(tmp_path / "g16.png")
    texture = load_texture(tmp_path / "g16.png")
    assert texture.pixels[0, :, 0].tolist() == [0, 100, 255, 1]
    assert texture.info.pixel_format == "L16"


def test_jpeg_and_bmp_decode(tmp_path):
    source = synth_image(32, "gradient")
    Image.fromarray(source[..., :3]).save(tmp_path / "t.jpg", quality=95)
    quantized = Image.fromarray(source[..., :3]).quantize(64)
    quantized.save(tmp_path / "t.bmp")
    jpeg = load_texture(tmp_path / "t.jpg")
    assert jpeg.info.format == "JPEG" and not jpeg.info.has_alpha
    assert np.abs(jpeg.pixels[..., :3].astype(int) - source[..., :3]).mean() < 3
    bmp = load_texture(tmp_path / "t.bmp")
    assert (bmp.info.format, bmp.info.pixel_format) == ("BMP", "P8")
    assert np.array_equal(bmp.pixels, np.asarray(quantized.convert("RGBA")))


@pytest.mark.parametrize(
    ("suffix", "mode", "pixel_hash"),
    [
        ("tga", "RGB", False),
        ("tga", "L", True),
        ("bmp", "RGB", True),
        ("jpg", "RGB", True),
        ("jpg", "L", True),
    ],
)
def test_an_opaque_picture_is_reduced_to_the_same_pixels_as_premultiplied_rgba(
    tmp_path, suffix, mode, pixel_hash
):
    # Reduced as RGBX (no premultiplying around the reduce); JPEG hashed, so not drafted smaller.
    path = tmp_path / f"t.{suffix}"
    Image.fromarray(synth_image((203, 150), "noise", seed=3)[..., :3]).convert(mode).save(path)
    factor = reduction_factor(203, 150, 64)
    with Image.open(path) as stored:
        expected = np.asarray(stored.convert("RGBA").reduce(factor))
    texture = load_texture(path, min_size=64, pixel_hash=pixel_hash)
    assert factor == 2 and not texture.info.has_alpha
    assert np.array_equal(texture.pixels, expected)
    if pixel_hash:  # of the full-size picture, as an unreduced decode hashes it
        assert texture.pixel_hash == load_texture(path, pixel_hash=True).pixel_hash


@pytest.mark.parametrize(
    ("suffix", "kind", "pixel_hash"),
    [("tm2", "alpha", False), ("tm2", "gradient", True), ("dds", "cutout", True), ("dds", "noise", False)],
)
def test_a_level_with_no_smaller_stored_size_is_reduced_by_the_loader(tmp_path, suffix, kind, pixel_hash):
    # TIM2 and a DDS without mips store one size: load_texture box-reduces it for the ask, to
    # Pillow's premultiplied reduce of the full decode, after hashing it.
    path = tmp_path / f"t.{suffix}"
    if suffix == "tm2":
        write_tim2(path, synth_image((200, 136), kind, seed=4), "PSMT8")
    else:
        write_dds(path, synth_image((200, 136), kind, seed=4), "DXT5", mip_levels=1)
    full = load_texture(path, pixel_hash=True)
    texture = load_texture(path, min_size=64, pixel_hash=pixel_hash)
    factor = reduction_factor(200, 136, 64)
    assert factor == 2 and texture.pixels.shape == (68, 100, 4)
    assert np.array_equal(texture.pixels, np.asarray(Image.fromarray(full.pixels, "RGBA").reduce(factor)))
    assert texture.info == full.info  # what the file declares, not the reduced size
    assert texture.pixel_hash == (full.pixel_hash if pixel_hash else None)  # of the full-size picture


def test_pixels_are_read_only_contiguous_rgba_uint8(tmp_path):
    write_tim2(tmp_path / "t.tm2", synth_image(8, "noise"), "PSMT4", clut_bits=16)
    pixels = load_texture(tmp_path / "t.tm2").pixels
    assert pixels.dtype == np.uint8 and pixels.shape == (8, 8, 4) and pixels.flags.c_contiguous
    with pytest.raises(ValueError):
        pixels[0, 0, 0] = 1


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.png", b"", "empty file"),
        ("notes.txt", b"hello", "not a supported texture format"),
        ("fake.png", b"hello, not a png", "cannot decode PNG: not a PNG file"),
        ("fake.jpg", b"\xff\xd8\xff" + bytes(40), "cannot decode JPEG"),
        ("fake.bmp", b"BM" + bytes(40), "cannot decode BMP"),
        ("fake.tga", bytes(10), "cannot decode TGA"),
        ("short.png", (FIXTURES / "0ad/public/art/icons/window.png").read_bytes()[:5000], "truncated PNG"),
    ],
)
def test_unreadable_content_raises_texture_error_naming_the_file(tmp_path, name, data, reason):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(TextureError) as caught:
        load_texture(tmp_path / name)
    assert caught.value.path == str(tmp_path / name)
    assert caught.value.reason.startswith(reason)


def test_missing_file_and_directory_raise_texture_error(tmp_path):
    with pytest.raises(TextureError, match="cannot read file"):
        load_texture(tmp_path / "nope.dds")
    with pytest.raises(TextureError, match="cannot read file"):
        load_texture(str(tmp_path / "nul\0.dds"))
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(TextureError, match="not a regular file"):
        load_texture(tmp_path / "folder.png")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_named_pipe_is_refused_instead_of_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.dds")
    with pytest.raises(TextureError, match="not a regular file"):
        load_texture(tmp_path / "pipe.dds")


@pytest.mark.parametrize("suffix", ["png", "jpg", "tga", "bmp", "dds", "tm2"])
def test_pixel_limit_applies_to_every_format(tmp_path, suffix):
    source = synth_image(32, "gradient")
    path = tmp_path / f"t.{suffix}"
    if suffix == "dds":
        write_dds(path, source, "DXT1")
    elif suffix == "tm2":
        write_tim2(path, source, "PSMCT24")
    else:
        Image.fromarray(source[..., :3]).save(path)
    assert load_texture(path, max_pixels=32 * 32).pixels.shape == (32, 32, 4)
    with pytest.raises(TextureError, match="too many pixels: 32×32 is over the limit of 1,023"):
        load_texture(path, max_pixels=32 * 32 - 1)


def test_our_limit_not_pillows_decides_how_big_a_png_may_be(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # e.g. lowered by someone else
    write_png(tmp_path / "t.png", synth_image(64, "noise"))
    assert load_texture(tmp_path / "t.png").pixels.shape == (64, 64, 4)
    assert Image.MAX_IMAGE_PIXELS == 100  # and we leave Pillow's global alone


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.mark.parametrize("side", [9000, 100_000])
def test_png_declaring_a_huge_size_is_refused_without_decoding(tmp_path, side):
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    body = (
        _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(bytes(1000))) + _png_chunk(b"IEND", b"")
    )
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    with pytest.raises(TextureError, match="too many pixels"):
        load_texture(tmp_path / "bomb.png")


def test_bad_arguments_are_programming_errors_not_texture_errors(tmp_path):
    with pytest.raises(ValueError):
        load_texture(tmp_path / "x.png", max_pixels=0)
    with pytest.raises(ValueError):
        load_texture(tmp_path / "x.png", min_size=0)


# --- min_size --------------------------------------------------------------------------------


def test_reduction_helpers_never_go_below_min_size():
    assert reduction_factor(512, 512, 100) == 5
    assert reduction_factor(300, 60, 50) == 1
    assert reduction_factor(40, 40, 64) == 1
    assert reduction_factor(512, 512, None) == 1
    assert pick_mip_level(256, 256, 9, 64) == 2
    assert pick_mip_level(256, 64, 9, 64) == 0
    assert pick_mip_level(256, 256, 2, 1) == 1


@pytest.mark.parametrize("suffix", ["png", "jpg", "tga", "bmp", "dds"])
def test_min_size_gives_a_smaller_array_but_never_below_min_size(tmp_path, suffix):
    source = synth_image((512, 384), "gradient")
    path = tmp_path / f"big.{suffix}"
    if suffix == "dds":
        write_dds(path, source, "DXT5", mip_levels=10)
    else:
        Image.fromarray(source[..., :3]).save(path)
    full = load_texture(path)
    small = load_texture(path, min_size=100)
    assert full.pixels.shape == (384, 512, 4)
    assert small.pixels.shape[0] < 384 and small.pixels.shape[1] < 512
    assert min(small.pixels.shape[:2]) >= 100
    assert (small.info.width, small.info.height) == (512, 384)
    shrunk = np.asarray(Image.fromarray(full.pixels).resize(small.pixels.shape[1::-1], Image.Resampling.BOX))
    assert np.abs(shrunk.astype(int) - small.pixels).mean() < 6  # the same picture, smaller


def test_min_size_keeps_small_images_whole(tmp_path):
    write_png(tmp_path / "s.png", synth_image((40, 300), "noise"))
    assert load_texture(tmp_path / "s.png", min_size=64).pixels.shape == (300, 40, 4)


# --- the real fixtures -----------------------------------------------------------------------


def _declared_size(path: Path) -> tuple[int, int]:
    if path.suffix == ".dds":
        height, width = struct.unpack_from("<II", path.read_bytes(), 12)
        return width, height
    with Image.open(path) as image:
        return image.size


def test_fixture_set_is_small_and_every_file_is_documented():
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    assert 25 <= len(FIXTURE_FILES) <= 40
    assert sum(p.stat().st_size for p in FIXTURE_FILES) < 5_000_000
    for path in FIXTURE_FILES:
        assert f"`{path.relative_to(FIXTURES).as_posix()}`" in readme


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_every_real_fixture_decodes_at_its_declared_size(path):
    texture = load_texture(path)
    width, height = _declared_size(path)
    assert (texture.info.width, texture.info.height) == (width, height)
    assert texture.pixels.shape == (height, width, 4)
    assert texture.info.has_alpha == bool(texture.pixels[..., 3].min() < 255)


READABLE_BY_PILLOW = [p for p in FIXTURE_FILES if p.suffix == ".dds" and "sans-10" not in p.name]


@pytest.mark.parametrize("path", READABLE_BY_PILLOW, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_real_dds_fixtures_match_pillows_decode(path):
    texture = load_texture(path)
    with Image.open(path) as image:
        theirs = np.asarray(image.convert("RGBA"))
    if texture.info.pixel_format == "BC5":  # we rebuild blue, Pillow leaves it at 0
        assert np.array_equal(texture.pixels[..., :2], theirs[..., :2])
    else:
        assert np.array_equal(texture.pixels, theirs)
