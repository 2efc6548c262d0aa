"""Handing a folder to the desktop: open it in the file manager, or say where it is when none can."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)


def open_folder(path: str, parent: QWidget | None = None) -> bool:
    """Show `path` in the file manager; when there is none, a message names the folder (and copies it)."""
    if QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
        return True
    log.info("no file manager opened %s", path)
    QGuiApplication.clipboard().setText(path)
    if parent is not None:
        box = QMessageBox(QMessageBox.Icon.Information, "Open Folder",
                          f"No file manager could be started to show the folder:\n\n{path}\n\n"
                          "Its path is on the clipboard.", QMessageBox.StandardButton.Ok, parent)  # fmt: skip
        box.setObjectName("noFileManager")
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
    return False
