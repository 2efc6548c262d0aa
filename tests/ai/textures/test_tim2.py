"""PS2 TIM2 decoding: every pixel format, CLUT order, GS alpha, alignment, and the official samples."""

from __future__ import annotations

import importlib.util
import itertools
import struct
from pathlib import Path

import numpy as np
import pytest

from ai.errors import TextureError
from ai.textures import load_texture
from ai.textures.synth import synth_image, write_tim2

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "tim2"

CASES = [("PSMCT16", 32), ("PSMCT24", 32), ("PSMCT32", 32)] + [
    (fmt, clut) for fmt, clut in itertools.product(("PSMT4", "PSMT8"), (16, 24, 32))
]
LAYOUTS = [  # (csm2, align128, mip_levels, extended header)
    (False, False, 1, b""),
    (True, False, 3, b""),
    (False, True, 2, b"eXt\0" + struct.pack("<3I", 16, 0, 0) + b"user data here!!"),
]


@pytest.mark.parametrize(("pixel_format", "clut_bits"), CASES)
@pytest.mark.parametrize(("csm2", "align128", "mips", "extended"), LAYOUTS)
@pytest.mark.parametrize("kind", ["cutout", "alpha", "normal"])
def test_every_tim2_pixel_format_decodes_to_its_expected_pixels(
    tmp_path, pixel_format, clut_bits, csm2, align128, mips, extended, kind
):
    source = synth_image((40, 24), kind, seed=5)
    path = tmp_path / "t.tm2"
    expected = write_tim2(
        path, source, pixel_format, clut_bits=clut_bits, csm2=csm2, align128=align128,
        mip_levels=mips, extended_header=extended,
    )  # fmt: skip

    texture = load_texture(path)

    assert np.array_equal(texture.pixels, expected)
    indexed = pixel_format.startswith("PSMT")
    info = texture.info
    assert info.format == "TIM2"
    assert info.pixel_format == (f"{pixel_format}/CLUT{clut_bits}" if indexed else pixel_format)
    assert (info.width, info.height, info.mip_count) == (40, 24, mips)
    assert info.bit_depth == {"PSMT4": 4, "PSMT8": 8}.get(pixel_format) or int(pixel_format[5:])
    assert info.has_alpha == bool(expected[..., 3].min() < 255)


def test_direct_colour_round_trip_keeps_the_precision_of_each_format(tmp_path):
    source = synth_image(32, "alpha", seed=2)
    for pixel_format, colour_error, alpha_error in (
        ("PSMCT32", 0, 1),
        ("PSMCT24", 0, 255),
        ("PSMCT16", 7, 255),
    ):
        write_tim2(tmp_path / "t.tm2", source, pixel_format)
        pixels = load_texture(tmp_path / "t.tm2").pixels.astype(int)
        assert np.abs(pixels[..., :3] - source[..., :3]).max() <= colour_error
        assert np.abs(pixels[..., 3] - source[..., 3]).max() <= alpha_error


def _tim2(image_type, width, height, image: bytes, clut: bytes = b"", clut_type=0, colours=0) -> bytes:
    header = struct.pack(
        "<IIIHHBBBBHHQQII", 48 + len(image) + len(clut), len(clut), len(image), 48, colours, 0, 1, clut_type,
        image_type, width, height, 0, 0, 0, 0,
    )  # fmt: skip
    return struct.pack("<4sBBH8x", b"TIM2", 4, 0, 1) + header + image + clut


def test_csm1_clut_has_entries_8_to_15_swapped_with_16_to_23_and_csm2_is_linear(tmp_path):
    indices = bytes(range(256))  # a 16×16 picture of every index once
    stored = np.zeros((256, 4), np.uint8)
    stored[:, 0] = np.arange(256)  # red = position in the stored CLUT
    stored[:, 3] = 0x80
    for clut_type, index, position in (
        (0x03, 8, 16),
        (0x03, 16, 8),
        (0x03, 40, 48),
        (0x03, 7, 7),
        (0x83, 8, 8),
    ):
        path = tmp_path / "csm.tm2"
        path.write_bytes(_tim2(5, 16, 16, indices, stored.tobytes(), clut_type, 256))
        assert load_texture(path).pixels.reshape(-1, 4)[index, 0] == position


