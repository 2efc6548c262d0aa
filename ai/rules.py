"""Rule-based classifier from pixel statistics: the fallback without a model, and map-type evidence.

Texture dumps have meaningless names (emulator hashes), so every rule here reads pixels only.
The rules are deliberately few and explainable: each returns a score for some categories, and the
scores become a probability vector over the taxonomy with a small floor for everything else.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ai.switches import switched
from ai.taxonomy import default_categories
from ai.textures.base import pillow_image, rgba_array
from ai.textures.preprocess import resize_rgba
from ai.types import Classification, top_k

log = logging.getLogger(__name__)

ANALYSIS_SIZE = 64
COMPONENT_SIZE = 128
# A box filter over whole multiples is Pillow's reduce(): 3-5x faster than its general resampler,
# the same averages to within one level of rounding (tests/ai/test_rules.py). A gap of 1 lets
# Pillow reduce by every whole factor first, so a 256² texture's 128² view and every 64² view
# are reduce() calls; the rest of a non-integer factor still goes through the resampler.
VIEW_REDUCING_GAP = 1.0


def full_box_views() -> contextlib.AbstractContextManager[None]:
    """Rule views by Pillow's full box resampler inside this block (no reduce() shortcut): the
    reference the tests hold the views to, and the benchmark's old decoder (ai.switches)."""
    return switched(globals(), "VIEW_REDUCING_GAP", None)


# Evidence at or above this confidence is trusted over a model's guess for map types (see ModelManager).
STRONG_EVIDENCE = 0.9
_LUMA = (0.299, 0.587, 0.114)


@dataclass
class PixelStats:
    """Statistics of a 64×64 thumbnail that the rules read."""

    mean_rgb: np.ndarray
    std_luma: float
    gray_fraction: float  # pixels with R≈G≈B
    unit_normal_fraction: float  # pixels that decode to a unit vector pointing out of the surface
    blue_dominant: float
    alpha_mean: float
    alpha_binary: float  # fraction of alpha at 0 or 255
    transparent: float  # fraction of alpha < 16
    dark: float  # fraction of opaque pixels with luma < 24
    edge_density: float  # fraction of neighbouring pixel pairs with a large luma step
    saturation: float
    green: float  # saturation-weighted share of hues 75°–165°
    brown: float  # share of hues 10°–50° (wood, dirt)
    blue: float  # share of hues 180°–260°
    vertical_gradient: float  # correlation of luma with row index (sky-like)
    row_variation: float
    view_source: Image.Image  # what the 128² view is made from (the view itself in the reference mode)

    @functools.cached_property
    def view(self) -> np.ndarray:
        """The 128² uint8 RGBA view, made on first use: only font-like images count blobs on it."""
        return rgba_array(_box_view(self.view_source, COMPONENT_SIZE))

    @functools.cached_property
    def _blobs(self) -> tuple[int, float]:
        # Only font-like images pay for the component count (see RuleClassifier.evidence).
        return _foreground_components(self.view)

    @property
    def components(self) -> int:
        """Separate foreground blobs (glyphs, icons) on the 128² view."""
        return self._blobs[0]

    @property
    def component_area(self) -> float:
        """Mean blob area as a fraction of the image."""
        return self._blobs[1]


def pixel_stats(rgba: np.ndarray) -> PixelStats:
    return pixel_stats_batch([rgba])[0]


