"""The category sidebar: every bucket with its count; choosing one filters the results.

Counts are painted right-aligned and never cut: a narrow sidebar elides the bucket's name
instead (`CountDelegate`).
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

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
PADDING = 14  # the style sheet's item padding (10) and margin (4)
GAP = 8


def split_text(text: str) -> tuple[str, str]:
    """"label  (n)" → ("label", "n")."""
    label, sep, count = text.rpartition("  (")
    return (label, count.rstrip(")")) if sep else (text, "")


def count_layout(rect: QRect, text: str, metrics: QFontMetrics) -> tuple[str, QRect, QRect]:
    """Where a row's label (elided to fit) and count go: the count keeps its full width."""
    label, count = split_text(text)
    inner = rect.adjusted(PADDING, 0, -PADDING, 0)
    count_width = metrics.horizontalAdvance(count)
    count_rect = QRect(inner.right() - count_width + 1, inner.y(), count_width, inner.height())
    label_rect = QRect(inner.x(), inner.y(), max(0, count_rect.x() - GAP - inner.x()), inner.height())
    return metrics.elidedText(label, Qt.TextElideMode.ElideMiddle, label_rect.width()), label_rect, count_rect


class CountDelegate(QStyledItemDelegate):
    """Paints a bucket as its (elided) name on the left and its count on the right."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        label, label_rect, count_rect = count_layout(option.rect, text, QFontMetrics(opt.font))
        painter.save()
        painter.setFont(opt.font)
        foreground = index.data(Qt.ItemDataRole.ForegroundRole)  # the red/orange of the special buckets
        if isinstance(foreground, QBrush):
            foreground = foreground.color()
        painter.setPen(foreground if isinstance(foreground, QColor) else option.palette.text().color())
        painter.drawText(label_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, label)
        painter.setPen(QColor("#6e7781"))
        painter.drawText(count_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, split_text(text)[1])
        painter.restore()


class CategorySidebar(QListWidget):
    bucketChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.setUniformItemSizes(True)
        self.setMinimumWidth(170)
        self.setItemDelegate(CountDelegate(self))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # names elide instead
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
