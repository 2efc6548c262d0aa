"""How a texture's channels are shown: with alpha on a checkerboard, colour only, alpha only, or automatic.

"Automatic" picks per texture (ai.textures.alpha.alpha_usage): colour only when the alpha holds
data (gloss, height, a mask: it would make the picture look empty), with alpha otherwise. The
grid and the detail pane follow the main window's choice (toolbar, View menu, Alt+0…3); the
detail pane and Review also have their own buttons (`ChannelButtons`).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QToolButton, QWidget

MODES = ("auto", "rgba", "rgb", "alpha")
LABELS = {"auto": "Automatic", "rgba": "With Alpha", "rgb": "Colour Only (RGB)", "alpha": "Alpha Only"}
SHORT = {"auto": "Auto", "rgba": "RGBA", "rgb": "RGB", "alpha": "A"}
KEYS = {"auto": "Alt+0", "rgba": "Alt+1", "rgb": "Alt+2", "alpha": "Alt+3"}
TIPS = {
    "auto": "Colour only where the alpha channel holds data (gloss, height, masks), with alpha elsewhere",
    "rgba": "With alpha, on a checkerboard",
    "rgb": "The colour channels only, alpha ignored",
    "alpha": "The alpha channel as a grey picture",
}
DATA_BADGE_TIP = "Its alpha channel holds data (not transparency): shown as colour only"


def effective(mode: str, alpha_kind: str | None) -> str:
    """The view of one texture: "rgba", "rgb" or "alpha" ("auto" decided by its alpha kind)."""
    if mode == "auto":
        return "rgb" if alpha_kind == "data" else "rgba"
    return mode if mode in MODES else "rgba"


def next_mode(mode: str) -> str:
    return MODES[(MODES.index(mode) + 1) % len(MODES)] if mode in MODES else "auto"


def to_view_image(pixels: np.ndarray, view: str = "rgba") -> QImage:
    """A QImage (owning its data) of an HxWx4 RGBA array as `view` shows it."""
    h, w = pixels.shape[:2]
    if view == "alpha":
        data = np.ascontiguousarray(pixels[..., 3]).tobytes()
        return QImage(data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    if view == "rgb":
        opaque = np.array(pixels, copy=True)
        opaque[..., 3] = 255  # RGBX: Qt requires the fourth byte to be 255
        return QImage(opaque.tobytes(), w, h, w * 4, QImage.Format.Format_RGBX8888).copy()
    data = np.ascontiguousarray(pixels).tobytes()
    return QImage(data, w, h, w * 4, QImage.Format.Format_RGBA8888).copy()


class ChannelButtons(QWidget):
    """Four small toggle buttons (Auto · RGBA · RGB · A) choosing a view's channel mode."""

    modeChanged = Signal(str)

    def __init__(self, mode: str = "auto", parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("channelButtons")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        self._group = QButtonGroup(self)
        self.buttons: dict[str, QToolButton] = {}
        for key in MODES:
            button = QToolButton(self)
            button.setText(SHORT[key])
            button.setToolTip(f"{LABELS[key]}: {TIPS[key].lower()}")
            button.setCheckable(True)
            button.setAutoRaise(True)
            self._group.addButton(button)
            self.buttons[key] = button
            row.addWidget(button)
            button.clicked.connect(lambda _checked=False, k=key: self.set_mode(k, emit=True))
        row.addStretch(1)
        self._mode = ""
        self.set_mode(mode)

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str, emit: bool = False) -> None:
        mode = mode if mode in MODES else "auto"
        self.buttons[mode].setChecked(True)
        changed = mode != self._mode
        self._mode = mode
        if changed and emit:
            self.modeChanged.emit(mode)
