"""The main window's actions, menus and toolbar: a mixin of `MainWindow`, which owns the slots."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolBar

from app.ui.icons import icon


class WindowMenus:
    """Builds the window's QActions (File, Models, Help menus, toolbar) and fills the dynamic menus."""

    def _action(self, text: str, slot, shortcut=None, icon_name: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open Folder…", self.choose_folder, QKeySequence.StandardKey.Open, "open",
                                        "Open a folder of textures")  # fmt: skip
        self.sort_action = self._action("&Sort…", self.show_sort_dialog, "Ctrl+Shift+S", "sort",
                                        "Copy or move the textures into category folders")  # fmt: skip
        self.undo_sort_action = self._action("&Undo Last Sort", self.undo_last_sort, None, "undo",
                                             "Put back the files of the last sort")  # fmt: skip
        self.import_action = self._action("&Import Model (.ps2model)…", self.model_actions.choose_and_import, None,
                                          "import", "Install a model someone shared")  # fmt: skip
        self.export_action = self._action("&Export Model…", self.model_actions.export_active, None, "export",
                                          "Share the active model as a .ps2model file")  # fmt: skip
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.review_action = self._action("&Review Uncertain", self.review_uncertain, "Ctrl+R", "review",
                                          "Answer the uncertain textures one by one with the number keys")  # fmt: skip
        self.manage_models_action = self._action("&Manage Models…", self.show_models_dialog, None, "model")
        self.online_action = self._action("&Online Classifier…", self.show_online_dialog, None, "online")
        self.about_action = self._action("&About Texture Sorter", self.show_about)
        self.log_action = self._action("Open &Log Folder", self.open_log_folder)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Recent &Folders")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.sort_action)
        file_menu.addAction(self.undo_sort_action)
        file_menu.addSeparator()
        file_menu.addAction(self.import_action)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        self.models_menu = bar.addMenu("&Models")
        # Filled when opened: listing the models reads the shipped model's metadata (an ONNX session).
        self.models_menu.aboutToShow.connect(self._fill_models_menu)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)
        help_menu.addAction(self.log_action)

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.open_action, self.sort_action, self.undo_sort_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.review_action)
        toolbar.addSeparator()
        toolbar.addAction(self.import_action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = [f for f in self.settings.get("folders/recent") if f]
        for folder in recent:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _c=False, f=folder: self.open_paths([f]))
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)
            return
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear Recent Folders").triggered.connect(
            lambda: self.settings.set("folders/recent", [])
        )

    def _fill_models_menu(self) -> None:
        self.model_actions.fill_menu(self.models_menu, [self.manage_models_action, self.online_action])
