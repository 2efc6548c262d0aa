"""Model updates in the window: the daily check at start-up (off the UI thread) and its non-modal notice.

`start_update_check(window)` returns at once; the check runs in the background only when it is
due (`ModelLibrary.check_due`: on, catalogs followed, not in the last 24 h), reads the catalogs
(their cached copies when offline) and, if installed models have newer versions, shows a small
notice in the status bar with a button to the Get Models dialog. Nothing here ever blocks
start-up or asks a question; a failed check is only logged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from app.ui.worker import Op

if TYPE_CHECKING:
    from ai.packages.library import ModelLibrary, Update

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 10.0


def updates_text(updates: list[Update]) -> str:
    names = ", ".join(f"{u.entry.name} {u.entry.version}" for u in updates[:3])
    more = f" and {len(updates) - 3} more" if len(updates) > 3 else ""
    noun = "Model update" if len(updates) == 1 else f"{len(updates)} model updates"
    return f"{noun}: {names}{more}"


class UpdateNotice(QFrame):
    """"Model updates: … [Get Models…] [×]": a strip in the status bar, never a modal box."""

    openRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("updateNotice")
        self.setStyleSheet("QFrame#updateNotice { background: #e8f0fd; border: 1px solid #b8cdf3; border-radius: 4px; }")
        self.label = QLabel(self)
        self.open_button = QPushButton("Get Models…", self)
        self.open_button.clicked.connect(self.openRequested)
        self.open_button.clicked.connect(self.hide)
        close = QToolButton(self)
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip("Hide (Models → Get Models… shows the updates again)")
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 1, 2, 1)
        row.addWidget(self.label)
        row.addWidget(self.open_button)
        row.addWidget(close)
        self.updates: list[Update] = []
        self.hide()

    def show_updates(self, updates: list[Update]) -> None:
        self.updates = list(updates)
        if not updates:
            self.hide()
            return
        self.label.setText(updates_text(updates))
        self.setToolTip("\n".join(f"{u.entry.name}: {u.installed.version} → {u.entry.version} ({u.entry.catalog_name})"
                                  for u in updates))  # fmt: skip
        self.show()


def start_update_check(window, library: ModelLibrary | None = None, *, force: bool = False) -> Op:
    """Run the check in the background if due (or `force`); updates found show in `window.update_notice`."""
    notice = getattr(window, "update_notice", None)
    if notice is None:
        notice = window.update_notice = UpdateNotice(window)
        window.statusBar().addPermanentWidget(notice)
        notice.openRequested.connect(window.show_get_models_dialog)

    def job():  # worker thread: even importing the network code stays off the UI thread
        from ai.packages.library import ModelLibrary

        # A short timeout: a slow catalog must not keep the program from quitting for long.
        checker = library or ModelLibrary(timeout=CHECK_TIMEOUT_S)
        if not force and not checker.check_due():
            return None
        return checker.check_for_updates()[0]

    def done(updates) -> None:
        if updates:
            log.info("model updates available: %s", ", ".join(u.entry.key for u in updates))
            notice.show_updates(updates)

    op = Op(window, job).success(done).failure(lambda exc: log.warning("the model update check failed: %s", exc))
    op.titled("Model update check").run()
    return op
