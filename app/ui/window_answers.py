"""The main window's answers: correcting the selection, accepting guesses, undo and redo, Review, the context menu.

A mixin of `MainWindow` (which owns `session`, `browser`, `detail`, `status` …); the answers
themselves are recorded by `ClassificationSession`.
"""

from __future__ import annotations

import os

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu

from app.ui.desktop import open_folder
from app.ui.icons import icon

RERANKED = {
    "answer": "Learned from your answer: {n:,} other textures re-ranked.",
    "undo": "Correction undone: {n:,} textures re-ranked without it.",
    "redo": "Answer given again: {n:,} other textures re-ranked.",
}


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else many or word + 's'}"


class WindowAnswers:
    """Slots that turn what the user picks into answers for the selected textures."""

    def selected_paths(self) -> list[str]:
        return self.browser.selected_paths()

    def correct_selection(self, category: str) -> int:
        paths = self.selected_paths()
        n = self.session.correct(paths, category)
        if n:
            self.status.say(f"Filed {plural(n, 'texture')} as {category}.", 6)
            self.browser.refresh_detail()
        return n

    def accept_selection(self) -> int:
        n = self.session.accept(self.selected_paths())
        if n:
            self.status.say(f"Confirmed {plural(n, 'guess', 'guesses')}.", 6)
            self.browser.refresh_detail()
        return n

    def pick_ranked(self, number: int) -> None:
        ranked = self.detail.ranked()
        if self.tabs.currentWidget() is self.pages and 0 < number <= len(ranked):
            self.correct_selection(ranked[number - 1])

    def undo_correction(self) -> None:
        if self.session.undo_correction():
            self.status.say("Correction undone.", 6)
            self.browser.refresh_detail()
        else:
            self.status.say("No correction to undo.", 4)

    def redo_correction(self) -> None:
        if self.session.redo_correction():
            self.status.say("Answer given again.", 6)
            self.browser.refresh_detail()
        else:
            self.status.say("Nothing to redo.", 4)

    def _reranked(self, changed: int, reason: str, uncertain: tuple[int, int]) -> None:
        if changed:
            text = RERANKED.get(reason, RERANKED["answer"]).format(n=changed)
            before, after = uncertain
            if after != before:
                # Re-ranking can make the model less sure of look-alikes too: say so, not only the count.
                text += f" Uncertain: {before:,} → {after:,}."
            self.status.say(text, 6)
        self._update_actions()

    def review_uncertain(self) -> None:
        from app.ui.review import ReviewDialog

        paths = [
            self.model.result(self.proxy.mapToSource(self.proxy.index(r, 0)).row()).path
            for r in range(self.proxy.rowCount())
        ]
        paths = [p for p in paths if self.model.is_uncertain(self.model.result(self.model.row_of(p)))]
        if not paths:
            self.status.say(f"No uncertain textures (below {self.model.uncertain_below:.0%}) here.", 6)
            return
        dialog = ReviewDialog(self.session, self.model, self.previews, paths, self, channels=self.model.channels)
        self.review_dialog = dialog
        dialog.open()

    def _context_menu(self, global_pos) -> None:
        paths = self.selected_paths()
        if not paths:
            return
        menu = QMenu(self)
        menu.addAction(icon("accept"), "Accept Guess", self.accept_selection)
        file_as = menu.addMenu("File As")
        for i, category in enumerate(self.detail.ranked()):
            prefix = f"&{i + 1}  " if i < 9 else "    "
            file_as.addAction(prefix + category, lambda c=category: self.correct_selection(c))
        menu.addSeparator()
        menu.addAction("Open Containing Folder", lambda: open_folder(os.path.dirname(paths[0]), self))
        menu.addAction("Copy Path", lambda: QGuiApplication.clipboard().setText("\n".join(paths)))
        menu.exec(global_pos)
