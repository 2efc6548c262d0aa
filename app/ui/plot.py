"""A small line chart of training loss and accuracy per epoch, drawn with QPainter (no QtCharts needed)."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

SERIES = (
    # (panel, metric key, label, colour, dashed)
    ("loss", "loss", "training loss", "#2f6fde", False),
    ("loss", "val_loss", "validation loss", "#2f6fde", True),
    # Right on the training examples themselves says little; only held-out examples measure the model.
    ("accuracy", "accuracy", "right on the training examples", "#2e9d5b", False),
    ("accuracy", "val_accuracy", "accuracy on held-out examples", "#2e9d5b", True),
)


def nice_ceiling(value: float) -> float:
    """1, 2, 2.5 or 5 times a power of ten, at least `value` (a tidy axis top)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def draw_series(painter: QPainter, points: list[QPointF], colour: str, dashed: bool = False) -> QPen:
    """A line through `points` with a dot on each; returns its pen (for the legend)."""
    pen = QPen(QColor(colour), 2)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    if points:
        path = QPainterPath(points[0])
        for p in points[1:]:
            path.lineTo(p)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        painter.setBrush(QColor(colour))
        for p in points:
            painter.drawEllipse(p, 2.5, 2.5)
    return pen


class TrainingPlot(QWidget):
    """Loss (left) and accuracy (right) against the epoch."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.history: list[dict] = []
        self.epochs = 10
        self.setMinimumHeight(180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(640, 240)

    def reset(self, epochs: int) -> None:
        self.history = []
        self.epochs = max(1, int(epochs))
        self.update()

    def add(self, metrics: dict) -> None:
        self.history.append(dict(metrics))
        self.epochs = max(self.epochs, len(self.history))
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        gap = 16
        half = (self.width() - 3 * gap) / 2
        self._panel(painter, QRectF(gap, 8, half, self.height() - 16), "loss", "Loss")
        self._panel(painter, QRectF(2 * gap + half, 8, half, self.height() - 16), "accuracy", "Accuracy")
        painter.end()

    def _panel(self, painter: QPainter, rect: QRectF, panel: str, title: str) -> None:
        fm = painter.fontMetrics()
        line = fm.height()
        series = [s for s in SERIES if s[0] == panel]
        values = [h[s[1]] for h in self.history for s in series if s[1] in h]
        top = nice_ceiling(max(values) * 1.05) if values and panel == "loss" else 1.0
        plot = QRectF(
            rect.x() + fm.horizontalAdvance("0.000") + 10, rect.y() + line + 6,
            rect.width() - fm.horizontalAdvance("0.000") - 14, rect.height() - 3 * line - 14,
        )  # fmt: skip
        painter.setPen(QColor("#1f2328"))
        painter.drawText(QRectF(rect.x(), rect.y(), rect.width(), line), Qt.AlignmentFlag.AlignLeft, title)
        grid = QPen(QColor("#e6e9ed"), 1)
        for i in range(5):
            y = plot.bottom() - plot.height() * i / 4
            painter.setPen(grid)
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            value = top * i / 4
            label = f"{value:.0%}" if panel == "accuracy" else f"{value:.3g}"
            painter.setPen(QColor("#6e7781"))
            painter.drawText(
                QRectF(rect.x(), y - line / 2, plot.left() - rect.x() - 6, line),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
        painter.setPen(QPen(QColor("#aab2bd"), 1))
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        epochs = max(self.epochs, 1)
        step = max(1, math.ceil(epochs / 8))
        painter.setPen(QColor("#6e7781"))
        for e in range(1, epochs + 1):
            if e != 1 and e % step and e != epochs:
                continue
            x = self._x(plot, e, epochs)
            painter.drawText(
                QRectF(x - 20, plot.bottom() + 2, 40, line), Qt.AlignmentFlag.AlignHCenter, str(e)
            )
        painter.drawText(
            QRectF(plot.left(), plot.bottom() + line + 2, plot.width(), line),
            Qt.AlignmentFlag.AlignHCenter,
            "epoch",
        )
        legend_x = plot.left()
        legend_y = rect.bottom() - line + 2
        for _panel, key, label, colour, dashed in series:
            points = [
                QPointF(self._x(plot, i + 1, epochs), plot.bottom() - plot.height() * min(h[key] / top, 1.0))
                for i, h in enumerate(self.history)
                if key in h and h[key] is not None
            ]
            pen = draw_series(painter, points, colour, dashed)
            if points or not dashed:
                painter.setPen(pen)
                painter.drawLine(
                    QPointF(legend_x, legend_y + line / 2), QPointF(legend_x + 18, legend_y + line / 2)
                )
                painter.setPen(QColor("#3b4450"))
                painter.drawText(QPointF(legend_x + 22, legend_y + fm.ascent()), label)
                legend_x += 22 + fm.horizontalAdvance(label) + 14

    @staticmethod
    def _x(plot: QRectF, epoch: int, epochs: int) -> float:
        if epochs <= 1:
            return plot.center().x()
        return plot.left() + plot.width() * (epoch - 1) / (epochs - 1)
