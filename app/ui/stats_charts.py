"""The statistics page's two pictures, painted with QPainter: a confusion matrix and accuracy over time."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.ui.plot import draw_series

MAX_LABELS = 12  # the matrix shows the most answered categories; the rest fold into "other"
SHOWN, MODEL = "#2f6fde", "#9aa4b1"


def fold(labels: list[str], matrix: list[list[int]], keep: int = MAX_LABELS) -> tuple[list[str], list[list[int]]]:
    """The `keep - 1` categories with the most answers or guesses, the rest summed into "other"."""
    if len(labels) <= keep:
        return labels, matrix
    weight = [sum(matrix[i]) + sum(row[i] for row in matrix) for i in range(len(labels))]
    top = sorted(sorted(range(len(labels)), key=lambda i: -weight[i])[: keep - 1])
    where = {old: new for new, old in enumerate(top)}
    other = len(top)
    folded = [[0] * (other + 1) for _ in range(other + 1)]
    for i, row in enumerate(matrix):
        for j, n in enumerate(row):
            folded[where.get(i, other)][where.get(j, other)] += n
    return [labels[i] for i in top] + ["other"], folded


class ConfusionMatrixView(QWidget):
    """Rows are your answers, columns the first guesses; each cell's shade is its share of the row."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.labels: list[str] = []
        self.matrix: list[list[int]] = []
        self.setMinimumSize(300, 260)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(420, 360)

    def set_matrix(self, labels: list[str], matrix: list[list[int]]) -> None:
        self.labels, self.matrix = fold(list(labels), [list(r) for r in matrix])
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        fm = painter.fontMetrics()
        n = len(self.labels)
        if not n:
            painter.setPen(QColor("#6e7781"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No answers yet")
            painter.end()
            return
        names = [label if len(label) <= 24 else label[:23] + "…" for label in self.labels]
        widest = max(fm.horizontalAdvance(f"{n} {t}") for n, t in enumerate(names, start=1))
        left = min(self.width() * 0.4, widest) + 12
        top = fm.height() * 2 + 8
        cell = max(8.0, min((self.width() - left - 8) / n, (self.height() - top - fm.height() - 8) / n))
        painter.setPen(QColor("#1f2328"))
        painter.drawText(QRectF(left, 0, cell * n, fm.height()), Qt.AlignmentFlag.AlignHCenter, "first guess →")
        for j in range(n):  # column numbers; the row labels name them
            painter.drawText(QRectF(left + j * cell, fm.height() + 4, cell, fm.height()),
                             Qt.AlignmentFlag.AlignHCenter, str(j + 1))  # fmt: skip
        for i, row in enumerate(self.matrix):
            y = top + i * cell
            painter.setPen(QColor("#3b4450"))
            label = f"{i + 1} {fm.elidedText(names[i], Qt.TextElideMode.ElideRight, int(left - 12 - fm.horizontalAdvance('00 ')))}"
            painter.drawText(QRectF(0, y, left - 6, cell), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
            total = max(1, sum(row))
            for j, count in enumerate(row):
                share = count / total
                base = QColor("#2e9d5b") if i == j else QColor("#d1495b")
                colour = QColor(base)
                colour.setAlphaF(0.08 + 0.92 * share if count else 0.0)
                rect = QRectF(left + j * cell, y, cell - 1, cell - 1)
                painter.fillRect(rect, QColor("#f3f5f7"))
                painter.fillRect(rect, colour)
                if count and cell >= fm.horizontalAdvance(str(count)) + 4:
                    painter.setPen(QColor("#ffffff") if share > 0.55 else QColor("#1f2328"))
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(count))
        painter.setPen(QColor("#6e7781"))
        painter.drawText(QRectF(0, top + n * cell + 2, self.width(), fm.height()), Qt.AlignmentFlag.AlignLeft,
                         "rows: your answers · green: right · red: confused")  # fmt: skip
        painter.end()


class AccuracyPlot(QWidget):
    """First-guess accuracy per run of answers (with the learner) and, dashed, the model alone."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.points: list[dict] = []
        self.setMinimumHeight(170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(420, 200)

    def set_points(self, points: list[dict]) -> None:
        self.points = list(points)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        fm = painter.fontMetrics()
        line = fm.height()
        plot = QRectF(fm.horizontalAdvance("100%") + 12, line + 6, self.width() - fm.horizontalAdvance("100%") - 24,
                      self.height() - 3 * line - 16)  # fmt: skip
        painter.setPen(QColor("#1f2328"))
        painter.drawText(QRectF(0, 0, self.width(), line), Qt.AlignmentFlag.AlignLeft, "First guesses right, over time")
        for k in range(5):
            y = plot.bottom() - plot.height() * k / 4
            painter.setPen(QPen(QColor("#e6e9ed"), 1))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(QColor("#6e7781"))
            painter.drawText(QRectF(0, y - line / 2, plot.left() - 6, line),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{k * 25}%")  # fmt: skip
        n = len(self.points)
        taken = plot.left() - 40.0  # right end of the last label drawn: labels never overlap
        for i, point in enumerate(self.points):
            text = str(point["label"])
            width = fm.horizontalAdvance(text) + 12
            x = min(max(self._x(plot, i, n), plot.left() + width / 2), plot.right() - width / 2)
            if x - width / 2 >= taken:
                painter.drawText(QRectF(x - width / 2, plot.bottom() + 2, width, line), Qt.AlignmentFlag.AlignHCenter, text)
                taken = x + width / 2
        legend_x = plot.left()
        for key, label, colour, dashed in (("accuracy", "shown (with the learner)", SHOWN, False),
                                           ("model_accuracy", "the model alone", MODEL, True)):  # fmt: skip
            points = [QPointF(self._x(plot, i, n), plot.bottom() - plot.height() * p[key])
                      for i, p in enumerate(self.points) if p.get(key) is not None]  # fmt: skip
            pen = draw_series(painter, points, colour, dashed)
            legend_y = self.height() - line
            painter.setPen(pen)
            painter.drawLine(QPointF(legend_x, legend_y + line / 2), QPointF(legend_x + 18, legend_y + line / 2))
            painter.setPen(QColor("#3b4450"))
            painter.drawText(QPointF(legend_x + 22, legend_y + fm.ascent()), label)
            legend_x += 36 + fm.horizontalAdvance(label)
        painter.end()

    @staticmethod
    def _x(plot: QRectF, i: int, n: int) -> float:
        return plot.center().x() if n <= 1 else plot.left() + plot.width() * i / (n - 1)