def test_4bit_indices_are_packed_low_nibble_first(tmp_path):
    clut = np.zeros((16, 4), np.uint8)
    clut[:, 1] = np.arange(16) * 16
    clut[:, 3] = 0x80
    (tmp_path / "t.tm2").write_bytes(_tim2(4, 4, 1, bytes([0x21, 0xF3]), clut.tobytes(), 0x03, 16))
    assert load_texture(tmp_path / "t.tm2").pixels[0, :, 1].tolist() == [16, 32, 48, 240]


def test_gs_alpha_0x80_is_opaque_and_other_values_double_and_clamp(tmp_path):
    texels = bytes([9, 9, 9, 0x80, 9, 9, 9, 0x40, 9, 9, 9, 0xFF, 9, 9, 9, 0x00])
    (tmp_path / "t.tm2").write_bytes(_tim2(3, 4, 1, texels))
    texture = load_texture(tmp_path / "t.tm2")
    assert texture.pixels[0, :, 3].tolist() == [255, 128, 255, 0]
    assert texture.info.has_alpha


def test_16bit_texels_are_a1b5g5r5_with_the_stp_bit_as_opacity(tmp_path):
    values = [0x801F, 0x03E0, 0x7C00, 0x8000 | (16 << 10) | (8 << 5) | 1]
    (tmp_path / "t.tm2").write_bytes(_tim2(1, 4, 1, struct.pack("<4H", *values)))
    assert load_texture(tmp_path / "t.tm2").pixels[0].tolist() == [
        [255, 0, 0, 255], [0, 255, 0, 0], [0, 0, 255, 0], [8, 66, 132, 255],
    ]  # fmt: skip


def test_picture_whose_alpha_is_zero_everywhere_is_read_as_not_using_alpha(tmp_path):
    (tmp_path / "t.tm2").write_bytes(_tim2(1, 2, 1, struct.pack("<2H", 0x001F, 0x7C00)))
    texture = load_texture(tmp_path / "t.tm2")
    assert texture.pixels[0].tolist() == [[255, 0, 0, 255], [0, 0, 255, 255]]
    assert not texture.info.has_alpha


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (struct.pack("<4sBBH8x", b"TIM2", 4, 0, 0), "TIM2 file holds no pictures"),
        (b"TIM2\x04\x00", "truncated TIM2: file header is 6 of 16 bytes"),
        (struct.pack("<4sBBH8x", b"TIM2", 4, 0, 1) + bytes(20), "truncated TIM2: picture header missing"),
        (_tim2(7, 4, 4, bytes(64)), "unsupported TIM2 image type 7"),
        (_tim2(5, 4, 4, bytes(16)), "unsupported TIM2 CLUT type 0x00 (8-bit indexed image)"),
        (_tim2(4, 4, 4, bytes(8), b"", 0x03, 0), "corrupt TIM2: 4-bit indexed image with an empty CLUT"),
        (_tim2(3, 4, 4, bytes(20))[:-4], "corrupt TIM2: image size 20 is under the 64 bytes it needs"),
        (_tim2(3, 0, 4, b""), "corrupt TIM2: declared size 0×4"),
        (
            _tim2(5, 4, 4, bytes(16), bytes(40), 0x03, 256),
            "truncated TIM2: expected 1,024 bytes of CLUT, found 40",
        ),
        (_tim2(3, 65535, 65535, bytes(64)), "too many pixels: 65,535×65,535 is over the limit of 67,108,864"),
    ],
)
def test_bad_tim2_files_raise_a_texture_error_with_a_short_reason(tmp_path, data, reason):
    (tmp_path / "bad.tm2").write_bytes(data)
    with pytest.raises(TextureError) as caught:
        load_texture(tmp_path / "bad.tm2")
    assert caught.value.reason == reason


