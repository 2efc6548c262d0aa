"""The category sidebar: every bucket with its count; choosing one filters the results."""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from ai.taxonomy import category_descriptions
from app.ui.results_roles import FILTER_ALL, FILTER_CORRECTED, FILTER_ERRORS, FILTER_UNCERTAIN, PENDING

SPECIAL = (
    (FILTER_ALL, "All textures"),
    (FILTER_UNCERTAIN, "Uncertain"),
    (FILTER_CORRECTED, "Corrected by you"),
    (FILTER_ERRORS, "Unreadable"),
    (PENDING, "Not classified yet"),
)
_ROLE = Qt.ItemDataRole.UserRole


class CategorySidebar(QListWidget):
    bucketChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.setUniformItemSizes(True)
        self.setMinimumWidth(170)
        self._descriptions = category_descriptions()
        self._signature: tuple = ()
        self._bucket = FILTER_ALL
        self.currentItemChanged.connect(self._current_changed)
        self.set_counts(Counter())

    def sizeHint(self) -> QSize:
        return QSize(210, 400)

    @property
    def bucket(self) -> str:
        return self._bucket

    def set_counts(self, counts: Counter) -> None:
        """Show the buckets that have files (All always); keeps the chosen one."""
        rows: list[tuple[str, str, int]] = []
        for key, label in SPECIAL:
            n = int(counts.get(key, 0))
            if key == FILTER_ALL or n > 0 or key == self._bucket:
                rows.append((key, label, n))
        categories = sorted(k for k, n in counts.items() if n > 0 and not k.startswith("\0") and k != PENDING)
        if self._bucket not in categories and not self._bucket.startswith("\0") and self._bucket != PENDING:
            categories = sorted([*categories, self._bucket])
        rows += [(c, c, int(counts.get(c, 0))) for c in categories]
        signature = tuple(rows)
        if signature == self._signature:
            return
        self._signature = signature
        self.blockSignals(True)
        try:
            if [self.item(i).data(_ROLE) for i in range(self.count())] == [r[0] for r in rows]:
                for i, (_, label, n) in enumerate(rows):
                    self.item(i).setText(_text(label, n))
            else:
                self.clear()
                for key, label, n in rows:
                    item = QListWidgetItem(_text(label, n))
                    item.setData(_ROLE, key)
                    if key.startswith("\0") or key == PENDING:
                        font = QFont(self.font())
                        font.setBold(key == FILTER_ALL)
                        item.setFont(font)
                        if key == FILTER_ERRORS:
                            item.setForeground(QColor("#b3261e"))
                        elif key == FILTER_UNCERTAIN:
                            item.setForeground(QColor("#a35f00"))
                    else:
                        item.setToolTip(self._descriptions.get(key, key))
                    self.addItem(item)
            for i in range(self.count()):
                if self.item(i).data(_ROLE) == self._bucket:
                    self.setCurrentRow(i)
                    break
        finally:
            self.blockSignals(False)

    def select_bucket(self, key: str) -> None:
        for i in range(self.count()):
            if self.item(i).data(_ROLE) == key:
                self.setCurrentRow(i)
                return
        self._bucket = key
        self.bucketChanged.emit(key)

    def _current_changed(self, current: QListWidgetItem | None, _previous) -> None:
        if current is None:
            return
        key = current.data(_ROLE)
        if key != self._bucket:
            self._bucket = key
            self.bucketChanged.emit(key)


def _text(label: str, n: int) -> str:
    return f"{label}  ({n:,})"
