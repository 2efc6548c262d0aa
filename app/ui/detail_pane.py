"""The pane beside the results: large preview, file facts, the top guesses as buttons, every category.

It shows the selection and says what the user picked (`categoryChosen`); the main window turns
that into a correction of every selected file.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ai.taxonomy import category_descriptions
from app.results import FileResult
from app.ui.channels import DATA_BADGE_TIP, ChannelButtons, effective
from app.ui.images import ImageLoader, to_qimage
from app.ui.preview import PredictionButton, PreviewWidget
from app.ui.results_model import ResultsModel
from app.ui.results_roles import PENDING, human_size

BUTTONS = 5
KEYS = 9
ALPHA_FACTS = {  # what ai.textures.alpha found, for the "Alpha:" line
    "opaque": "no (opaque)",
    "mask": "cut-out mask",
    "transparency": "transparency",
    "data": "holds data (gloss, height or a mask)",
}


def ranked_guesses(results: Sequence[FileResult], categories: Sequence[str]) -> list[tuple[str, float]]:
    """Every category with the (mean) probability the model gives it for these files, best first."""
    categories = list(categories)
    vectors = [
        r.probabilities
        for r in results
        if r.probabilities is not None and len(r.probabilities) == len(categories)
    ]
    if vectors:
        mean = np.mean(np.stack(vectors), axis=0)
        order = np.argsort(-mean, kind="stable")
        return [(categories[i], float(mean[i])) for i in order]
    # Results without a probability vector (another model's, or the rules'): count the top guesses.
    scores: Counter = Counter()
    for r in results:
        for p in r.predictions:
            scores[p.category] += p.confidence / max(1, len(results))
    known = [(c, s) for c, s in scores.most_common()]
    seen = {c for c, _ in known}
    return known + [(c, 0.0) for c in categories if c not in seen]


class DetailPane(QWidget):
    """What is selected, and the buttons to say what it is."""

    categoryChosen = Signal(str)
    acceptRequested = Signal()
    undoRequested = Signal()

    def __init__(self, previews: ImageLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("detailPane")
        self.previews = previews
        previews.loaded.connect(self._preview_loaded)
        self._results: list[FileResult] = []
        self._ranked: list[tuple[str, float]] = []
        self._model: ResultsModel | None = None
        self._categories: list[str] = []
        self._descriptions = category_descriptions()

        self.preview = PreviewWidget(self, minimum=180)
        self.channels = ChannelButtons("auto", self)
        self.channels.modeChanged.connect(lambda _mode: self._show_preview())
        self.alpha_note = QLabel(self)
        self.alpha_note.setObjectName("muted")
        self.alpha_note.setWordWrap(True)
        self.title = QLabel(self)
        self.title.setObjectName("detailTitle")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.location = QLabel(self)
        self.location.setObjectName("muted")
        self.location.setWordWrap(True)
        self.location.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.facts = QFormLayout()
        self.facts.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.facts.setHorizontalSpacing(10)
        self.facts.setVerticalSpacing(2)
        self._fact_labels: dict[str, QLabel] = {}
        for name in (
            "Format",
            "Dimensions",
            "Pixel format",
            "Mipmaps",
            "Alpha",
            "File size",
            "Classified by",
        ):
            value = QLabel(self)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._fact_labels[name] = value
            self.facts.addRow(name + ":", value)

        self.answer = QLabel(self)
        self.answer.setObjectName("answerLabel")
        self.answer.setWordWrap(True)

        guesses_title = QLabel("Top guesses", self)
        guesses_title.setObjectName("sectionTitle")
        self.buttons = [PredictionButton(i + 1, self) for i in range(BUTTONS)]
        for button in self.buttons:
            button.clicked.connect(lambda _=False, b=button: self._choose(b.category))

        self.accept_button = QPushButton("Accept guess", self)
        self.accept_button.setToolTip(
            "Confirm the shown category (Enter); confirmations teach the learner too"
        )
        self.accept_button.clicked.connect(self.acceptRequested)
        self.undo_button = QPushButton("Undo", self)
        self.undo_button.setToolTip("Take back the last correction (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undoRequested)
        actions = QHBoxLayout()
        actions.addWidget(self.accept_button)
        actions.addWidget(self.undo_button)

        all_title = QLabel("All categories", self)
        all_title.setObjectName("sectionTitle")
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Find a category…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter_list)
        self.search.returnPressed.connect(self._choose_first_visible)
        self.category_list = QTreeWidget(self)
        self.category_list.setColumnCount(3)
        self.category_list.setHeaderLabels(["Key", "Category", "Score"])
        self.category_list.setRootIsDecorated(False)
        self.category_list.setUniformRowHeights(True)
        self.category_list.setAlternatingRowColors(True)
        header = self.category_list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.category_list.itemActivated.connect(
            lambda item, _col: self._choose(item.data(1, Qt.ItemDataRole.UserRole))
        )
        self.category_list.itemDoubleClicked.connect(
            lambda item, _col: self._choose(item.data(1, Qt.ItemDataRole.UserRole))
        )

        self.empty = QLabel("Select a texture to see it large, with the model's guesses.", self)
        self.empty.setObjectName("emptyHint")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        top = QWidget(self)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.preview, 1)
        top_layout.addWidget(self.channels)

        info = QWidget(self)
        info_layout = QVBoxLayout(info)
        info_layout.setContentsMargins(0, 4, 0, 0)
        # Name and folder wrap to any number of lines: in the scrolled part they can never be cut.
        info_layout.addWidget(self.title)
        info_layout.addWidget(self.location)
        info_layout.addWidget(self.alpha_note)  # here, so that it never resizes the preview
        info_layout.addLayout(self.facts)
        info_layout.addWidget(self.answer)
        info_layout.addWidget(guesses_title)
        for button in self.buttons:
            info_layout.addWidget(button)
        info_layout.addLayout(actions)
        info_layout.addWidget(all_title)
        info_layout.addWidget(self.search)
        info_layout.addWidget(self.category_list, 1)
        self.category_list.setMinimumHeight(140)

        scroll = QScrollArea(self)
        scroll.setWidget(info)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(top)
        self.splitter.addWidget(scroll)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.empty)
        layout.addWidget(self.splitter, 1)
        self.setMinimumWidth(280)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.show_results([], None, [])

    # -- showing ----------------------------------------------------------------------------------

    def ranked(self) -> list[str]:
        """Categories in the order the number keys pick them."""
        return [c for c, _ in self._ranked]

    @property
    def results(self) -> list[FileResult]:
        return list(self._results)

    def show_results(
        self, results: Sequence[FileResult], model: ResultsModel | None, categories: Sequence[str]
    ) -> None:
        self._results = [r for r in results if r is not None]
        self._model = model
        self._categories = list(categories)
        has = bool(self._results)
        self.empty.setVisible(not has)
        self.splitter.setVisible(has)
        if not has:
            self._ranked = []
            return
        first = self._results[0]
        usable = [r for r in self._results if not r.error and r.source != PENDING]
        self._ranked = ranked_guesses(usable, self._categories) if usable else []
        current = None
        if model is not None and len(self._results) == 1:
            current = model.category(first)
        if len(self._results) == 1:
            self.title.setText(os.path.basename(first.path))
            self.location.setText(os.path.dirname(first.path))
            self._show_facts(first)
        else:
            self.title.setText(f"{len(self._results)} textures selected")
            self.location.setText("A choice below files all of them.")
            self._show_facts(None)
        self._show_answer(first if len(self._results) == 1 else None)
        self._show_preview()
        for i, button in enumerate(self.buttons):
            if i < len(self._ranked):
                category, score = self._ranked[i]
                button.set_prediction(category, score, current == category)
            else:
                button.set_prediction(None, 0.0)
            button.setEnabled(bool(usable))
        self.accept_button.setEnabled(bool(usable))
        self._fill_list(bool(usable))

    def refresh(self) -> None:
        """Show the same files again with their current results (after a correction or re-rank)."""
        if self._model is None or not self._results:
            return
        fresh = []
        for result in self._results:
            row = self._model.row_of(result.path)
            fresh.append(self._model.result(row) if row is not None else result)
        self.show_results(fresh, self._model, self._categories)

    def _show_facts(self, result: FileResult | None) -> None:
        info = result.info if result is not None else None
        values = {
            "Format": info.format if info else "",
            "Dimensions": f"{info.width} × {info.height}" if info else "",
            "Pixel format": info.pixel_format if info else "",
            "Mipmaps": str(info.mip_count) if info else "",
            "Alpha": ("yes" if info.has_alpha else "no") if info else "",
            "File size": human_size(result.size) if result is not None and result.size else "",
            "Classified by": _source_text(result) if result is not None else "",
        }
        if result is None:
            total = sum(r.size for r in self._results)
            values["File size"] = f"{human_size(total)} in all"
        for name, text in values.items():
            label = self._fact_labels[name]
            label.setText(text)
            self.facts.setRowVisible(label, bool(text))

    def _show_answer(self, result: FileResult | None) -> None:
        if result is not None and result.error:
            self.answer.setText(f"<b>Cannot be read:</b> {result.error}")
            self.answer.setVisible(True)
            return
        corrected = self._model.answer_for(result.path) if (result is not None and self._model) else None
        if corrected:
            self.answer.setText(f"Your answer: <b>{corrected}</b>")
        elif result is not None and result.source == PENDING:
            self.answer.setText("Not classified yet…")
        else:
            self.answer.setText("")
        self.answer.setVisible(bool(self.answer.text()))

    def set_channel_mode(self, mode: str) -> None:
        """Follow the main window's channel mode (the pane's own buttons can still differ afterwards)."""
        self.channels.set_mode(mode)
        if self._results:
            self._show_preview()

    def _show_preview(self) -> None:
        self.alpha_note.setVisible(False)
        if not self._results:
            return
        first = self._results[0]
        if first.error:
            self.preview.set_image(None, "This file cannot be read.")
            return
        pixels = self.previews.array(first.path)
        if pixels is not None:
            kind = self.previews.alpha_kind(first.path)
            self.preview.set_image(to_qimage(pixels, effective(self.channels.mode, kind)))
            if len(self._results) == 1 and first.info is not None and first.info.has_alpha and kind in ALPHA_FACTS:
                self._fact_labels["Alpha"].setText(ALPHA_FACTS[kind])
            if kind == "data" and self.channels.mode in ("auto", "rgb"):
                self.alpha_note.setText("α  " + DATA_BADGE_TIP + ". Alt+1 shows it with alpha, Alt+3 alone.")
                self.alpha_note.setVisible(True)
        else:
            failure = self.previews.failure(first.path)
            self.preview.set_image(None, failure or "Loading preview…")

    def _preview_loaded(self, path: str) -> None:
        if self._results and self._results[0].path == path:
            self._show_preview()

    def _fill_list(self, enabled: bool) -> None:
        self.category_list.clear()
        ranked = self._ranked or [(c, 0.0) for c in sorted(self._categories)]
        items = []
        for rank, (category, score) in enumerate(ranked, 1):
            item = QTreeWidgetItem(
                ["" if rank > 9 else str(rank), category, f"{score:.0%}" if self._ranked else ""]
            )
            item.setData(1, Qt.ItemDataRole.UserRole, category)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            description = self._descriptions.get(category)
            if description:
                item.setToolTip(1, description)
            items.append(item)
        self.category_list.addTopLevelItems(items)
        self.category_list.setEnabled(enabled)
        self._filter_list(self.search.text())

    def _filter_list(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.category_list.topLevelItemCount()):
            item = self.category_list.topLevelItem(i)
            item.setHidden(bool(needle) and needle not in item.text(1).lower())

    def _choose_first_visible(self) -> None:
        for i in range(self.category_list.topLevelItemCount()):
            item = self.category_list.topLevelItem(i)
            if not item.isHidden():
                self._choose(item.data(1, Qt.ItemDataRole.UserRole))
                return

    def _choose(self, category: str | None) -> None:
        if category:
            self.categoryChosen.emit(category)


def _source_text(result: FileResult) -> str:
    names = {
        "offline": "offline model",
        "online": "online service",
        "blend": "offline + online",
        "rules": "pixel rules",
        PENDING: "(waiting)",
    }
    return names.get(result.source or "", result.source or "")
