"""Icons and the style sheet from `resources/` (SVG line icons drawn for this project)."""

from __future__ import annotations

import functools
import logging

from PySide6.QtGui import QIcon

from ai.paths import resource_path

log = logging.getLogger(__name__)


@functools.cache
def icon(name: str) -> QIcon:
    """`resources/icons/<name>.svg` as a QIcon (an empty icon if the file is missing)."""
    path = resource_path("icons", f"{name}.svg")
    if not path.is_file():
        log.warning("icon %s is missing", path)
        return QIcon()
    return QIcon(str(path))


def app_icon() -> QIcon:
    return icon("app")


def style_sheet() -> str:
    """The application's QSS, with the icon folder filled in for image URLs."""
    path = resource_path("style.qss")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        log.warning("style sheet %s not loaded: %s", path, exc)
        return ""
    return text.replace("@ICONS@", resource_path("icons").as_posix())
