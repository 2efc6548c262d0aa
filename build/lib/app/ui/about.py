"""The About dialog: what this is, and the versions a bug report needs (app, ONNX Runtime, Qt, model)."""

from __future__ import annotations

import platform

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from ai import __version__
from app.logsetup import log_file_path
from app.ui.icons import app_icon


def versions(manager=None) -> list[tuple[str, str]]:
    try:
        import onnxruntime

        ort = onnxruntime.__version__
    except ImportError:  # pragma: no cover - a dependency; the manager then uses the rules
        ort = "not installed"
    rows = [
        ("Texture Sorter", __version__),
        ("ONNX Runtime", ort),
        ("Qt", f"{qVersion()} (PySide6 {PySide6.__version__})"),
        ("Python", f"{platform.python_version()} on {platform.system()} {platform.machine()}"),
    ]
    if manager is not None:
        rows.append(("Model", manager.describe()))
        rows.append(("Model id", manager.model_id))
        online = manager.online_model
        rows.append(("Online classifier", online.describe() if online is not None else "off"))
        learner = manager.learner
        if learner is not None:
            rows.append(("Your corrections", f"{len(learner):,}"))
    rows.append(("Log file", str(log_file_path())))
    return rows


class AboutDialog(QDialog):
    def __init__(self, manager=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About Texture Sorter")
        icon = QLabel(self)
        icon.setPixmap(app_icon().pixmap(64, 64))
        title = QLabel("<h2>Texture Sorter</h2>", self)
        blurb = QLabel(
            "Sorts folders of game textures into categories with an offline classifier that learns "
            "from your corrections. MIT licence.",
            self,
        )
        blurb.setWordWrap(True)
        table = "".join(
            f"<tr><td style='padding-right:12px;color:#57606a'>{k}</td><td>{v}</td></tr>"
            for k, v in versions(manager)
        )
        details = QLabel(f"<table>{table}</table>", self)
        details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        details.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(title, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(blurb)
        layout.addWidget(details)
        layout.addWidget(buttons)
        self.resize(480, 0)
