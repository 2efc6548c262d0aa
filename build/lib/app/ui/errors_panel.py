"""The errors panel: every file that could not be read and every failed job, listed (never a dialog each)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

MAX_ENTRIES = 100_000
_ROOT = QModelIndex()  # the invisible root: these models are flat


@dataclass(frozen=True)
class ErrorEntry:
    when: float
    what: str  # "file" or the job that failed
    path: str
    reason: str


class ErrorListModel(QAbstractTableModel):
    HEADERS = ("Time", "What", "File", "Reason")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.entries: list[ErrorEntry] = []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        entry = self.entries[index.row()]
        values = (time.strftime("%H:%M:%S", time.localtime(entry.when)), entry.what, entry.path, entry.reason)
        return values[index.column()]

    def add(self, entries: list[ErrorEntry]) -> None:
        room = MAX_ENTRIES - len(self.entries)
        entries = entries[: max(0, room)]
        if not entries:
            return
        start = len(self.entries)
        self.beginInsertRows(QModelIndex(), start, start + len(entries) - 1)
        self.entries.extend(entries)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.entries.clear()
        self.endResetModel()


class ErrorsPanel(QDockWidget):
    """A dock listing problems; the status bar shows the count and opens it."""

    countChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Problems", parent)
        self.setObjectName("errorsDock")
        self.model = ErrorListModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setColumnWidth(2, 420)
        self.summary = QLabel(self)
        copy = QPushButton("Copy", self)
        copy.setToolTip("Copy the selected problems (or all) as text")
        copy.clicked.connect(self.copy_to_clipboard)
        clear = QPushButton("Clear", self)
        clear.clicked.connect(self.clear)
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(copy)
        bar.addWidget(clear)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        self.setWidget(body)
        self._update_summary()

    def add_files(self, problems: list[tuple[str, str]]) -> None:
        now = time.time()
        self.model.add([ErrorEntry(now, "unreadable file", path, reason) for path, reason in problems])
        self._update_summary()

    def add(self, what: str, reason: str, path: str = "") -> None:
        self.model.add([ErrorEntry(time.time(), what, path, reason)])
        self._update_summary()

    def clear(self) -> None:
        self.model.clear()
        self._update_summary()

    def count(self) -> int:
        return self.model.rowCount()

    def copy_to_clipboard(self) -> None:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedIndexes()}) or range(self.count())
        lines = [f"{e.path or e.what}\t{e.reason}" for e in (self.model.entries[r] for r in rows)]
        QGuiApplication.clipboard().setText("\n".join(lines))

    def _update_summary(self) -> None:
        n = self.count()
        self.summary.setText("No problems." if n == 0 else f"{n:,} problem{'s' if n != 1 else ''}")
        self.countChanged.emit(n)
