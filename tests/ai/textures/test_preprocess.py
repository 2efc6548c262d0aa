"""Model input preparation: alpha composited over the grey background exactly as specified."""

from __future__ import annotations

import numpy as np

from ai.textures.preprocess import ALPHA_BACKGROUND, to_model_rgb


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
