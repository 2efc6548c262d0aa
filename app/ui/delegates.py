"""Painting of result items: thumbnail on a checkerboard, name, category, confidence bar and badges.

One delegate paints every cell of the grid (no widget per item), from the model's roles only.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.ui.results_roles import Role

HIGH_CONFIDENCE = 0.75
COLOURS = {
    "high": QColor("#2e9d5b"),
    "medium": QColor("#3d7fc4"),
    "low": QColor("#e08a1e"),
    "error": QColor("#d64545"),
    "corrected": QColor("#2f6fde"),
    "muted": QColor("#8a8f98"),
    "placeholder": QColor("#eceef1"),
    "selected": QColor("#dbe8fb"),
    "selected_border": QColor("#2f6fde"),
    "hover": QColor("#f1f3f6"),
    "text": QColor("#1f2328"),
}

LOADING = "loading…"
_checker: QBrush | None = None


def checkerboard() -> QBrush:
    """The brush painted behind transparent pixels."""
    global _checker
    if _checker is None:
        tile = QPixmap(16, 16)
        tile.fill(QColor("#ffffff"))
        p = QPainter(tile)
        p.fillRect(0, 0, 8, 8, QColor("#d9dce1"))
        p.fillRect(8, 8, 8, 8, QColor("#d9dce1"))
        p.end()
        _checker = QBrush(tile)
    return _checker


def confidence_colour(confidence: float, uncertain: bool, corrected: bool) -> QColor:
    if corrected:
        return COLOURS["corrected"]
    if uncertain:
        return COLOURS["low"]
    return COLOURS["high"] if confidence >= HIGH_CONFIDENCE else COLOURS["medium"]


def fit_rect(image_size: QSize, area: QRect, allow_upscale: bool = True) -> QRect:
    """Where an image of `image_size` goes inside `area`, centred, aspect kept."""
    w, h = max(1, image_size.width()), max(1, image_size.height())
    scale = min(area.width() / w, area.height() / h)
    if not allow_upscale:
        scale = min(scale, 1.0)
    elif scale > 1:
        scale = max(1.0, float(int(scale))) if scale >= 2 else scale  # whole factors keep pixel art crisp
    tw, th = max(1, int(w * scale)), max(1, int(h * scale))
    return QRect(area.x() + (area.width() - tw) // 2, area.y() + (area.height() - th) // 2, tw, th)


def draw_image(painter: QPainter, image: QImage, area: QRect, *, upscale: bool = True) -> QRect:
    """Checkerboard under the image's footprint, then the image; returns where it went."""
    target = fit_rect(image.size(), area, upscale)
    painter.save()
    painter.setBrushOrigin(target.topLeft())
    if image.hasAlphaChannel():
        painter.fillRect(target, checkerboard())
    smooth = target.width() < image.width()  # shrink smoothly, enlarge as crisp pixels
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
    painter.drawImage(target, image)
    painter.restore()
    return target


def draw_badge(painter: QPainter, centre: QPoint, radius: int, colour: QColor, text: str) -> None:
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(QPen(QColor("#ffffff"), 1.5))
    painter.setBrush(colour)
    painter.drawEllipse(centre, radius, radius)
    font = QFont(painter.font())
    font.setBold(True)
    font.setPixelSize(max(8, int(radius * 1.3)))
    painter.setFont(font)
    painter.setPen(QColor("#ffffff"))
    painter.drawText(
        QRect(centre.x() - radius, centre.y() - radius, 2 * radius, 2 * radius),
        Qt.AlignmentFlag.AlignCenter,
        text,
    )
    painter.restore()


def draw_alpha_badge(painter: QPainter, image_rect: QRect) -> QRect:
    """The "α" mark in the image's bottom-left corner: its alpha holds data and is not shown."""
    size = max(12, min(20, image_rect.height() // 5))
    badge = QRect(image_rect.left() + 2, image_rect.bottom() - size - 1, size, size)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(31, 35, 40, 190))
    painter.drawRoundedRect(badge, 3, 3)
    font = QFont(painter.font())
    font.setBold(True)
    font.setPixelSize(max(9, int(size * 0.75)))
    painter.setFont(font)
    painter.setPen(QColor("#ffffff"))
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "α")
    painter.restore()
    return badge


