"""The status bar: what is happening, progress with files/s and time left, Cancel, problems, model."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QSizePolicy, QStatusBar, QWidget

from app.pipeline import Progress
from app.ui.icons import icon


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s left"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}:{seconds:02d} left"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min left"


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with "…" to the room it has (full text in the tooltip).

    A plain QLabel asks for its whole text's width as its minimum, so one long message (a deep
    folder path) would make the whole window wider than the screen.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text if self.fontMetrics().horizontalAdvance(text) > self.width() else "")

    def minimumSizeHint(self) -> QSize:
        return QSize(40, super().minimumSizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideMiddle, rect.width())
        painter.setPen(self.palette().windowText().color())
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        painter.end()


class StatusPanel(QStatusBar):
    cancelRequested = Signal()
    problemsRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizeGripEnabled(True)
        self.message = ElidedLabel("Open a folder of textures to begin.", self)
        self.progress = QProgressBar(self)
        self.progress.setFixedWidth(200)
        self.progress.setTextVisible(True)
        self.progress.setFormat("%v / %m")
        self.rate = QLabel(self)
        self.rate.setObjectName("muted")
        self.cancel = QPushButton(icon("cancel"), "Cancel", self)
        self.cancel.setToolTip("Stop classifying (what is done so far stays)")
        self.cancel.clicked.connect(self.cancelRequested)
        self.problems = QPushButton(self)
        self.problems.setFlat(True)
        self.problems.setToolTip("Show the problems panel")
        self.problems.clicked.connect(self.problemsRequested)
        self.model_label = QLabel(self)
        self.model_label.setObjectName("muted")
        self.counts = QLabel(self)
        self.counts.setObjectName("statusCounts")
        self.counts.setToolTip("Uncertain textures: Review Uncertain (Ctrl+R) steps through them")
        self.addWidget(self.message, 1)
        self.addPermanentWidget(self.counts)
        self.addPermanentWidget(self.rate)
        self.addPermanentWidget(self.progress)
        self.addPermanentWidget(self.cancel)
        self.addPermanentWidget(self.problems)
        self.addPermanentWidget(self.model_label)
        self._clear_timer = QTimer(self)
        self._clear_timer.setSingleShot(True)
        self._clear_timer.timeout.connect(lambda: self.message.setText(self._sticky))
        self._sticky = self.message.text()
        self.set_running(False)
        self.set_problems(0)
        self.set_counts(0, 0)

    def say(self, text: str, seconds: float | None = None) -> None:
        """Show a message; with `seconds` it goes back to the last lasting one afterwards."""
        self.message.setText(text)
        if seconds is None:
            self._sticky = text
            self._clear_timer.stop()
        else:
            self._clear_timer.start(int(seconds * 1000))

    def set_running(self, running: bool, total: int | None = None) -> None:
        self.progress.setVisible(running)
        self.cancel.setVisible(running)
        self.cancel.setEnabled(running)
        self.rate.setVisible(running)
        if running:
            self.rate.setText("")
            if total is None:
                self.progress.setRange(0, 0)
            else:
                self.progress.setRange(0, max(total, 1))
                self.progress.setValue(0)

    def show_progress(self, p: Progress) -> None:
        self.progress.setRange(0, max(p.total, 1))
        self.progress.setValue(p.done)
        parts = [f"{p.files_per_s:,.0f} files/s"]
        eta = format_eta(p.eta_s)
        if eta and p.done < p.total:
            parts.append(eta)
        self.rate.setText(" · ".join(parts))

    def set_problems(self, n: int) -> None:
        self.problems.setVisible(n > 0)
        self.problems.setText(f"⚠ {n:,} problem{'s' if n != 1 else ''}")
        self.problems.setStyleSheet("color: #b3261e;" if n else "")

    def set_counts(self, uncertain: int, corrected: int) -> None:
        """The folder's uncertain and corrected totals: the sidebar's numbers, updated with it."""
        parts = []
        if uncertain:
            parts.append(f"{uncertain:,} uncertain")
        if corrected:
            parts.append(f"{corrected:,} corrected")
        self.counts.setText(" · ".join(parts))
        self.counts.setVisible(bool(parts))

    def set_model(self, text: str, tooltip: str = "", rules_notice: str | None = None) -> None:
        """The model in use; `rules_notice` (the pixel rules stand in for it) is shown in red and said."""
        if rules_notice is not None:
            text, tooltip = "⚠ Model: pixel rules only", rules_notice
            self.say(f"{rules_notice[0].upper()}{rules_notice[1:]}.")
        self.model_label.setText(text)
        self.model_label.setToolTip(tooltip)
        self.model_label.setStyleSheet("color: #b3261e; font-weight: bold;" if rules_notice else "")
