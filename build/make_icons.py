"""Renders resources/icons/app.svg to the raster icons packagers need: app.png (256 px) and app.ico.

    python build/make_icons.py

The Windows executable and installer take app.ico, the Linux desktop entry app.png; the SVG stays
the one drawing. Run after changing app.svg and commit the results (builds do not render icons).
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from PIL import Image

ICON_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def render_svg(svg: Path, size: int) -> Image.Image:
    """The SVG drawn at size×size with Qt's renderer, as an RGBA Pillow image."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QIODevice
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGBA")


def main() -> int:
    svg = ICON_DIR / "app.svg"
    big = render_svg(svg, 256)
    big.save(ICON_DIR / "app.png", optimize=True)
    # Each size rendered from the vector drawing, not scaled down from 256 px: small icons stay sharp.
    frames = [render_svg(svg, size) for size in ICO_SIZES]
    frames[-1].save(ICON_DIR / "app.ico", sizes=[(s, s) for s in ICO_SIZES], append_images=frames[:-1])
    print(f"wrote {ICON_DIR / 'app.png'} and {ICON_DIR / 'app.ico'} ({', '.join(map(str, ICO_SIZES))} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
