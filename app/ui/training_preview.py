"""The Training tab's preview: what a trained model would do to the open folder, before it is installed.

It classifies the folder's files with the trained model off the UI thread
(app.category_shift.classify_with) and shows, per category, how many files it has now and would
have, with the user's own answers kept as they are (they stay after installing too).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.category_shift import CategoryShift, classify_with, compare
from app.scan import ScannedFile
from app.ui.worker import GeneratorWorker, start_worker

GONE_COLOUR = QColor("#b3261e")
COLUMNS = ("Category", "Now", "With this model", "Change")


def preview_job(model_path: str, files: list[ScannedFile], cancel: threading.Event) -> Iterator[tuple]:
    """Yields ("progress", done, total) and finally returns path → category of the new model."""
    after: dict[str, str] = {}
    latest = [0]

    def progress(p) -> None:
        latest[0] = p.done

    for batch in classify_with(model_path, files, cancel, progress):
        after.update(batch)
        yield ("progress", latest[0], len(files))
    return after


class ShiftPreview(QWidget):
    """Category counts of the open folder: now, and with the trained model."""

    ready = Signal(object)  # CategoryShift, or None when there was nothing to compare

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("shiftPreview")
        self.shift: CategoryShift | None = None
        self._worker: GeneratorWorker | None = None
        self._cancel: threading.Event | None = None
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setShowGrid(False)
        self.table.setMinimumHeight(120)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.clear()

    @property
    def is_running(self) -> bool:
        return self._worker is not None and self._worker.running

    def clear(self) -> None:
        self.cancel()
        self.shift = None
        self.table.setRowCount(0)
        self.table.setVisible(False)
        self.summary.setText("")

    def start(self, model_path: str, before: Mapping[str, str], answers: Mapping[str, str],
              files: list[ScannedFile]) -> GeneratorWorker | None:  # fmt: skip
        """Compare `before` (path → category shown now) with the model at `model_path` on `files`."""
        self.clear()
        if not files:
            self.summary.setText(
                "Open a folder on the Textures tab to see, before installing, what this model would change there."
            )
            self.ready.emit(None)
            return None
        self.summary.setText(f"Comparing with the current model on the open folder ({len(files):,} textures)…")
        cancel = threading.Event()
        self._cancel = cancel
        before, answers = dict(before), dict(answers)

        def finished(after: dict[str, str] | None) -> None:
            if cancel.is_set() or after is None:
                return
            # The user's answers stay what they are, whichever model is installed.
            after = {p: answers.get(p) or c for p, c in after.items()}
            self.show_shift(compare(before, after))

        self._worker = start_worker(
            lambda: preview_job(model_path, files, cancel), cancel=cancel, on_yield=self._progress,
            on_finish=finished, on_error=self._failed,
        )  # fmt: skip
        return self._worker

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
        if self._worker is not None:
            self._worker.quit()

    def _progress(self, event: tuple) -> None:
        _, done, total = event
        self.summary.setText(f"Comparing with the current model on the open folder: {done:,} of {total:,}…")

    def _failed(self, exc: BaseException) -> None:
        self.summary.setText(f"<b>Could not compare with the current model:</b> {exc}")
        self.ready.emit(None)

    def show_shift(self, shift: CategoryShift) -> None:
        self.shift = shift
        parts = [f"With this model {shift.moved:,} of {shift.files:,} textures ({shift.moved_share:.0%}) "
                 "of the open folder would change category."]  # fmt: skip
        if shift.vanished:
            parts.append(f"<b>{', '.join(shift.vanished)}</b> would have none left.")
        if shift.is_big:
            parts.append("That is a big change: check the table before installing.")
        self.summary.setText(" ".join(parts))
        self.table.setRowCount(len(shift.rows))
        for r, row in enumerate(shift.rows):
            change = f"{row.change:+,}" if row.change else "0"
            for c, value in enumerate((row.category, f"{row.before:,}", f"{row.after:,}", change)):
                item = QTableWidgetItem(value)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row.before and not row.after:
                    item.setForeground(GONE_COLOUR)
                self.table.setItem(r, c, item)
        self.table.setVisible(True)
        self.ready.emit(shift)