class GridDelegate(QStyledItemDelegate):
    """A thumbnail card: image, file name, category and confidence."""

    PADDING = 6

    def __init__(self, parent: QWidget | None = None, icon_size: int = 112):
        super().__init__(parent)
        self.icon_size = icon_size

    def set_icon_size(self, size: int) -> None:
        self.icon_size = int(size)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        line = option.fontMetrics.height()
        return QSize(self.icon_size + 2 * self.PADDING + 8, self.icon_size + 2 * line + 3 * self.PADDING + 6)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        rect = option.rect.adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            path = QPainterPath()
            path.addRoundedRect(QRectF(rect), 6, 6)
            painter.fillPath(path, COLOURS["selected"] if selected else COLOURS["hover"])
            if selected:
                painter.setPen(QPen(COLOURS["selected_border"], 1.5))
                painter.drawPath(path)

        pad = self.PADDING
        size = self.icon_size
        area = QRect(rect.x() + (rect.width() - size) // 2, rect.y() + pad, size, size)
        card = index.data(Role.Card)
        if card is None:
            painter.restore()
            return
        error = card.error
        if card.image is not None:
            target = draw_image(painter, card.image, area)
            if card.alpha_data:
                draw_alpha_badge(painter, target)
        else:
            painter.fillRect(area, COLOURS["placeholder"])
            unreadable = bool(error or card.image_error)
            painter.setPen(COLOURS["error"] if unreadable else COLOURS["muted"])
            # Not drawn yet (decoding, e.g. after a filter brought it into view): say so, not a blank.
            painter.drawText(area.adjusted(4, 4, -4, -4), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             "cannot\nread" if unreadable else LOADING)  # fmt: skip

        confidence = card.confidence
        corrected = card.corrected
        pending = card.pending
        colour = confidence_colour(confidence, card.uncertain, bool(corrected))

        bar = QRect(area.x(), area.bottom() + 3, area.width(), 3)
        if not pending and not error:
            painter.fillRect(bar, QColor("#e3e6ea"))
            painter.fillRect(QRect(bar.x(), bar.y(), int(bar.width() * confidence), bar.height()), colour)

        radius = max(7, size // 12)
        badge = QPoint(area.right() - radius + 2, area.top() + radius - 2)
        if error:
            draw_badge(painter, badge, radius, COLOURS["error"], "!")
        elif corrected:
            draw_badge(painter, badge, radius, COLOURS["corrected"], "✓")
        elif card.uncertain:
            draw_badge(painter, badge, radius, COLOURS["low"], "?")

        fm = option.fontMetrics
        line = fm.height()
        text_rect = QRect(rect.x() + pad, bar.bottom() + pad, rect.width() - 2 * pad, line)
        painter.setPen(option.palette.text().color())
        # Files of the same name in other folders carry their folder: "cartridge/normal.png".
        shown = f"{card.folder}/{card.name}" if card.folder else card.name
        name = fm.elidedText(shown, Qt.TextElideMode.ElideMiddle, text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, name)

        second = text_rect.translated(0, line)
        if error:
            label, percent, label_colour = "unreadable", "", COLOURS["error"]
        elif pending:
            label, percent, label_colour = "classifying…", "", COLOURS["muted"]
        else:
            label = card.category or ""
            percent = f"{confidence:.0%}"
            label_colour = colour
        percent_width = fm.horizontalAdvance(percent + " ") if percent else 0
        font = QFont(option.font)
        font.setBold(bool(corrected))
        label_metrics = QFontMetrics(font)  # a bold answer is wider than the plain metrics say
        label = label_metrics.elidedText(label, Qt.TextElideMode.ElideLeft, second.width() - percent_width)
        painter.setPen(label_colour if (error or pending) else option.palette.text().color())
        painter.setFont(font)
        total = label_metrics.horizontalAdvance(label) + percent_width
        left = second.x() + max(0, (second.width() - total) // 2)
        painter.drawText(QRect(left, second.y(), second.width(), line), Qt.AlignmentFlag.AlignLeft, label)
        if percent:
            painter.setFont(option.font)
            painter.setPen(colour)
            painter.drawText(
                QRect(
                    left + total - percent_width + fm.horizontalAdvance(" "), second.y(), percent_width, line
                ),
                Qt.AlignmentFlag.AlignLeft,
                percent,
            )
        painter.restore()


class NameDelegate(QStyledItemDelegate):
    """First column of the details table: a small thumbnail and the file name, with the badges' colour."""

    def __init__(self, parent: QWidget | None = None, icon_size: int = 24):
        super().__init__(parent)
        self.icon_size = icon_size

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(hint.width() + self.icon_size + 8, max(hint.height(), self.icon_size + 4))

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        # No initStyleOption: it asks the model for eight roles; the Card has what is painted.
        opt = QStyleOptionViewItem(option)
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        rect = option.rect
        size = self.icon_size
        area = QRect(rect.x() + 4, rect.y() + (rect.height() - size) // 2, size, size)
        card = index.data(Role.Card)
        if card is None:
            return
        text = card.name
        if card.image is not None:
            draw_image(painter, card.image, area)
        else:
            painter.fillRect(area, COLOURS["placeholder"])
        dot = QPoint(area.right() - 3, area.top() + 4)
        if card.error:
            draw_badge(painter, dot, 5, COLOURS["error"], "")
        elif card.corrected:
            draw_badge(painter, dot, 5, COLOURS["corrected"], "")
        elif card.uncertain:
            draw_badge(painter, dot, 5, COLOURS["low"], "")
        text_rect = QRect(area.right() + 8, rect.y(), rect.right() - area.right() - 10, rect.height())
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(
            option.palette.highlightedText().color() if selected else option.palette.text().color()
        )
        painter.drawText(
            text_rect,
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            option.fontMetrics.elidedText(text, Qt.TextElideMode.ElideMiddle, text_rect.width()),
        )
        painter.restore()
