"""The Models dialog's Statistics page: how well each model does on the textures you answered.

The figures are `app.analytics.model_stats`, computed off the UI thread; this page only shows
them: a summary, the confusion matrix, accuracy over time, per-category precision/recall and the
most confused pairs.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.analytics import ModelStats, model_stats
from app.ui.stats_charts import AccuracyPlot, ConfusionMatrixView
from app.ui.worker import Op


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def summary_text(stats: ModelStats) -> str:
    learner = stats.learner
    text = (f"<b>{stats.name} {stats.version}</b>: {stats.answered} textures you answered; "
            f"first guesses right <b>{_pct(stats.accuracy)}</b> ({stats.correct} of {stats.answered}).")  # fmt: skip
    if learner["compared"]:
        text += (f"<br>The model alone: {_pct(learner['model_accuracy'])} on {learner['compared']}; the learner "
                 f"added {learner['gain'] * 100:+.1f} points (fixed {learner['fixed']}, broke {learner['broke']}).")  # fmt: skip
    return text


class StatsPage(QWidget):
    """Picks a model and shows its statistics."""

    loaded = Signal()
    COLUMNS = ("Category", "Precision", "Recall", "Answers")

    def __init__(self, parent: QWidget | None = None, compute=model_stats):
        super().__init__(parent)
        self._compute = compute
        self.stats: list[ModelStats] = []
        self.model_combo = QComboBox(self)
        self.model_combo.currentIndexChanged.connect(self._show_current)
        refresh = QPushButton("Refresh", self)
        refresh.clicked.connect(self.load)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.matrix = ConfusionMatrixView(self)
        self.plot = AccuracyPlot(self)
        self.table = QTableWidget(0, len(self.COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.confusions = QLabel(self)
        self.confusions.setWordWrap(True)
        self.confusions.setObjectName("muted")
        top = QHBoxLayout()
        top.addWidget(QLabel("Model:", self))
        top.addWidget(self.model_combo, 1)
        top.addWidget(refresh)
        grid = QGridLayout()
        grid.addWidget(self.matrix, 0, 0, 2, 1)
        grid.addWidget(self.plot, 0, 1)
        grid.addWidget(self.table, 1, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addLayout(grid, 1)
        layout.addWidget(self.confusions)

    def load(self) -> None:
        self.summary.setText("Counting your answers…")
        Op(self, self._compute).success(self.show_stats).failure(
            lambda exc: self.summary.setText(f"The statistics could not be computed: {exc}")
        ).titled("Model statistics").run()

    def show_stats(self, stats: list[ModelStats]) -> None:
        self.stats = list(stats)
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for s in self.stats:
            self.model_combo.addItem(f"{s.name} {s.version}  ({s.answered} answers)".strip(), s.model_id)
        self.model_combo.blockSignals(False)
        self.model_combo.setEnabled(bool(self.stats))
        self._show_current()
        self.loaded.emit()

    def current(self) -> ModelStats | None:
        i = self.model_combo.currentIndex()
        return self.stats[i] if 0 <= i < len(self.stats) else None

    def _show_current(self) -> None:
        stats = self.current()
        if stats is None:
            self.summary.setText("No answers recorded yet. Correct or confirm guesses in the main window "
                                 "and this page shows how well each model does on your textures.")  # fmt: skip
            self.matrix.set_matrix([], [])
            self.plot.set_points([])
            self.table.setRowCount(0)
            self.confusions.setText("")
            return
        self.summary.setText(summary_text(stats))
        self.matrix.set_matrix(stats.labels, stats.matrix)
        self.plot.set_points(stats.timeline)
        rows = sorted(((c, f) for c, f in stats.categories.items() if f["answers"] or f["guessed"]),
                      key=lambda cf: -cf[1]["answers"])  # fmt: skip
        self.table.setRowCount(len(rows))
        for r, (category, f) in enumerate(rows):
            for c, value in enumerate((category, _pct(f["precision"]), _pct(f["recall"]), str(f["answers"]))):
                self.table.setItem(r, c, QTableWidgetItem(value))
        pairs = [f"{c['guess']} → {c['truth']} ({c['count']})" for c in stats.confusions[:6]]
        self.confusions.setText("Most confused (first guess → your answer): " + ", ".join(pairs) if pairs else "")
