"""Rule classifier: pixel statistics recognise map types from pixels alone."""

from __future__ import annotations

import numpy as np
import pytest
from fixture_files import fixture_textures

import ai.rules as rules_module
from ai.rules import RuleClassifier
from ai.taxonomy import default_categories


def rgba(rgb, alpha=None):
    h, w = rgb.shape[:2]
    a = np.full((h, w), 255, np.uint8) if alpha is None else alpha.astype(np.uint8)
    return np.dstack([rgb.astype(np.uint8), a])


def normal_map(size=128, seed=0):
    rng = np.random.default_rng(seed)
    height = rng.normal(size=(size, size)).cumsum(0).cumsum(1)
    gy, gx = np.gradient(height / height.std())
    n = np.dstack([-gx, -gy, np.full_like(gx, 4.0)])
    n /= np.linalg.norm(n, axis=2, keepdims=True)
    return rgba((n + 1) * 127.5)


def font_atlas(size=128):
    """White glyph-like strokes on a transparent field, laid out in a grid."""
    alpha = np.zeros((size, size), np.uint8)
    for gy in range(0, size, 16):
        for gx in range(0, size, 16):
            alpha[gy + 3 : gy + 13, gx + 4 : gx + 6] = 255
            alpha[gy + 3 : gy + 5, gx + 4 : gx + 11] = 255
            alpha[gy + 8 : gy + 10, gx + 4 : gx + 10] = 255
    return rgba(np.full((size, size, 3), 255), alpha)


def mask(size=128):
    yy, xx = np.mgrid[0:size, 0:size]
    alpha = ((xx - 64) ** 2 + (yy - 64) ** 2 < 40**2) * 255
    return rgba(np.full((size, size, 3), 255), alpha)


@pytest.mark.parametrize(
    ("image", "expected"),
    [(normal_map(), "map/normal"), (font_atlas(), "ui/font"), (mask(), "map/mask")],
    ids=["normal", "font", "mask"],
)
def test_map_types_are_recognised_with_strong_evidence(image, expected):
    rules = RuleClassifier()
    result = rules.predict(image, 3)
    assert result.top.category == expected
    assert rules.strong_evidence(image) == (expected, pytest.approx(rules.evidence_for(image)[expected]))


def test_grayscale_data_maps_go_to_map_categories():
    rng = np.random.default_rng(3)
    smooth = np.repeat(np.linspace(0, 255, 128)[None, :], 128, 0)
    top = RuleClassifier().predict(rgba(np.dstack([smooth] * 3))).top.category
    assert top in ("map/height", "map/specular")
    noisy = rng.integers(0, 255, (128, 128))
    assert RuleClassifier().predict(rgba(np.dstack([noisy] * 3))).top.category.startswith("map/")


def test_colour_photo_like_texture_is_not_called_a_normal_map():
    rng = np.random.default_rng(5)
    grass = np.dstack(
        [rng.integers(30, 80, (64, 64)), rng.integers(100, 180, (64, 64)), rng.integers(20, 60, (64, 64))]
    )
    result = RuleClassifier().predict(rgba(grass))
    assert result.top.category in ("vegetation", "surface/grass")
    assert RuleClassifier().strong_evidence(rgba(grass)) is None


def test_output_shape_matches_models():
    result = RuleClassifier().predict(normal_map(), 5)
    assert result.categories == default_categories()
    assert result.probabilities.shape == (len(default_categories()),)
    assert result.probabilities.sum() == pytest.approx(1.0)
    assert result.source == "rules" and len(result.predictions) == 5


def test_tiny_and_transparent_images_do_not_break_the_rules():
    rules = RuleClassifier()
    for image in (
        np.zeros((1, 1, 4), np.uint8),
        np.zeros((3, 700, 4), np.uint8),
        np.full((8, 8, 4), 255, np.uint8),
    ):
        probs = rules.predict_probabilities(image)
        assert np.isfinite(probs).all() and probs.sum() == pytest.approx(1.0)


def test_batched_statistics_equal_one_image_at_a_time():
    from dataclasses import fields

    from ai.rules import pixel_stats, pixel_stats_batch
    from ai.textures.synth import IMAGE_KINDS, synth_image

    images = []
    for i, side in enumerate((16, 64, 100, 256, 257, 512)):
        image = synth_image(side, IMAGE_KINDS[i % len(IMAGE_KINDS)], seed=i)
        if image.shape[2] == 3:
            image = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
        images.append(image)
    images.append(np.zeros((32, 48, 4), np.uint8))  # fully transparent: no opaque texel at all
    assert pixel_stats_batch([]) == []
    batched = pixel_stats_batch(images)
    for image, together in zip(images, batched, strict=True):
        alone = pixel_stats(image)
        for field in fields(alone):
            a, b = getattr(alone, field.name), getattr(together, field.name)
            np.testing.assert_allclose(
                np.asarray(a, float), np.asarray(b, float), atol=1e-5, err_msg=field.name
            )
        assert alone.components == together.components
    rules = RuleClassifier()
    for (p1, s1), image in zip(rules.assess_batch(images), images, strict=True):
        p2, s2 = rules.assess(image)
        np.testing.assert_allclose(p1, p2, atol=1e-6)
        assert s1 == s2


