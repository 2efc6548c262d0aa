"""The Sort dialog's "Where and how" form: output folder, copy or move, layout, duplicates, confidence.

It reads its defaults from the settings, says `changed` whenever an option changes, gives the
options as `build_plan` keywords and remembers the ones a sort ran with.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from app.sorting import SortPlan
from app.ui.settings import Settings

LAYOUT_CHOICES = (
    ("category", "Category folders  (OUT/surface/wood/…)"),
    ("category-format", "Category and format  (OUT/map/normal/BC5/…)"),
    ("flat", "One folder per category  (OUT/map-normal/…)"),
)
DEDUPE_CHOICES = (
    ("off", "Off"),
    ("exact", "Exact duplicates (same pixels)"),
    ("near", "Near duplicates (mips, resized, padded copies)"),
)
DUPLICATE_CHOICES = (
    ("separate", "Sort one of each group; the rest go to _duplicates/"),
    ("together", "Keep each group together in its category"),
)


class SortOptionsForm(QGroupBox):
    """The options of one sort, with their last-used values as defaults."""

    changed = Signal()

    def __init__(self, settings: Settings, source_root: str, default_output: str | None, parent: QWidget):
        super().__init__("Where and how", parent)
        self.settings = settings
        self.source_root = source_root
        s = settings
        self.output = QLineEdit(default_output or s.get("sort/last_output") or self._suggested_output(), self)
        self.output.setPlaceholderText("Folder to sort into")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.output, 1)
        out_row.addWidget(browse)

        self.copy_radio = QRadioButton("Copy (your folder stays as it is)", self)
        self.move_radio = QRadioButton("Move", self)
        group = QButtonGroup(self)
        group.addButton(self.copy_radio)
        group.addButton(self.move_radio)
        (self.move_radio if s.get("sort/mode") == "move" else self.copy_radio).setChecked(True)
        mode_row = QHBoxLayout()
        mode_row.addWidget(self.copy_radio)
        mode_row.addWidget(self.move_radio)
        mode_row.addStretch(1)

        self.layout_combo = _combo(self, LAYOUT_CHOICES, s.get("sort/layout"))
        self.keep_structure = QCheckBox("Keep the source folders inside each category", self)
        self.keep_structure.setChecked(s.get("sort/keep_structure"))
        self.dedupe_combo = _combo(self, DEDUPE_CHOICES, s.get("sort/dedupe"))
        self.duplicates_combo = _combo(self, DUPLICATE_CHOICES, s.get("sort/duplicates"))
        self.min_confidence = QSpinBox(self)
        self.min_confidence.setRange(0, 100)
        self.min_confidence.setSuffix(" %")
        self.min_confidence.setValue(int(round(s.get("sort/min_confidence") * 100)))
        self.unsorted_name = QLineEdit(s.get("sort/unsorted_name"), self)
        conf_row = QHBoxLayout()
        conf_row.addWidget(self.min_confidence)
        conf_row.addWidget(QLabel("below it, files go to", self))
        conf_row.addWidget(self.unsorted_name, 1)

        form = QFormLayout(self)
        form.addRow("Output folder:", out_row)
        form.addRow("Files:", mode_row)
        form.addRow("Folders:", self.layout_combo)
        form.addRow("", self.keep_structure)
        form.addRow("Duplicates:", self.dedupe_combo)
        form.addRow("", self.duplicates_combo)
        form.addRow("Least confidence:", conf_row)

        for signal in (
            self.output.textChanged,
            self.copy_radio.toggled,
            self.layout_combo.currentIndexChanged,
            self.keep_structure.toggled,
            self.dedupe_combo.currentIndexChanged,
            self.duplicates_combo.currentIndexChanged,
            self.min_confidence.valueChanged,
            self.unsorted_name.textChanged,
        ):
            signal.connect(self._option_changed)
        self._sync_enabled()

    def output_folder(self) -> str:
        """The chosen output folder as an absolute path, or "" when none is given."""
        out = self.output.text().strip()
        return os.path.abspath(os.path.expanduser(out)) if out else ""

    def options(self) -> dict:
        """The options as `app.sorting.build_plan` keywords."""
        layout = self.layout_combo.currentData()
        if layout == "category" and self.keep_structure.isChecked():
            layout = "structure"
        return {
            "mode": "move" if self.move_radio.isChecked() else "copy",
            "layout": layout,
            "min_confidence": self.min_confidence.value() / 100.0,
            "unsorted_name": self.unsorted_name.text().strip() or "_unsorted",
            "dedupe": self.dedupe_combo.currentData(),
            "duplicates": self.duplicates_combo.currentData(),
        }

    def remember(self, plan: SortPlan) -> None:
        """Keep the options `plan` was made with as the next sort's defaults."""
        s = self.settings
        s.set("sort/last_output", plan.out_dir)
        s.remember_folder("sort/recent_outputs", plan.out_dir)
        s.set("sort/mode", plan.mode)
        layout = plan.layout
        s.set("sort/keep_structure", layout == "structure")
        s.set("sort/layout", "category" if layout == "structure" else layout)
        s.set("sort/dedupe", plan.dedupe)
        s.set("sort/duplicates", plan.duplicates)
        s.set("sort/min_confidence", plan.min_confidence)
        s.set("sort/unsorted_name", plan.unsorted_name)

    def _suggested_output(self) -> str:
        root = self.source_root.rstrip(os.sep) or self.source_root
        return f"{root}-sorted"

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Sort into folder", self.output.text() or self.source_root)
        if folder:
            self.output.setText(folder)

    def _sync_enabled(self) -> None:
        self.keep_structure.setEnabled(self.layout_combo.currentData() == "category")
        self.duplicates_combo.setEnabled(self.dedupe_combo.currentData() != "off")

    def _option_changed(self, *_args) -> None:
        self._sync_enabled()
        self.changed.emit()


def _combo(parent: QWidget, choices, current: str) -> QComboBox:
    combo = QComboBox(parent)
    for value, label in choices:
        combo.addItem(label, value)
    index = combo.findData(current)
    combo.setCurrentIndex(max(index, 0))
    return combo
