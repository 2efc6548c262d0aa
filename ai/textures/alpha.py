"""What a texture's alpha channel is for: none, a cut-out mask, transparency around a picture, or data.

Game textures often keep data in alpha (gloss or specular in a BC3 diffuse, height in a normal
map, a team-colour mask): drawn with that alpha on a checkerboard they look empty or washed
out. Viewers show those as RGB and say that alpha holds data; masks and sprites keep their
transparency. The rules, on the alpha of a ≤128 px subsample (every n-th pixel, so a 1-bit
mask stays 1-bit):

- "opaque": under 0.5 % of the pixels are below 98 % alpha;
- "mask": at most 10 % of the pixels are between 4 % and 96 % alpha (a cut-out: DXT1
  punch-through, foliage, fences, UI shapes);
- "transparency": soft alpha, but the picture sits on a transparent background: at least half of
  the border is below 5 % alpha and at least 5 % of the pixels are at least half opaque
  (sprites, particles, icons, font atlases);
- "data": any other alpha (it covers the picture without framing it, or hides nearly all of it).
"""

from __future__ import annotations

import numpy as np

ALPHA_KINDS = ("opaque", "mask", "transparency", "data")
SAMPLE_SIDE = 128


def alpha_usage(rgba: np.ndarray) -> str:
    """One of ALPHA_KINDS for an HxWx4 uint8 image (see the module docstring)."""
    if rgba.ndim != 3 or rgba.shape[2] < 4 or rgba.size == 0:
        return "opaque"
    h, w = rgba.shape[:2]
    step = max(1, -(-max(h, w) // SAMPLE_SIDE))
    alpha = rgba[::step, ::step, 3].astype(np.float32) / 255.0
    if (alpha < 0.98).mean() < 0.005:
        return "opaque"
    if ((alpha > 0.04) & (alpha < 0.96)).mean() <= 0.10:
        return "mask"
    border = np.concatenate([alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1]])
    if (border < 0.05).mean() >= 0.5 and (alpha >= 0.5).mean() >= 0.05:
        return "transparency"
    return "data"
