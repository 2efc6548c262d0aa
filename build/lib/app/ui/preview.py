"""Widgets that show one texture large: on a checkerboard, scaled to fit, crisp when enlarged."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QPushButton, QSizePolicy, QStyle, QStyleOptionButton, QWidget

from app.ui.delegates import COLOURS, confidence_colour, draw_image


class PreviewWidget(QWidget):
    """Paints an image (or a message while it loads or when it cannot be shown)."""

    def __init__(self, parent: QWidget | None = None, minimum: int = 160):
        super().__init__(parent)
        self._image: QImage | None = None
        self._message = ""
        self.setMinimumSize(minimum, minimum)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(320, 320)

    def set_image(self, image: QImage | None, message: str = "") -> None:
        self._image = image
        self._message = message
        self.update()

    @property
    def image(self) -> QImage | None:
        return self._image

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        area = self.rect().adjusted(4, 4, -4, -4)
        painter.fillRect(self.rect(), QColor("#f6f7f9"))
        if self._image is not None and not self._image.isNull():
            target = draw_image(painter, self._image, area)
            painter.setPen(QColor("#c9cdd3"))
            painter.drawRect(target.adjusted(0, 0, -1, -1))
        elif self._message:
            painter.setPen(COLOURS["muted"])
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message)
        painter.end()


class PredictionButton(QPushButton):
    """A guess to click: shortcut number, category, confidence as text and as a bar."""

    def __init__(self, number: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.number = number
        self.category: str | None = None
        self.confidence = 0.0
        self.current = False  # the item's shown category
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setMinimumHeight(self.fontMetrics().height() + 14)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_prediction(self, category: str | None, confidence: float, current: bool = False) -> None:
        self.category = category
        self.confidence = float(confidence)
        self.current = current
        self.setVisible(category is not None)
        label = f"{category} ({confidence:.0%})" if category else ""
        self.setAccessibleName(label)
        self.setToolTip(f"{category}: press {self.number}" if category else "")
        self.update()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(max(hint.width(), 180), hint.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        option = QStyleOptionButton()
        self.initStyleOption(option)
        option.text = ""
        self.style().drawControl(QStyle.ControlElement.CE_PushButton, option, painter, self)
        if not self.category:
            painter.end()
            return
        rect = self.rect().adjusted(10, 0, -10, -3)
        fm = self.fontMetrics()
        colour = confidence_colour(self.confidence, False, self.current)
        bar = QRect(rect.x(), self.rect().bottom() - 5, int(rect.width() * self.confidence), 3)
        painter.fillRect(bar, colour)
        number = f"{self.number}"
        painter.setPen(COLOURS["muted"])
        painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, number)
        left = rect.x() + fm.horizontalAdvance("0") + 10
        percent = f"{self.confidence:.0%}"
        right_width = fm.horizontalAdvance(percent)
        font = painter.font()
        font.setBold(self.current)
        painter.setFont(font)
        painter.setPen(self.palette().buttonText().color())
        text_rect = QRect(left, rect.y(), rect.right() - left - right_width - 8, rect.height())
        painter.drawText(
            text_rect,
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            fm.elidedText(self.category, Qt.TextElideMode.ElideRight, text_rect.width()),
        )
        painter.setPen(colour)
        painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, percent)
        painter.end()
