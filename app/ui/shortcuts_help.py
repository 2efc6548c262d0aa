"""Help → Keyboard Shortcuts: every menu action's keys (read from the actions, so never out of date) and the view keys."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenuBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

# Keys that are no menu action: they act on the selection or inside Review.
OTHER_KEYS = {
    "Textures": [
        ("1 … 9", "File the selected textures as the guess with that number"),
        ("Enter", "Accept the shown guess for the selected textures"),
        ("Ctrl+wheel", "Thumbnail size"),
    ],
    "Review Uncertain": [
        ("1 … 9", "File the texture as that guess and show the next"),
        ("Enter", "Accept the first guess"),
        ("→  or  Space", "Skip"),
        ("←", "Back to the previous texture"),
        ("A", "Next channel view (Alt+0 … Alt+3 pick one)"),
        ("Esc", "Close"),
    ],
}


def _text(action: QAction) -> str:
    return action.text().split("\t")[0].replace("&", "")


def menu_shortcuts(menu_bar: QMenuBar) -> list[tuple[str, list[tuple[str, str]]]]:
    """(menu title, [(keys, action)]) for every menu action that has keys, in menu order."""
    out = []

    def walk(menu, title):
        rows = []
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{title} → {_text(action)}")
                continue
            keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
            if "\t" in action.text():
                keys.append(action.text().split("\t", 1)[1])
            if keys:
                rows.append(("  or  ".join(keys), _text(action)))
        if rows:
            out.append((title, rows))

    for action in menu_bar.actions():
        if action.menu() is not None:
            walk(action.menu(), _text(action))
    return out


class KeyboardShortcutsDialog(QDialog):
    def __init__(self, menu_bar: QMenuBar, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Keys", "Does"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        for title, rows in [*menu_shortcuts(menu_bar), *OTHER_KEYS.items()]:
            heading = QTreeWidgetItem([title, ""])
            font = heading.font(0)
            font.setBold(True)
            heading.setFont(0, font)
            self.tree.addTopLevelItem(heading)
            heading.setFirstColumnSpanned(True)  # only once it is in the tree
            for keys, what in rows:
                self.tree.addTopLevelItem(QTreeWidgetItem([keys, what]))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree)
        layout.addWidget(buttons)
        self.resize(560, 620)

    def rows(self) -> list[tuple[str, str]]:
        return [(self.tree.topLevelItem(i).text(0), self.tree.topLevelItem(i).text(1))
                for i in range(self.tree.topLevelItemCount())]  # fmt: skip
