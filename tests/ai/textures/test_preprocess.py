"""Model input preparation: alpha composited over the grey background exactly as specified."""

from __future__ import annotations

import numpy as np
import pytest
from fixture_files import fixture_textures
from PIL import Image

from ai.textures import load_texture
from ai.textures.base import is_opaque
from ai.textures.preprocess import (
    ALPHA_BACKGROUND,
    IMAGENET_MEAN,
    IMAGENET_STD,
    normalize,
    resize_then_composite,
    to_model_rgb,
)
from ai.textures.synth import IMAGE_KINDS, synth_image


def test_alpha_composite_rounds_exactly_for_every_colour_and_alpha():
    # Texel (i, j) has colour i and alpha j: all 65,536 pairs, at the model size (no resize).
    colour, alpha = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    rgba = np.stack([colour, 255 - colour, colour // 2, alpha], axis=-1).astype(np.uint8)
    rgb = to_model_rgb(rgba, 256)
    a = alpha.astype(np.int64)
    for channel in range(3):
        c = rgba[..., channel].astype(np.int64)
        expected = (c * a + ALPHA_BACKGROUND * (255 - a) + 127) // 255
        np.testing.assert_array_equal(rgb[..., channel], expected)
    assert (rgb[:, 0] == ALPHA_BACKGROUND).all() and (rgb[:, 255] == rgba[:, 255, :3]).all()


def test_opaque_images_keep_their_colour():
    rgba = np.random.default_rng(0).integers(0, 256, (64, 64, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    np.testing.assert_array_equal(to_model_rgb(rgba, 64), rgba[..., :3])


def _premultiplied_reference(rgba: np.ndarray, size: int) -> np.ndarray:
    """The model input as it was made before compositing moved ahead of the resize."""
    with resize_then_composite():
        return to_model_rgb(rgba, size)


@pytest.fixture(scope="module")
def model_inputs():
    """The committed fixtures and synthetic textures (opaque and with alpha) at whole and
    non-whole multiples of the model sizes."""
    images = [load_texture(p).pixels for p in fixture_textures()]
    kinds = [(side, kind) for side in (64, 100, 171, 256, 300, 512) for kind in IMAGE_KINDS]
    return images + [synth_image(side, kind, seed=i) for i, (side, kind) in enumerate(kinds)]


def _exact(rgba: np.ndarray, size: int) -> np.ndarray:
    """The composited picture in float64, resized by Pillow's bilinear filter in float: no rounding."""
    a = rgba[..., 3:].astype(np.float64) / 255
    composited = rgba[..., :3] * a + ALPHA_BACKGROUND * (1 - a)
    if rgba.shape[:2] == (size, size):
        return composited
    planes = [Image.fromarray(composited[..., c].astype(np.float32), "F") for c in range(3)]
    resample = Image.Resampling.BILINEAR
    return np.stack([np.asarray(p.resize((size, size), resample, reducing_gap=2.0)) for p in planes], axis=-1)


@pytest.mark.parametrize("size", [160, 224])
def test_compositing_before_the_resize_is_the_exact_picture_within_rounding(model_inputs, size):
    with_alpha, worst_before = 0, 0.0
    for rgba in model_inputs:
        got = to_model_rgb(rgba, size)
        assert got.shape == (size, size, 3) and got.dtype == np.uint8
        exact = _exact(rgba, size)
        error = np.abs(got - exact)
        before = _premultiplied_reference(rgba, size)
        # Two roundings (the blend, the resize): at most 1.5 levels from the exact picture. The
        # premultiplied resize it replaced rounds four times (up to 2.6 levels on these inputs).
        assert error.max() <= 1.5 and error.mean() < 0.4, (rgba.shape, error.max(), error.mean())
        worst_before = max(worst_before, float(np.abs(before - exact).max()))
        change = np.abs(got.astype(int) - before)
        assert change.max() <= 3 and change.mean() < 0.6, (rgba.shape, change.max(), change.mean())
        with_alpha += not is_opaque(rgba)
    assert with_alpha >= 20 and worst_before > 2


def test_is_opaque_reads_every_texel_contiguous_or_not():
    rgba = np.full((33, 17, 4), 255, np.uint8)
    rgba[..., :3] = 7
    assert is_opaque(rgba) and is_opaque(rgba[::2])  # contiguous, and a strided view
    rgba[32, 16, 3] = 254  # the very last texel
    assert not is_opaque(rgba)
    assert not is_opaque(rgba[::-1])
    rgba[32, 16, 3] = 255
    rgba[0, 0, :3] = 255  # colour bytes at 255 are not alpha
    rgba[0, 0, 3] = 0
    assert not is_opaque(rgba) and is_opaque(rgba[1:])


def _normalize_channels_last(rgb, mean, std):
    """The standardisation as first written: arithmetic with the channels last, moved after."""
    x = rgb.astype(np.float32) * (1.0 / 255.0)
    x -= np.asarray(mean, dtype=np.float32)
    x /= np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(np.moveaxis(x, -1, -3))


@pytest.mark.parametrize("stats", [(IMAGENET_MEAN, IMAGENET_STD), ((0.5, 0.25, 0.0), (0.5, 0.125, 1.0))])
def test_normalize_is_bit_identical_to_the_channels_last_arithmetic(model_inputs, stats):
    batch = np.stack([to_model_rgb(rgba, 160) for rgba in model_inputs[:12]])
    every_level = np.arange(256, dtype=np.uint8).repeat(3).reshape(16, 16, 3)
    for rgb in (batch, batch[0], every_level, np.ascontiguousarray(batch[:, ::-1, ::2])):
        got = normalize(rgb, *stats)
        assert got.dtype == np.float32 and got.flags.c_contiguous
        assert got.shape == (*rgb.shape[:-3], 3, *rgb.shape[-3:-1])
        assert np.array_equal(got, _normalize_channels_last(rgb, *stats))