def pixel_stats_batch(images: Sequence[np.ndarray]) -> list[PixelStats]:
    """PixelStats of each RGBA image, computed on the stacked 64² thumbnails at once.

    Every numpy call holds the GIL for its Python overhead; on 64² arrays that overhead is most of
    the cost, so one call for a whole batch instead of one per image is what lets the pipeline's
    workers compute statistics side by side (2 threads: 1.2× → ~1.8× the throughput of one).
    """
    if not images:
        return []
    if VIEW_REDUCING_GAP is None:  # the reference: each view by its own RGBA resize
        large = [resize_rgba(im, COMPONENT_SIZE, Image.Resampling.BOX) for im in images]
        small = [resize_rgba(v, ANALYSIS_SIZE, Image.Resampling.BOX) for v in large]
        views = [Image.fromarray(v, "RGBA") for v in large]
    else:
        views, small = _views(images)
    # Contiguous channel planes (4×N×64×64): numpy reductions over a trailing axis of 3 are slow,
    # and element-wise ops on contiguous planes take numpy's vector loops, on strided ones they do not.
    r, g, b, alpha = np.stack(small).transpose(3, 0, 1, 2).astype(np.float32, order="C")
    luma = r * _LUMA[0] + g * _LUMA[1] + b * _LUMA[2]
    maxc = np.maximum(np.maximum(r, g), b)
    spread = maxc - np.minimum(np.minimum(r, g), b)
    opaque = alpha > 16
    nx, ny, nz = r / 127.5 - 1.0, g / 127.5 - 1.0, b / 127.5 - 1.0
    length = np.sqrt(nx * nx + ny * ny + nz * nz)
    unit = (np.abs(length - 1.0) < 0.2) & (nz > 0.3)
    blue = (b > r + 20) & (b > g + 10)
    visible = luma * (alpha / 255.0)  # what the texel looks like over black: glyph edges show up
    steps = _count(np.abs(np.diff(visible, axis=1)) > 48) + _count(np.abs(np.diff(visible, axis=2)) > 48)
    sat = spread / np.maximum(maxc, 1e-6)  # 0 where maxc is 0: spread is 0 there too
    hue_deg = _hue(r, g, b, maxc, spread) * 360.0
    weights = sat * opaque
    total_weight = np.maximum(weights.sum(axis=(1, 2), dtype=np.float64), 1e-6)

    def share(lo: float, hi: float) -> np.ndarray:
        inside = (hue_deg >= lo) & (hue_deg < hi)
        return weights.sum(axis=(1, 2), dtype=np.float64, where=inside) / total_weight

    rows = luma.mean(axis=2, dtype=np.float64)  # [N, rows]
    centred_rows = rows - rows.mean(axis=1, keepdims=True)
    idx = np.arange(ANALYSIS_SIZE, dtype=np.float64)
    centred_idx = idx - idx.mean()
    # Pearson correlation of luma with the row index (what np.corrcoef gives), per image.
    denom = np.sqrt((centred_rows**2).sum(axis=1) * (centred_idx**2).sum())
    grad = np.where(
        rows.std(axis=1) > 1e-3, (centred_rows * centred_idx).sum(axis=1) / np.maximum(denom, 1e-12), 0.0
    )
    pixels = float(ANALYSIS_SIZE * ANALYSIS_SIZE)
    opaque_count = _count(opaque)
    safe_count = np.maximum(opaque_count, 1)
    opaque_mean = {
        name: (plane * opaque).sum(axis=(1, 2), dtype=np.float64) / safe_count
        for name, plane in (("r", r), ("g", g), ("b", b), ("luma", luma), ("sat", sat))
    }
    luma_dev = np.where(opaque, luma - opaque_mean["luma"][:, None, None], 0.0)
    opaque_std_luma = np.sqrt((luma_dev.astype(np.float64) ** 2).sum(axis=(1, 2)) / safe_count)
    all_mean = np.stack([r.mean(axis=(1, 2)), g.mean(axis=(1, 2)), b.mean(axis=(1, 2))], axis=1)
    counts = {
        "gray": _count(spread < 12),
        "unit": _count(unit),
        "blue": _count(blue),
        "binary": _count((alpha < 8) | (alpha > 247)),
        "transparent": _count(alpha < 16),
        "dark": _count((luma < 24) & opaque),
    }
    alpha_mean = alpha.mean(axis=(1, 2)) / 255.0
    green, brown, blue_share = share(75, 165), share(10, 50), share(180, 260)
    row_variation = luma.std(axis=2).mean(axis=1)
    stats = []
    for i, view in enumerate(views):
        has_opaque = bool(opaque_count[i])
        stats.append(
            PixelStats(
                mean_rgb=(
                    np.array([opaque_mean[c][i] for c in "rgb"], np.float32)
                    if has_opaque
                    else all_mean[i].astype(np.float32)
                ),
                std_luma=float(opaque_std_luma[i]) if has_opaque else 0.0,
                gray_fraction=int(counts["gray"][i]) / pixels,
                unit_normal_fraction=int(counts["unit"][i]) / pixels,
                blue_dominant=int(counts["blue"][i]) / pixels,
                alpha_mean=float(alpha_mean[i]),
                alpha_binary=int(counts["binary"][i]) / pixels,
                transparent=int(counts["transparent"][i]) / pixels,
                dark=int(counts["dark"][i]) / int(safe_count[i]),
                edge_density=int(steps[i]) / (2 * ANALYSIS_SIZE * (ANALYSIS_SIZE - 1)),
                saturation=float(opaque_mean["sat"][i]) if has_opaque else 0.0,
                green=float(green[i]),
                brown=float(brown[i]),
                blue=float(blue_share[i]),
                vertical_gradient=float(grad[i]),
                row_variation=float(row_variation[i]),
                view_source=view,
            )
        )
    return stats


