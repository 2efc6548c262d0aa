"""The views of each cached texture that the recipe embeds: plain, seam crop, PS2-like, augmented.

A PS2 dump is small and palettised: `ps2_view` shrinks a texture so its longest side is 32–128 px
and quantises it to a 16- or 256-colour palette that includes alpha (PCSX2 dumps of 4- and 8-bit
CLUT textures look like this). `seam_view` is the deterministic crop across the seam of a 2×2
tiling that the test-time views average with the plain view. Every view of an image is drawn from
a generator seeded by the image's pixel digest, so a view is the same whichever run makes it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ai.training_pytorch.data import augment_rgba

# Row order of the views in a features file; TRAIN_VIEWS are the ones the heads learn from.
# (Four views, not more: on two shared cores embedding each extra view of 23k images costs ~10 min.)
VIEW_NAMES = ("plain", "seam", "ps2", "augment")
TRAIN_VIEWS = (0, 2, 3)
PS2_SIDES = (32, 128)
PS2_COLOURS = (16, 256)


def seam_view(rgba: np.ndarray) -> np.ndarray:
    """The image rolled by half its size: the crop of a 2×2 tiling that is centred on the seams."""
    h, w = rgba.shape[:2]
    return np.ascontiguousarray(np.roll(rgba, (h // 2, w // 2), axis=(0, 1)))


def ps2_view(rgba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shrink to a longest side of 32–128 px and quantise to 16 or 256 colours with alpha."""
    image = Image.fromarray(rgba, "RGBA")
    side = int(rng.integers(PS2_SIDES[0], PS2_SIDES[1] + 1))
    scale = side / max(image.size)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR if rng.random() < 0.5 else Image.Resampling.BOX)
    colours = int(rng.choice(PS2_COLOURS))
    # Fast octree is the one Pillow quantiser that keeps alpha in the palette.
    quantised = image.quantize(colors=colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    return np.ascontiguousarray(np.asarray(quantised.convert("RGBA")))


def make_views(rgba: np.ndarray, digest: str) -> list[np.ndarray]:
    """The RGBA views of one image, in VIEW_NAMES order."""
    rng = np.random.default_rng([int(digest[:15], 16), 77])
    return [rgba, seam_view(rgba), ps2_view(rgba, rng), augment_rgba(rgba, rng)]