@pytest.fixture(scope="module")
def view_images():
    """The committed fixtures, and synthetic textures at sides that are whole multiples of the
    rule views (reduce() only) and ones that are not."""
    from ai.textures import load_texture
    from ai.textures.synth import IMAGE_KINDS, synth_image

    kinds = [(side, kind) for side in (64, 128, 171, 256, 300, 512) for kind in IMAGE_KINDS]
    return [load_texture(p).pixels for p in fixture_textures()] + [
        synth_image(side, kind, seed=i) for i, (side, kind) in enumerate(kinds)
    ]


def test_rule_views_match_the_full_box_filter(view_images):
    images = view_images
    fast = rules_module.pixel_stats_batch(images)
    with rules_module.full_box_views():  # Pillow's full box resampler for every view
        fair = rules_module.pixel_stats_batch(images)
    whole = 0
    for image, a, b in zip(images, fast, fair, strict=True):
        if image.shape[0] % 128 == 0 and image.shape[1] % 128 == 0:
            whole += 1  # whole factors: the same box averages, rounded within one level
            va, vb = a.view.astype(int), b.view.astype(int)
            assert np.abs(va[..., 3] - vb[..., 3]).max() <= 1
            # Pillow averages premultiplied colour: compare that (un-premultiplying a one-level
            # difference at alpha a moves the colour by up to 255 / a).
            pa, pb = va[..., :3] * va[..., 3:] / 255, vb[..., :3] * vb[..., 3:] / 255
            assert np.abs(pa - pb).max() <= 2
        # The reference rounds the colour twice (its 64² view is made from its 128² one), the fast
        # path once: test_small_view_is_the_exact_box_average holds the fast one to the exact average.
        assert np.abs(a.mean_rgb - b.mean_rgb).max() < 2.5
        for name in (
            "gray_fraction",
            "unit_normal_fraction",
            "alpha_binary",
            "transparent",
            "edge_density",
            "saturation",
            "green",
            "brown",
            "blue",
        ):
            assert abs(getattr(a, name) - getattr(b, name)) < 0.03, name
    assert whole >= 10


def _exact_box_view(rgba: np.ndarray, size: int) -> np.ndarray:
    """Premultiplied box average over whole factors in floating point, un-premultiplied: float RGBA."""
    h, w = rgba.shape[:2]
    texels = rgba.astype(np.float64)
    alpha = texels[..., 3:]
    premultiplied = np.concatenate([texels[..., :3] * alpha / 255, alpha], axis=2)
    box = premultiplied.reshape(size, h // size, size, w // size, 4).mean(axis=(1, 3))
    a = box[..., 3:]
    return np.concatenate([np.where(a > 0, box[..., :3] * 255 / np.maximum(a, 1e-9), 0), a], axis=2)


def test_small_view_is_the_exact_box_average(view_images):
    """The 64² view the statistics read, at whole factors: alpha within one level of the exact
    average, premultiplied colour within 2 (each texel's premultiplication, the average, the view's
    alpha and its un-premultiplication round once each), and the mean colour of its opaque texels within
    0.75 of the exact one."""
    images = [im for im in view_images if im.shape[0] % 64 == 0 and im.shape[1] % 64 == 0]
    _, small = rules_module._views(images)
    checked_alpha = 0
    for image, view in zip(images, small, strict=True):
        exact = _exact_box_view(image, 64)
        got = view.astype(np.float64)
        assert np.abs(got[..., 3] - exact[..., 3]).max() <= 1
        premultiplied = got[..., :3] * got[..., 3:] / 255
        assert np.abs(premultiplied - exact[..., :3] * exact[..., 3:] / 255).max() <= 2
        opaque = exact[..., 3] > 16
        if opaque.any():
            mean = rules_module.pixel_stats(image).mean_rgb
            assert np.abs(mean - exact[..., :3][got[..., 3] > 16].mean(axis=0)).max() < 0.75
        checked_alpha += bool(image[..., 3].min() < 255)
    assert len(images) >= 10 and checked_alpha >= 3


def test_rule_answers_unchanged_by_the_reduce_shortcut(view_images):
    images = view_images
    rules = RuleClassifier()
    fast = rules.assess_batch(images)
    with rules_module.full_box_views():
        fair = rules.assess_batch(images)
    for (pa, sa), (pb, sb) in zip(fast, fair, strict=True):
        assert np.abs(pa - pb).max() < 0.05
        assert (sa and sa[0]) == (sb and sb[0])


def test_hue_equals_the_modulo_formula_bit_for_bit():
    def reference(r, g, b, maxc, spread):  # the textbook formula with its two modulo operations
        d = np.maximum(spread, 1e-6)
        h = np.where(maxc == r, ((g - b) / d) % 6, np.where(maxc == g, (b - r) / d + 2, (r - g) / d + 4))
        return (h / 6.0) % 1.0

    grid = np.arange(0, 256, 3, dtype=np.float32)
    r, g, b = (c.ravel() for c in np.meshgrid(grid, grid, grid, indexing="ij"))
    near = np.random.default_rng(5).integers(0, 256, (3, 200_000)).astype(np.float32)
    near[1] = np.clip(near[0] + np.random.default_rng(6).integers(-2, 3, near.shape[1]), 0, 255)  # g ≈ r
    r, g, b = (np.concatenate([x, y]) for x, y in zip((r, g, b), near, strict=True))
    maxc = np.maximum(np.maximum(r, g), b)
    spread = maxc - np.minimum(np.minimum(r, g), b)
    got = rules_module._hue(r, g, b, maxc, spread)
    assert got.dtype == np.float32 and ((got >= 0) & (got < 1)).all()
    np.testing.assert_array_equal(got, reference(r, g, b, maxc, spread))
