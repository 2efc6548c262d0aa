"""What the Textures tab shows before a folder is open: where to drop one, and the last one to reopen."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from app.ui.icons import app_icon, icon


class EmptyPage(QWidget):
    openRequested = Signal()
    openAgainRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("emptyPage")
        art = QLabel(self)
        art.setPixmap(app_icon().pixmap(96, 96))
        art.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Drop a folder of textures here", self)
        title.setObjectName("bigHint")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel(
            "DDS, PNG, TGA, BMP, JPEG and PS2 TIM2 files, in the folder and all its sub-folders.", self
        )
        hint.setObjectName("muted")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        button = QPushButton(icon("open"), "Open Folder…", self)
        button.setObjectName("primary")
        button.clicked.connect(self.openRequested)
        self.again = QPushButton(self)
        self.again.setFlat(True)
        self.again.clicked.connect(self.openAgainRequested)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        for widget in (art, title, hint):
            layout.addWidget(widget)
        layout.addSpacing(12)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.again, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)
        self.show_last_folder(None)

    def show_last_folder(self, folder: str | None) -> None:
        self.again.setVisible(bool(folder))
        self.again.setText(f"Open again: {folder}" if folder else "")
