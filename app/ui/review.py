"""Review uncertain: one texture at a time, big, with the model's guesses under the number keys.

The fastest way through a large folder: a number key files the texture and shows the next,
Enter accepts the guess, → skips, ← goes back, A steps through the channel views (Alt+0…3 pick one). Each answer is a correction (the learner re-ranks
the rest at once), so textures the learner has become sure about can be skipped on the way.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.channels import MODES, ChannelButtons, effective, next_mode
from app.ui.detail_pane import ranked_guesses
from app.ui.images import ImageLoader, to_qimage
from app.ui.preview import PredictionButton, PreviewWidget
from app.ui.results_model import ResultsModel
from app.ui.results_roles import human_size
from app.ui.session import ClassificationSession

GUESSES = 9
PREFETCH = 3


class ReviewDialog(QDialog):
    def __init__(
        self,
        session: ClassificationSession,
        model: ResultsModel,
        previews: ImageLoader,
        paths: list[str],
        parent: QWidget | None = None,
        channels: str = "auto",
    ):
        super().__init__(parent)
        self.setWindowTitle("Review Uncertain Textures")
        self.session = session
        self.model = model
        self.previews = previews
        self.paths = list(paths)
        self.position = 0
        self.answered = 0
        self.skipped = 0
        previews.loaded.connect(self._preview_loaded)

        self.preview = PreviewWidget(self, minimum=360)
        self.channels = ChannelButtons(channels, self)
        self.channels.modeChanged.connect(lambda _mode: self._show_preview())
        self.counter = QLabel(self)
        self.counter.setObjectName("muted")
        self.name = QLabel(self)
        self.name.setObjectName("detailTitle")
        self.name.setWordWrap(True)
        self.facts = QLabel(self)
        self.facts.setObjectName("muted")
        self.facts.setWordWrap(True)
        self.hint = QLabel("Number keys file the texture · Enter accepts the first guess · → skips · ← goes back"
                           " · A changes the channel view", self)  # fmt: skip
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        self.buttons = [PredictionButton(i + 1, self) for i in range(GUESSES)]
        for button in self.buttons:
            button.clicked.connect(lambda _=False, b=button: self.answer(b.category))
        self.skip_sure = QCheckBox("Skip those the learner is now sure of", self)
        self.skip_sure.setChecked(True)
        back = QPushButton("← Back", self)
        back.clicked.connect(self.back)
        skip = QPushButton("Skip →", self)
        skip.clicked.connect(self.skip)
        self.accept_button = QPushButton("Accept guess", self)
        self.accept_button.setObjectName("primary")
        self.accept_button.clicked.connect(self.accept_guess)
        close = QPushButton("Close", self)
        close.clicked.connect(self.close)
        for b in (back, skip, self.accept_button, close):
            b.setAutoDefault(False)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for b in self.buttons:
            b.setAutoDefault(False)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        side = QVBoxLayout()
        side.addWidget(self.counter)
        side.addWidget(self.name)
        side.addWidget(self.facts)
        side.addSpacing(6)
        for b in self.buttons:
            side.addWidget(b)
        side.addStretch(1)
        side.addWidget(self.skip_sure)
        side.addWidget(self.hint)
        nav = QHBoxLayout()
        nav.addWidget(back)
        nav.addWidget(skip)
        nav.addStretch(1)
        nav.addWidget(close)
        nav.addWidget(self.accept_button)
        side_widget = QWidget(self)
        side_widget.setLayout(side)
        side_widget.setFixedWidth(300)
        picture = QVBoxLayout()
        picture.addWidget(self.preview, 1)
        picture.addWidget(self.channels)
        body = QHBoxLayout()
        body.addLayout(picture, 1)
        body.addWidget(side_widget)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addLayout(nav)
        self.resize(920, 620)
        # The review keys go to the dialog whichever control has focus (a clicked checkbox would
        # otherwise take → ← Space for itself): every child hands its key presses to eventFilter.
        for child in self.findChildren(QWidget):
            child.installEventFilter(self)

        self.show_current()

    # -- stepping ---------------------------------------------------------------------------------

    def current_path(self) -> str | None:
        return self.paths[self.position] if 0 <= self.position < len(self.paths) else None

    def show_current(self, skip_settled: bool = True) -> None:
        if skip_settled:
            self._skip_settled()
        path = self.current_path()
        if path is None:
            self._show_done()
            return
        result = self.model.result(self.model.row_of(path))
        counter = f"{self.position + 1:,} of {len(self.paths):,}  ·  {self.answered:,} answered"
        answer = self.model.answer_for(path)
        if answer:
            counter += f"  ·  your answer: {answer}"
        self.counter.setText(counter)
        self.name.setText(os.path.basename(path))
        info = result.info
        facts = [os.path.dirname(path)]
        if info is not None:
            alpha = " · alpha" if info.has_alpha else ""
            facts.append(f"{info.format} {info.width}×{info.height} {info.pixel_format}{alpha}")
        facts.append(human_size(result.size))
        self.facts.setText("\n".join(facts))
        ranked = ranked_guesses([result], self.session.manager.categories)
        shown = self.model.category(result)
        for i, button in enumerate(self.buttons):
            if i < len(ranked):
                button.set_prediction(ranked[i][0], ranked[i][1], ranked[i][0] == shown)
            else:
                button.set_prediction(None, 0.0)
        self.accept_button.setEnabled(bool(ranked))
        self._show_preview()
        for ahead in self.paths[self.position + 1 : self.position + 1 + PREFETCH]:
            self.previews.request(ahead)

    def _skip_settled(self) -> None:
        """Pass over files that are gone, answered already, or (if chosen) no longer uncertain."""
        while 0 <= self.position < len(self.paths):
            path = self.paths[self.position]
            row = self.model.row_of(path)
            if row is not None:
                result = self.model.result(row)
                settled = self.skip_sure.isChecked() and not self.model.is_uncertain(result)
                if not self.model.answer_for(path) and not settled and not result.error:
                    return
            self.position += 1

    def answer(self, category: str | None) -> None:
        path = self.current_path()
        if path is None or not category:
            return
        if self.session.correct([path], category):
            self.answered += 1
        self.position += 1
        self.show_current()

    def accept_guess(self) -> None:
        path = self.current_path()
        if path is None:
            return
        row = self.model.row_of(path)
        category = self.model.category(self.model.result(row)) if row is not None else None
        self.answer(category)

    def skip(self) -> None:
        if self.current_path() is None:
            return
        self.skipped += 1
        self.position += 1
        self.show_current()

    def back(self) -> None:
        """Show the previous file, answered or not, so a wrong answer can be changed."""
        if self.position <= 0:
            return
        self.position = min(self.position, len(self.paths)) - 1
        self.show_current(skip_settled=False)

    def _show_done(self) -> None:
        self.preview.set_image(None, "All reviewed.")
        self.counter.setText("")
        self.name.setText("Done")
        self.facts.setText(f"{self.answered:,} answered, {self.skipped:,} skipped.")
        for button in self.buttons:
            button.set_prediction(None, 0.0)
        self.accept_button.setEnabled(False)

    def _show_preview(self) -> None:
        path = self.current_path()
        if path is None:
            return
        pixels = self.previews.array(path)
        if pixels is not None:
            self.preview.set_image(to_qimage(pixels, effective(self.channels.mode, self.previews.alpha_kind(path))))
        else:
            self.preview.set_image(None, self.previews.failure(path) or "Loading…")

    def _preview_loaded(self, path: str) -> None:
        if path == self.current_path():
            self._show_preview()

    # -- keys ---------------------------------------------------------------------------------------

    def review_key(self, event: QKeyEvent) -> bool:
        """Act on a review key (number, Enter, → Space, ←); False for any other key."""
        key = event.key()
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if modifiers == Qt.KeyboardModifier.AltModifier and Qt.Key.Key_0 <= key <= Qt.Key.Key_3:
            self.channels.set_mode(MODES[key - Qt.Key.Key_0], emit=True)
            return True
        if modifiers & ~Qt.KeyboardModifier.ShiftModifier:
            return False  # Ctrl/Alt combinations are shortcuts, not review keys
        if key == Qt.Key.Key_A:
            self.channels.set_mode(next_mode(self.channels.mode), emit=True)
            return True
        if Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
            button = self.buttons[key - Qt.Key.Key_1]
            if button.category:
                self.answer(button.category)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accept_guess()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Space):
            self.skip()
        elif key == Qt.Key.Key_Left:
            self.back()
        else:
            return False
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self.review_key(event):
            super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and self.isVisible() and self.review_key(event):
            return True
        return super().eventFilter(watched, event)

    def closeEvent(self, event) -> None:
        try:
            self.previews.loaded.disconnect(self._preview_loaded)
        except (RuntimeError, TypeError):
            pass  # already disconnected
        super().closeEvent(event)
