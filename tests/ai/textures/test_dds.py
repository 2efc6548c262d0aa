"""DDS decoding: every synthetic layout, BC conventions, mips, cube maps and header errors."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from ai.errors import TextureError
from ai.textures import load_texture
from ai.textures.synth import DDS_FORMATS, encode_dds, normal_blue, synth_image, write_dds

TWO_CHANNEL = ("BC5", "R8G8", "R16G16", "V8U8")


def _source_for(key: str) -> np.ndarray:
    """Odd sizes (partial 4×4 blocks); cut-outs for BC1, normal maps for two-channel layouts."""
    fmt = DDS_FORMATS[key]
    if fmt.encoding[0] == "bc1":
        kind = "cutout"
    elif fmt.pixel_format.startswith(TWO_CHANNEL) or fmt.pixel_format in ("R16G16_FLOAT", "R32G32_FLOAT"):
        kind = "normal"
    else:
        kind = "alpha"
    return synth_image((37, 29), kind, seed=len(key))


@pytest.mark.parametrize("key", sorted(DDS_FORMATS))
def test_every_synthetic_dds_layout_decodes_to_its_expected_pixels(tmp_path, key):
    fmt = DDS_FORMATS[key]
    path = tmp_path / f"{key}.dds"
    expected = write_dds(path, _source_for(key), key)[0]

    texture = load_texture(path)

    assert texture.info.format == "DDS"
    assert texture.info.pixel_format == fmt.pixel_format
    assert (texture.info.width, texture.info.height) == (37, 29)
    assert texture.pixels.shape == (29, 37, 4)
    diff = np.abs(texture.pixels.astype(int) - expected.astype(int))
    assert diff.max() <= fmt.tolerance, f"{key}: max difference {diff.max()}"
    assert texture.info.has_alpha == bool(expected[..., 3].min() < 255)


@pytest.mark.parametrize(
    ("key", "max_mean_error"),
    [("DXT1", 6), ("DXT3", 6), ("DXT5", 6), ("DX10_BC7", 5), ("ATI1", 1), ("DX10_BC6H", 5)],
)
def test_block_compressed_round_trip_stays_close_to_the_source(tmp_path, key, max_mean_error):
    # Guards the synthetic encoders themselves: their expected pixels must resemble the picture.
    source = synth_image(64, "gradient", seed=7)
    write_dds(tmp_path / "t.dds", source, key)
    decoded = load_texture(tmp_path / "t.dds").pixels.astype(int)
    channels = 1 if key == "ATI1" else 3
    assert np.abs(decoded[..., :channels] - source[..., :channels]).mean() < max_mean_error


def _pillow_rgba(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA")).astype(int)


# Layouts Pillow 13 reads too: our decode must agree with it.
PILLOW_READS = [
    "DXT1", "DXT3", "DXT5", "ATI1", "BC4U", "ATI2", "BC5U", "BC5S", "DX10_BC1", "DX10_BC2", "DX10_BC3",
    "DX10_BC4", "DX10_BC5", "DX10_BC5_SNORM", "DX10_BC6H", "DX10_BC6H_SF16", "DX10_BC7", "DX10_BC7_SRGB",
    "DX10_R8G8B8A8", "DX10_R8G8B8A8_SRGB", "MASK_B8G8R8A8", "MASK_B8G8R8X8", "MASK_R8G8B8A8", "MASK_B8G8R8",
    "MASK_B5G6R5", "MASK_B5G5R5A1", "MASK_B4G4R4A4", "MASK_ODD16", "LUM_L8", "LUM_L8A8",
]  # fmt: skip


@pytest.mark.parametrize("key", PILLOW_READS)
def test_decoding_agrees_with_pillow_where_pillow_reads_the_layout(tmp_path, key):
    path = tmp_path / f"{key}.dds"
    write_dds(path, _source_for(key), key)
    ours = load_texture(path).pixels.astype(int)
    theirs = _pillow_rgba(path)
    if DDS_FORMATS[key].pixel_format.startswith("BC5"):  # Pillow leaves blue at 0 or 128
        ours, theirs = ours[..., :2], theirs[..., :2]
    # Pillow truncates when it widens 4-, 5- and 6-bit channels; we round.
    tolerance = 1 if key in ("MASK_B5G6R5", "MASK_B5G5R5A1", "MASK_B4G4R4A4", "MASK_ODD16") else 0
    assert np.abs(ours - theirs).max() <= tolerance


def _dds_bytes(
    width, height, pf_flags, fourcc=b"\0\0\0\0", bits=0, masks=(0, 0, 0, 0), mips=1, caps2=0, depth=0
):
    return struct.pack(
        "<4s7I44x2I4s5I4I4x", b"DDS ", 124, 0x100F, height, width, 0, depth, mips, 32, pf_flags, fourcc, bits,
        *masks, 0x1000, caps2, 0, 0,
    )  # fmt: skip


def test_bc1_transparent_index_decodes_to_transparent_black_like_pillow(tmp_path):
    # c0 <= c1 selects 3-colour mode; index 3 there is the punch-through texel.
    block = struct.pack("<HHI", 0x001F, 0xF800, 0b11_10_01_00 * 0x01010101)
    path = tmp_path / "punch.dds"
    path.write_bytes(_dds_bytes(4, 4, 0x4, b"DXT1") + block)

    pixels = load_texture(path).pixels

    assert pixels[0, 0].tolist() == [0, 0, 255, 255]  # index 0: c0 (blue)
    assert pixels[0, 1].tolist() == [255, 0, 0, 255]  # index 1: c1 (red)
    assert pixels[0, 2, 3] == 255 and pixels[0, 2, 0] in (127, 128)  # index 2: midpoint
    assert pixels[0, 3].tolist() == [0, 0, 0, 0]  # index 3: transparent black
    assert np.array_equal(pixels, _pillow_rgba(path))


def test_bc5_blue_is_the_rebuilt_z_of_a_unit_normal(tmp_path):
    write_dds(tmp_path / "n.dds", synth_image(32, "normal", seed=3), "ATI2")
    pixels = load_texture(tmp_path / "n.dds").pixels.astype(np.float64)
    x, y, z = (pixels[..., :3] / 255.0 * 2.0 - 1.0).transpose(2, 0, 1)
    assert np.all(pixels[..., 2] >= 128)  # z ≥ 0: the visible hemisphere
    assert np.abs(x * x + y * y + z * z - 1.0).max() < 0.03
    assert np.array_equal(pixels[..., 2], normal_blue(pixels[..., 0], pixels[..., 1]))


def test_signed_bc5_zero_decodes_to_mid_grey_with_z_pointing_out(tmp_path):
    block = bytes(8)  # endpoints 0, 0 (signed zero), all indices 0
    path = tmp_path / "s.dds"
    path.write_bytes(_dds_bytes(4, 4, 0x4, b"BC5S") + block + block)
    assert load_texture(path).pixels[0, 0].tolist() == [128, 128, 255, 255]


def test_smallest_mip_that_covers_min_size_is_decoded_and_size_reports_the_top_level(tmp_path):
    source = synth_image(256, "noise", seed=1)
    levels = write_dds(tmp_path / "m.dds", source, "DXT1", mip_levels=9)

    for min_size, side in ((None, 256), (200, 256), (100, 128), (64, 64), (1, 1)):
        texture = load_texture(tmp_path / "m.dds", min_size=min_size)
        assert texture.pixels.shape[:2] == (side, side)
        assert (texture.info.width, texture.info.height, texture.info.mip_count) == (256, 256, 9)
        level = levels[(256 // side).bit_length() - 1]
        assert np.abs(texture.pixels.astype(int) - level).max() <= 1


def test_min_size_larger_than_the_texture_keeps_the_top_level(tmp_path):
    write_dds(tmp_path / "m.dds", synth_image(32, "noise"), "DXT5", mip_levels=6)
    assert load_texture(tmp_path / "m.dds", min_size=64).pixels.shape == (32, 32, 4)


def test_missing_smaller_mip_falls_back_to_the_complete_top_level(tmp_path):
    data, levels = encode_dds(synth_image(64, "noise"), "DXT1", mip_levels=7)
    top_end = 128 + 16 * 16 * 8
    (tmp_path / "cut.dds").write_bytes(data[: top_end + 10])
    texture = load_texture(tmp_path / "cut.dds", min_size=8)
    # The top level is decoded, then box-reduced for the ask as a level without mips is.
    top = load_texture(tmp_path / "cut.dds").pixels
    assert texture.pixels.shape == (8, 8, 4)
    assert np.array_equal(texture.pixels, np.asarray(Image.fromarray(top, "RGBA").reduce(8)))
    assert np.abs(top.astype(int) - levels[0]).max() <= 1


@pytest.mark.parametrize("key", ["DXT1", "DX10_BC7", "MASK_B8G8R8A8"])
def test_cube_map_decodes_its_first_face(tmp_path, key):
    faces = [np.full((16, 16, 4), (40 * i, 255 - 40 * i, 100, 255), np.uint8) for i in range(6)]
    expected = write_dds(tmp_path / "cube.dds", faces[0], key, mip_levels=5, cube_faces=faces[1:])[0]
    texture = load_texture(tmp_path / "cube.dds")
    assert np.abs(texture.pixels.astype(int) - expected).max() <= 1


def test_volume_texture_decodes_its_first_slice(tmp_path):
    masks = (0xFF0000, 0xFF00, 0xFF, 0xFF000000)
    header = _dds_bytes(2, 2, 0x41, bits=32, masks=masks, caps2=0x200000, depth=2)
    slices = bytes([10, 20, 30, 255] * 4) + bytes([99, 99, 99, 99] * 4)  # BGRA
    (tmp_path / "vol.dds").write_bytes(header + slices)
    pixels = load_texture(tmp_path / "vol.dds").pixels
    assert pixels.reshape(-1, 4).tolist() == [[30, 20, 10, 255]] * 4


def test_fourcc_without_the_fourcc_flag_is_still_read(tmp_path):
    data, levels = encode_dds(synth_image(16, "noise"), "DXT1")
    flags_at = 80
    patched = data[:flags_at] + struct.pack("<I", 0) + data[flags_at + 4 :]
    (tmp_path / "noflag.dds").write_bytes(patched)
    assert np.abs(load_texture(tmp_path / "noflag.dds").pixels.astype(int) - levels[0]).max() <= 1


def test_palette_whose_alpha_bytes_are_all_zero_is_read_opaque(tmp_path):
    data, levels = encode_dds(synth_image(16, "noise"), "PAL8")
    palette = bytearray(data[128 : 128 + 1024])
    palette[3::4] = bytes(256)
    (tmp_path / "p8.dds").write_bytes(data[:128] + bytes(palette) + data[128 + 1024 :])
    pixels = load_texture(tmp_path / "p8.dds").pixels
    assert np.all(pixels[..., 3] == 255)
    assert np.array_equal(pixels[..., :3], levels[0][..., :3])


def test_truncated_dds_names_the_bytes_it_expected_and_found(tmp_path):
    data, _ = encode_dds(synth_image((100, 100), "alpha"), "DXT5")
    (tmp_path / "short.dds").write_bytes(data[: 128 + 1200])
    with pytest.raises(TextureError) as caught:
        load_texture(tmp_path / "short.dds")
    assert caught.value.reason == "truncated DDS: expected 10,000 bytes of BC3 data, found 1,200"
    assert caught.value.path == str(tmp_path / "short.dds")


@pytest.mark.parametrize("side", [65535, 2**31, 2**32 - 1])
def test_absurd_declared_size_is_refused_before_anything_is_read(tmp_path, side):
    (tmp_path / "huge.dds").write_bytes(_dds_bytes(side, side, 0x4, b"DXT1") + bytes(64))
    with pytest.raises(TextureError, match="too many pixels"):
        load_texture(tmp_path / "huge.dds")


def test_pixel_limit_is_configurable(tmp_path):
    write_dds(tmp_path / "t.dds", synth_image(64, "noise"), "DXT1")
    assert load_texture(tmp_path / "t.dds", max_pixels=64 * 64).pixels.shape == (64, 64, 4)
    with pytest.raises(TextureError, match="too many pixels: 64×64 is over the limit of 4,095"):
        load_texture(tmp_path / "t.dds", max_pixels=64 * 64 - 1)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (
            _dds_bytes(4, 4, 0x4, b"DX10") + struct.pack("<5I", 45, 3, 0, 1, 0),
            "unsupported DDS DXGI format 45",
        ),
        (_dds_bytes(4, 4, 0x4, b"UYVY"), "unsupported DDS FourCC UYVY"),
        (_dds_bytes(4, 4, 0x40, bits=12, masks=(0xF00, 0xF0, 0xF, 0)), "unsupported DDS bit count 12"),
        (
            _dds_bytes(4, 4, 0x40, bits=8, masks=(0xF00, 0xF0, 0xF, 0)),
            "corrupt DDS: channel mask wider than 8 bits",
        ),
        (_dds_bytes(0, 4, 0x4, b"DXT1"), "corrupt DDS: declared size 0×4"),
        (_dds_bytes(4, 4, 0x4, b"DX10"), "truncated DDS: DX10 header missing"),
        (b"DDS " + bytes(20), "truncated DDS: header is 24 of 128 bytes"),
    ],
)
def test_bad_headers_raise_a_texture_error_with_a_short_reason(tmp_path, header, reason):
    (tmp_path / "bad.dds").write_bytes(header)
    with pytest.raises(TextureError) as caught:
        load_texture(tmp_path / "bad.dds")
    assert caught.value.reason == reason


def test_pillow_cannot_read_the_a8_font_atlas_fixture_but_we_can(fixtures_dir):
    path = fixtures_dir / "0ad" / "mod" / "fonts" / "sans-10.png.cached.dds"
    with pytest.raises(NotImplementedError), Image.open(io.BytesIO(path.read_bytes())) as image:
        image.load()
    texture = load_texture(path)
    assert texture.info.pixel_format == "A8"
    assert np.all(texture.pixels[..., :3] == 0)
    assert 0.02 < (texture.pixels[..., 3] > 128).mean() < 0.5  # glyph coverage of an atlas
