"""Training data without torch: augmentation of RGBA textures and folder-per-category datasets.

Shared by `ai.training_pytorch` (the trainer), the GUI's training tab and the models/ recipe; numpy
and Pillow only, so it imports anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

# --- augmentation (numpy + Pillow; shared by the CLI trainer and the models/ recipe) ---------------


def augment_rgba(rgba: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """One random view of a texture as dumps show it: crop of a tiling, flips, colour, low-res, alpha.

    Returns RGBA uint8; when the alpha was composited onto a random background the alpha is 255,
    otherwise `to_model_rgb` later puts the transparent texels on the usual mid grey.
    """
    image = Image.fromarray(rgba, "RGBA")
    w, h = image.size
    if rng.random() < 0.25 * strength:  # crop across the seam of a 2×2 tiling
        tiled = Image.new("RGBA", (w * 2, h * 2))
        for dx in (0, w):
            for dy in (0, h):
                tiled.paste(image, (dx, dy))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        image = tiled.crop((x, y, x + w, y + h))
    elif rng.random() < 0.5 * strength:  # random crop keeping 55–100 % of each side
        # Never larger than the image: strips and icons of 1–3 px exist in real dumps.
        cw = min(w, max(4, int(w * rng.uniform(0.55, 1.0))))
        ch = min(h, max(4, int(h * rng.uniform(0.55, 1.0))))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        image = image.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if rng.random() < 0.2 * strength:
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    if rng.random() < 0.25 * strength:  # the low-resolution textures of old games and mip dumps
        side = int(rng.integers(32, 65))
        image = image.resize((side, side), Image.Resampling.BILINEAR)
    alpha = image.getchannel("A")
    rgb = image.convert("RGB")
    # Colour jitter without hue shifts: a hue change would turn a normal map into something else.
    for enhancer, spread in (
        (ImageEnhance.Brightness, 0.25),
        (ImageEnhance.Contrast, 0.25),
        (ImageEnhance.Color, 0.2),
    ):
        if rng.random() < 0.6 * strength:
            rgb = enhancer(rgb).enhance(float(rng.uniform(1 - spread, 1 + spread)))
    out = np.dstack([np.asarray(rgb), np.asarray(alpha)])
    if out[:, :, 3].min() < 255 and rng.random() < 0.5 * strength:
        out = _composite_on_random_background(out, rng)
    return np.ascontiguousarray(out)


def _composite_on_random_background(rgba: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = rgba.shape[:2]
    kind = rng.integers(0, 3)
    if kind == 0:  # black or white, as viewers and dumps often show cut-outs
        background = np.full((h, w, 3), 255 if rng.random() < 0.5 else 0, np.float32)
    elif kind == 1:
        background = np.broadcast_to(rng.uniform(0, 255, 3).astype(np.float32), (h, w, 3))
    else:
        background = rng.uniform(0, 255, (h, w, 3)).astype(np.float32)
    a = rgba[:, :, 3:4].astype(np.float32) / 255.0
    rgb = rgba[:, :, :3].astype(np.float32) * a + background * (1.0 - a)
    return np.dstack([rgb.round().astype(np.uint8), np.full((h, w), 255, np.uint8)])


# --- folder-per-category datasets -----------------------------------------------------------------


def scan_image_folders(root: str | os.PathLike[str]) -> tuple[list[tuple[Path, int]], list[str]]:
    """(path, class index) for every texture under a folder-per-category tree, and the category ids.

    A category is a folder's path below `root` with "/" separators (`surface/wood`), so the
    output of a sort can be trained on directly. Files directly in `root` are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    from ai.textures import SUPPORTED_EXTENSIONS

    found: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in SUPPORTED_EXTENSIONS and path.is_file() and path.parent != root:
            found.setdefault(path.parent.relative_to(root).as_posix(), []).append(path)
    categories = sorted(found)
    samples = [(p, i) for i, c in enumerate(categories) for p in found[c]]
    return samples, categories


def load_rgba(path: str | os.PathLike[str], max_side: int = 512) -> np.ndarray:
    """Decode a texture with the app's decoder, reduced so the longest side is ≤ max_side."""
    from ai.textures import load_texture

    pixels = load_texture(path, min_size=max_side).pixels
    h, w = pixels.shape[:2]
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        pixels = np.asarray(Image.fromarray(pixels, "RGBA").resize(size, Image.Resampling.BOX))
    return pixels