def _count(mask: np.ndarray) -> np.ndarray:
    """True texels per image of an N×H×W mask (no cast of every texel to an integer, as sum() does)."""
    return np.count_nonzero(mask, axis=(1, 2))


def _views(images: Sequence[np.ndarray]) -> tuple[list[Image.Image], list[np.ndarray]]:
    """(each image as Pillow holds it for its 128² view, its 64² view as RGBA).

    The 64² view is made straight from an image of at least 128² (a 256² texture: one 4×4 reduce),
    and its 128² view only when a rule asks for it (font-like images), so no view is copied out to
    numpy and back. An image with alpha is premultiplied once, at its decoded size: the views average
    premultiplied colour, as Pillow's RGBA resize does (tests/ai/test_rules.py).
    """
    sources, small = [], []
    for rgba in images:
        image = pillow_image(rgba)
        if image.mode == "RGBA":
            image = image.convert("RGBa")
        width, height = image.size
        if width < COMPONENT_SIZE or height < COMPONENT_SIZE:
            # Smaller than the 128² view: the 64² view is made from the enlarged one, as it always
            # was (straight from the image it would be sharper, and the rules were tuned on it).
            image = _box_view(image, COMPONENT_SIZE)
        sources.append(image)
        small.append(rgba_array(_box_view(image, ANALYSIS_SIZE)))
    return sources, small


def _box_view(image: Image.Image, size: int) -> Image.Image:
    if image.size == (size, size):
        return image
    return image.resize((size, size), Image.Resampling.BOX, reducing_gap=VIEW_REDUCING_GAP)


def _foreground_components(small: np.ndarray) -> tuple[int, float]:
    """Count 4-connected foreground blobs (alpha, or bright on dark) by label propagation."""
    small = small.astype(np.float32)
    size = small.shape[0]
    alpha = small[..., 3]
    if (alpha < 16).mean() > 0.2:
        fg = alpha > 96
    else:
        luma = small[..., :3].mean(axis=2)
        if (luma < 24).mean() < 0.3:
            return 0, 0.0
        fg = luma > 96
    count = int(fg.sum())
    if count == 0 or count == fg.size:
        return 0, 0.0
    big = fg.size  # background points at a sentinel slot past the pixels
    labels = np.where(fg, np.arange(fg.size, dtype=np.int64).reshape(fg.shape), big)
    for _ in range(size):
        shifted = labels.copy()
        np.minimum(shifted[1:], labels[:-1], out=shifted[1:])
        np.minimum(shifted[:-1], labels[1:], out=shifted[:-1])
        np.minimum(shifted[:, 1:], labels[:, :-1], out=shifted[:, 1:])
        np.minimum(shifted[:, :-1], labels[:, 1:], out=shifted[:, :-1])
        shifted = np.where(fg, shifted, big)
        # Pointer jumping: follow each label to its own label, so long blobs converge in few rounds.
        flat = np.append(shifted.ravel(), big)
        shifted = flat[flat[:-1]].reshape(fg.shape)
        if np.array_equal(shifted, labels):
            break
        labels = shifted
    blobs = len(np.unique(labels[fg]))
    return blobs, count / blobs / fg.size


def _hue(r: np.ndarray, g: np.ndarray, b: np.ndarray, maxc: np.ndarray, spread: np.ndarray) -> np.ndarray:
    d = np.maximum(spread, 1e-6)
    red = (g - b) / d  # in [-1, 1] where red is the largest channel: `% 6` only lifts negatives by 6
    red += np.where(red < 0, np.float32(6), np.float32(0))
    h = np.where(maxc == r, red, np.where(maxc == g, (b - r) / d + 2, (r - g) / d + 4))
    return h / 6.0  # in [0, 1): red + 6 stays below 6 (|g - b| ≥ 1 when g ≠ b, since texels are whole levels)