def test_truncated_image_data_names_expected_and_found_bytes(tmp_path):
    (tmp_path / "t.tm2").write_bytes(_tim2(3, 8, 8, bytes(256))[:-56])
    with pytest.raises(TextureError, match="truncated TIM2: expected 256 bytes of image data, found 200"):
        load_texture(tmp_path / "t.tm2")


# --- the committed fixtures (tests/fixtures/tim2) and the official samples ---------------------
# The official samples (../shared/fixtures/tim2) may not be copied into the repository, so the
# committed fixtures repeat every format they cover, written by ai.textures.synth.write_tim2
# (tests/fixtures/tim2/make_fixtures.py); the same checks run on both sets.

COMMITTED = Path(__file__).resolve().parents[2] / "fixtures" / "tim2"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="official TIM2 samples not present")
SAMPLE_SETS = [
    pytest.param((COMMITTED, 32), id="committed"),
    pytest.param((SAMPLES, 256), id="official", marks=needs_samples),
]


def _sample(folder_and_size, name: str) -> np.ndarray:
    folder, size = folder_and_size
    texture = load_texture(folder / name)
    assert (texture.info.width, texture.info.height) == (size, size)
    return texture.pixels.astype(int)


@pytest.mark.parametrize("samples", SAMPLE_SETS)
def test_samples_of_one_colour_depth_decode_to_identical_pictures(samples):
    for group in (["i24.tm2", "i32.tm2"], ["i4c24.tm2", "i4c32.tm2"],
                  ["i8c24.tm2", "i8c32.tm2", "i8c32al.tm2", "i8c32cm2.tm2"]):  # fmt: skip
        first = _sample(samples, group[0])
        for name in group[1:]:
            assert np.array_equal(_sample(samples, name), first), name


@pytest.mark.parametrize("samples", SAMPLE_SETS)
def test_16bit_samples_match_their_32bit_twins_to_5_bit_precision(samples):
    for sixteen, thirty_two in (
        ("i16.tm2", "i32.tm2"),
        ("i4c16.tm2", "i4c32.tm2"),
        ("i8c16.tm2", "i8c32.tm2"),
    ):
        assert np.abs(_sample(samples, sixteen) - _sample(samples, thirty_two)).max() <= 7


@pytest.mark.parametrize("samples", SAMPLE_SETS)
def test_indexed_samples_show_the_direct_colour_picture(samples):
    reference = _sample(samples, "i32.tm2")
    for name, mean_error in (("i8c32.tm2", 1.0), ("i4c32.tm2", 2.0), ("i8c16.tm2", 3.0), ("i4c16.tm2", 4.0)):
        assert np.abs(_sample(samples, name) - reference).mean() < mean_error, name


def _make_fixtures():
    spec = importlib.util.spec_from_file_location("make_fixtures", COMMITTED / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_fixtures_are_exactly_what_their_script_writes_and_decode_to_its_pixels(tmp_path):
    expected = _make_fixtures().build(tmp_path)
    assert sorted(expected) == sorted(p.name for p in COMMITTED.glob("*.tm2"))
    for name, pixels in expected.items():
        assert (COMMITTED / name).read_bytes() == (tmp_path / name).read_bytes(), name
        assert np.array_equal(load_texture(COMMITTED / name).pixels, pixels), name


def tim2_format(path: Path) -> tuple:
    """What makes a TIM2 file's format: (image type, CLUT type and CSM2 flag, colours, 128-byte alignment)."""
    data = path.read_bytes()
    _, _, alignment, pictures = struct.unpack_from("<4sBBH", data, 0)
    header = 128 if alignment == 1 else 16
    colours, clut_type, image_type = (struct.unpack_from("<HBBBB", data, header + 14)[i] for i in (0, 3, 4))
    return pictures, image_type, clut_type, colours, alignment


@needs_samples
def test_committed_fixtures_cover_the_formats_of_the_official_samples():
    official = {p.name: tim2_format(p) for p in SAMPLES.glob("*.tm2")}
    committed = {p.name: tim2_format(p) for p in COMMITTED.glob("*.tm2")}
    assert committed == official
