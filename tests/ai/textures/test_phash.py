"""The perceptual hash: stable under resizing, mips, padding and re-encoding; apart for other pictures."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ai.textures import load_texture
from ai.textures.phash import (
    FLAT_HASH,
    _popcount,
    _popcount_table,
    as_hash_array,
    content_box,
    hamming,
    hamming_matrix,
    hash_to_hex,
    pairs_within,
    perceptual_hash,
    to_signed,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CLOSE = 4  # the near-duplicate threshold the sorter uses


def _picture(seed: int, size=(128, 96)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = (rng.random((6, 6, 4)) * 255).astype(np.uint8)
    rgba = np.asarray(Image.fromarray(small, "RGBA").resize(size, Image.Resampling.BICUBIC)).copy()
    rgba[..., 3] = 255
    return rgba


def _resize(rgba: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.asarray(Image.fromarray(rgba, "RGBA").resize((w, h), Image.Resampling.BOX))


def _real_texture() -> np.ndarray:
    path = FIXTURES / "redeclipse" / "data" / "actors" / "player" / "RE_Player_diffuse.tga"
    if not path.exists():
        pytest.skip("real fixture texture not present")
    return np.asarray(load_texture(path).pixels)


def test_a_real_texture_keeps_its_hash_through_mips_resizes_and_a_jpeg_round_trip(tmp_path):
    rgba = _real_texture()
    h, w = rgba.shape[:2]
    base = perceptual_hash(rgba)
    Image.fromarray(np.ascontiguousarray(rgba[..., :3])).save(tmp_path / "t.jpg", quality=85)
    copies = {
        "half": _resize(rgba, w // 2, h // 2),
        "quarter": _resize(rgba, w // 4, h // 4),
        "70%": np.asarray(
            Image.fromarray(rgba).resize((int(w * 0.7), int(h * 0.7)), Image.Resampling.LANCZOS)
        ),
        "jpeg": np.asarray(load_texture(tmp_path / "t.jpg").pixels),
    }
    distances = {name: hamming(base, perceptual_hash(c)) for name, c in copies.items()}
    assert all(d <= CLOSE for d in distances.values()), distances


def test_padding_a_picture_into_a_larger_canvas_does_not_change_its_hash():
    rgba = _picture(1)
    h, w = rgba.shape[:2]
    for fill, at in (((0, 0, 0, 0), (0, 0)), ((0, 0, 0, 255), (0, 0)), ((128, 128, 128, 255), (40, 70))):
        canvas = np.empty((h + 60, w + 128, 4), np.uint8)
        canvas[:] = fill
        canvas[at[0] : at[0] + h, at[1] : at[1] + w] = rgba
        assert content_box(canvas) == (at[0], at[0] + h, at[1], at[1] + w)
        assert hamming(perceptual_hash(canvas), perceptual_hash(rgba)) <= 1


def test_different_pictures_and_recolours_are_far_apart():
    a, b = _picture(1), _picture(2)
    assert hamming(perceptual_hash(a), perceptual_hash(b)) > 3 * CLOSE
    # Same layout, other colour (a team colour, a palette swap): a different texture.
    grey = a[..., :3].mean(axis=2)
    red = np.dstack([grey, grey * 0.2, grey * 0.2, np.full_like(grey, 255)]).astype(np.uint8)
    gold = np.dstack([grey, grey * 0.8, grey * 0.3, np.full_like(grey, 255)]).astype(np.uint8)
    assert hamming(perceptual_hash(red), perceptual_hash(gold)) > CLOSE


def test_flat_pictures_hash_to_the_flat_marker_and_nothing_else_does():
    assert perceptual_hash(np.full((64, 64, 4), 200, np.uint8)) == FLAT_HASH
    assert perceptual_hash(np.zeros((1, 1, 4), np.uint8)) == FLAT_HASH
    structured = [perceptual_hash(_picture(seed)) for seed in range(50)]
    assert FLAT_HASH not in structured


def test_rgb_grey_and_rgba_inputs_are_accepted_and_bad_shapes_refused():
    rgba = _picture(3)
    assert perceptual_hash(rgba[..., :3]) == perceptual_hash(rgba)
    grey = rgba[..., 0]
    assert perceptual_hash(grey) == perceptual_hash(np.dstack([grey, grey, grey, np.full_like(grey, 255)]))
    with pytest.raises(ValueError, match="RGBA"):
        perceptual_hash(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match="RGBA"):
        perceptual_hash(np.zeros((0, 4, 4), np.uint8))


def test_hashes_are_signed_64_bit_values_that_sqlite_stores_unchanged():
    hashes = [perceptual_hash(_picture(seed)) for seed in range(40)]
    assert all(-(2**63) <= h < 2**63 for h in hashes)
    assert any(h < 0 for h in hashes), "the top bit is used"
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (h INTEGER)")
    db.executemany("INSERT INTO t VALUES (?)", [(h,) for h in hashes])
    assert [row[0] for row in db.execute("SELECT h FROM t")] == hashes
    db.close()
    assert to_signed(2**64 - 1) == -1 and to_signed(5) == 5
    assert hash_to_hex(-1) == "f" * 16
    assert hamming(-1, 2**64 - 1) == 0 and hamming(0, -1) == 64


def test_vectorised_distances_match_the_scalar_ones():
    rng = np.random.default_rng(0)
    values = [int(v) for v in rng.integers(-(2**63), 2**63 - 1, size=60, dtype=np.int64)]
    values += [values[0] ^ 1, values[1] ^ 0b111]  # some close pairs
    array = as_hash_array(values)
    matrix = hamming_matrix(array)
    assert matrix.shape == (62, 62)
    assert all(matrix[i, j] == hamming(values[i], values[j]) for i in range(62) for j in range(62))
    assert np.array_equal(
        _popcount_table(array[:, None] ^ array[None, :]), _popcount(array[:, None] ^ array[None, :])
    )
    for threshold in (0, 3, 30):
        brute = {
            (i, j) for i in range(62) for j in range(i + 1, 62) if hamming(values[i], values[j]) <= threshold
        }
        assert set(pairs_within(array, threshold, block=7)) == brute


def test_a_huge_texture_is_hashed_like_its_small_version():
    rgba = _picture(4, size=(96, 96))
    big = np.asarray(Image.fromarray(rgba).resize((3072, 3072), Image.Resampling.BICUBIC))
    assert hamming(perceptual_hash(big), perceptual_hash(rgba)) <= CLOSE