class RuleClassifier:
    """Scores the taxonomy from pixel statistics; same output shape as the models."""

    FLOOR = 0.02

    def __init__(self, categories: list[str] | None = None):
        self.categories = list(categories or default_categories())
        self._index = {c: i for i, c in enumerate(self.categories)}

    def evidence(self, stats: PixelStats) -> dict[str, float]:
        """Category → confidence in [0, 1] for the signals the rules can see."""
        ev: dict[str, float] = {}

        def vote(category: str, score: float) -> None:
            if category in self._index and score > ev.get(category, 0.0):
                ev[category] = float(min(max(score, 0.0), 1.0))

        mean = stats.mean_rgb
        # Tangent-space normal maps: almost every texel is a unit vector leaning towards +Z (blue).
        if stats.unit_normal_fraction > 0.6 and mean[2] > 170 and stats.alpha_mean > 0.5:
            vote("map/normal", 0.55 + 0.45 * min(1.0, (stats.unit_normal_fraction - 0.6) / 0.3))
        # Font atlases: many small, sharp glyphs on a transparent or black field.
        background = max(stats.transparent, stats.dark)
        if 0.45 < background < 0.97 and stats.saturation < 0.25 and stats.components >= 12:  # noqa: SIM102
            glyph_like = stats.component_area < 0.02
            vote("ui/font", 0.93 if glyph_like and stats.components >= 24 else 0.6)
        # Masks: binary alpha with flat colour, or grey images that are mostly black/white.
        if stats.alpha_binary > 0.9 and 0.05 < stats.transparent < 0.95 and stats.std_luma < 20:
            vote("map/mask", 0.92)
        if stats.gray_fraction > 0.95:
            if stats.alpha_mean > 0.98:
                smooth = stats.edge_density < 0.02
                vote("map/height", 0.55 if smooth else 0.35)
                vote("map/specular", 0.35 if smooth else 0.5)
            elif stats.std_luma < 10:
                vote("map/mask", 0.6)
        # Emissive/effects: mostly black with bright, saturated parts (additive blending).
        if stats.dark > 0.6 and stats.gray_fraction < 0.9:
            vote("map/emissive", 0.35)
            vote("effect", 0.45)
        elif stats.transparent > 0.5 and stats.alpha_binary < 0.6:
            vote("effect", 0.5)  # soft alpha falloff: particles, smoke, flares
        # Sky: smooth vertical gradient, blue or grey.
        if stats.vertical_gradient < -0.7 and stats.edge_density < 0.02 and mean[2] >= mean[0]:
            vote("sky", 0.55)
        # Surfaces by dominant hue when nothing above is certain.
        if stats.saturation > 0.15:
            if stats.green > 0.5:
                vote("vegetation", 0.3)
                vote("surface/grass", 0.3)
            if stats.brown > 0.5 and mean[0] > mean[2]:
                vote("surface/wood", 0.3)
                vote("surface/ground", 0.25)
            if stats.blue > 0.5 and stats.edge_density < 0.08:
                vote("surface/water", 0.3)
        else:
            if mean.mean() > 200 and stats.std_luma < 30:
                vote("surface/snow", 0.3)
            vote("surface/rock", 0.2)
            vote("surface/concrete", 0.2)
            vote("surface/metal", 0.15)
        return ev

    def evidence_for(self, rgba: np.ndarray) -> dict[str, float]:
        return self.evidence(pixel_stats(rgba))

    def assess(self, rgba: np.ndarray) -> tuple[np.ndarray, tuple[str, float] | None]:
        """(probabilities over the categories, the one category the rules are sure of or None)."""
        return self.assess_batch([rgba])[0]

    def assess_batch(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, tuple[str, float] | None]]:
        """`assess` for several images, their statistics computed together (see pixel_stats_batch)."""
        out = []
        for stats in pixel_stats_batch(images):
            ev = self.evidence(stats)
            scores = np.full(len(self.categories), self.FLOOR, dtype=np.float32)
            for category, score in ev.items():
                scores[self._index[category]] += score
            strong = max(ev.items(), key=lambda kv: kv[1]) if ev else None
            out.append((scores / scores.sum(), strong if strong and strong[1] >= STRONG_EVIDENCE else None))
        return out

    def predict_probabilities(self, rgba: np.ndarray) -> np.ndarray:
        return self.assess(rgba)[0]

    def strong_evidence(self, rgba: np.ndarray) -> tuple[str, float] | None:
        """The single category the rules are sure of (normal map, mask, font), if any."""
        return self.assess(rgba)[1]

    def predict(self, rgba: np.ndarray, top_k_count: int = 5) -> Classification:
        probs = self.predict_probabilities(rgba)
        return Classification(
            predictions=top_k(probs, self.categories, top_k_count),
            probabilities=probs,
            categories=self.categories,
            source="rules",
        )
