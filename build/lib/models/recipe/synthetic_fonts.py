"""Font-atlas images rendered from the TrueType fonts inside supertuxkart-data.

The four games ship only ~30 real font atlases (0 A.D.'s fonts/*.png, Red Eclipse's fonts/),
too few for ui/font. Games bake TTFs into atlases like these at run time, so the recipe bakes
the fonts the SuperTuxKart package contains the same way: glyph grids or packed rows, white on
transparent or on black, sometimes outlined. They count as SuperTuxKart images, so that the
leave-one-game-out evaluation never tests 0 A.D.'s real atlases against their own fonts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

GAME = "supertuxkart"
FONT_DIRS = ("ttf", "skins/cartoon/data/ttf")
ASCII = "".join(chr(c) for c in range(33, 127))
SCRIPTS = {  # fonts that only cover one script get that script's letters
    "arabic": "".join(chr(c) for c in range(0x0621, 0x064B)),
    "hebrew": "".join(chr(c) for c in range(0x05D0, 0x05EB)),
    "thai": "".join(chr(c) for c in range(0x0E01, 0x0E3B)),
}
CJK = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 400, 3))
PER_FONT = 24


def font_files(data_root: Path) -> list[Path]:
    """Real font files (the package's symlinks into other packages are left out)."""
    found = []
    for sub in FONT_DIRS:
        for path in sorted((data_root / sub).glob("*")):
            real = path.is_file() and not path.is_symlink() and path.stat().st_size > 10_000
            if real and path.suffix.lower() in (".ttf", ".otf") and "emoji" not in path.name.lower():
                found.append(path)
    return found


def _charset(font_path: Path, rng: np.random.Generator) -> str:
    name = font_path.name.lower()
    for script, letters in SCRIPTS.items():
        if script in name:
            return letters
    if "wqy" in name and rng.random() < 0.5:
        return ASCII + CJK
    return ASCII


def render_atlas(font_path: Path, rng: np.random.Generator) -> np.ndarray:
    side = int(rng.choice([128, 256, 256, 512]))
    chars = _charset(font_path, rng)
    glyph = int(side / rng.uniform(8, 20))
    font = ImageFont.truetype(str(font_path), glyph)
    stroke = int(rng.integers(1, 3)) if rng.random() < 0.3 else 0
    style = rng.random()
    if style < 0.55:
        background, ink = (0, 0, 0, 0), (255, 255, 255, 255)
    elif style < 0.8:
        background, ink = (0, 0, 0, 255), (255, 255, 255, 255)
    elif style < 0.9:
        background, ink = (255, 255, 255, 255), (0, 0, 0, 255)
    else:
        background, ink = (0, 0, 0, 0), tuple(int(v) for v in rng.integers(80, 256, 3)) + (255,)
    image = Image.new("RGBA", (side, side), background)
    draw = ImageDraw.Draw(image)
    cell = glyph + 2 * stroke + int(rng.integers(1, 6))
    grid = rng.random() < 0.6
    x = y = 1
    for ch in chars:
        width = cell if grid else int(draw.textlength(ch, font=font)) + 2 * stroke + 2
        if x + width > side:
            x, y = 1, y + cell
        if y + cell > side:
            break
        draw.text(
            (x + stroke, y + stroke),
            ch,
            font=font,
            fill=ink,
            stroke_width=stroke,
            stroke_fill=(0, 0, 0, 255) if stroke else None,
        )
        x += width
    return np.asarray(image)


def iter_font_atlases(data_root: Path, seed: int = 5) -> Iterator[tuple[str, np.ndarray]]:
    """(relpath-like name, RGBA atlas) for PER_FONT atlases of each font."""
    for index, font_path in enumerate(font_files(data_root)):
        rng = np.random.default_rng([seed, index])
        for i in range(PER_FONT):
            yield f"synthetic/font_atlas/{font_path.stem}_{i:02d}", render_atlas(font_path, rng)
