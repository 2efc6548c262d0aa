"""The main window's actions, menus and toolbar: a mixin of `MainWindow`, which owns the slots.

File, Edit (corrections: undo, redo, accept), View (thumbnails or table, channels, zoom), Models
and Help (keyboard shortcuts). Actions are built before the browser exists, so slots that reach
it are lambdas that look it up when triggered.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QToolBar, QToolButton

from app.ui import channels
from app.ui.icons import icon


class WindowMenus:
    """Builds the window's QActions, menus and toolbar and fills the dynamic menus."""

    def _action(self, text: str, slot, shortcut=None, icon_name: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if isinstance(shortcut, list):
            action.setShortcuts([QKeySequence(s) for s in shortcut])
        elif shortcut is not None:
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
        self.get_models_action = self._action("&Get Models…", self.show_get_models_dialog, None, "import",
                                              "Install and update models from model catalogs")  # fmt: skip
        self.online_action = self._action("&Online Classifier…", self.show_online_dialog, None, "online")
        self.about_action = self._action("&About Texture Sorter", self.show_about)
        self.log_action = self._action("Open &Log Folder", self.open_log_folder)
        self.shortcuts_action = self._action("&Keyboard Shortcuts", self.show_shortcuts, ["F1", "Ctrl+/"])
        # Edit: the user's answers.
        self.undo_action = self._action("&Undo Correction", self.undo_correction, QKeySequence.StandardKey.Undo,
                                        tip="Take back the last correction (after a restart: the newest one here)")  # fmt: skip
        self.redo_action = self._action("&Redo Correction", self.redo_correction, ["Ctrl+Shift+Z", "Ctrl+Y"],
                                        tip="Give again the answer Undo took back")  # fmt: skip
        self.accept_action = self._action("&Accept Guess\tEnter", self.accept_selection, None, "accept",
                                          "Confirm the shown category of the selected textures")  # fmt: skip
        self.select_all_action = self._action("Select &All", lambda: self.results_view.current_view().selectAll(),
                                              QKeySequence.StandardKey.SelectAll)  # fmt: skip
        self.find_action = self._action("&Find by Name", lambda: self.search.setFocus(), QKeySequence.StandardKey.Find)
        # View.
        self.grid_action = self._action("&Thumbnails", lambda: self.set_view_mode("grid"), "Ctrl+1", "grid")
        self.details_action = self._action("&Details Table", lambda: self.set_view_mode("details"), "Ctrl+2", "list")
        self.zoom_in_action = self._action("Zoom &In", lambda: self.browser.zoom(1), ["Ctrl++", "Ctrl+="])
        self.zoom_out_action = self._action("Zoom &Out", lambda: self.browser.zoom(-1), "Ctrl+-")
        self.zoom_reset_action = self._action("&Normal Size", lambda: self.browser.zoom(0), "Ctrl+0")
        self.problems_action = self._action("&Problems Panel", lambda: self.errors.setVisible(not self.errors.isVisible()))
        self.channel_group = QActionGroup(self)
        self.channel_actions: dict[str, QAction] = {}
        for mode in channels.MODES:
            action = self._action(channels.LABELS[mode], lambda m=mode: self.browser.set_channels(m),
                                  channels.KEYS[mode], tip=channels.TIPS[mode])  # fmt: skip
            action.setCheckable(True)
            self.channel_group.addAction(action)
            self.channel_actions[mode] = action

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
        file_menu.addAction(self.get_models_action)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        for action in (self.undo_action, self.redo_action, None, self.accept_action, self.review_action, None,
                       self.select_all_action, self.find_action):  # fmt: skip
            edit_menu.addSeparator() if action is None else edit_menu.addAction(action)
        edit_menu.aboutToShow.connect(self._update_edit_actions)
        view_menu = bar.addMenu("&View")
        for action in (self.grid_action, self.details_action, None):
            view_menu.addSeparator() if action is None else view_menu.addAction(action)
        self.channels_menu = view_menu.addMenu("&Channels")
        self.channels_menu.addActions(list(self.channel_actions.values()))
        for action in (None, self.zoom_in_action, self.zoom_out_action, self.zoom_reset_action, None,
                       self.problems_action):  # fmt: skip
            view_menu.addSeparator() if action is None else view_menu.addAction(action)
        self.models_menu = bar.addMenu("&Models")
        # Filled when opened: listing the models reads the shipped model's metadata (an ONNX session).
        self.models_menu.aboutToShow.connect(self._fill_models_menu)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
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
        # Channels: a click steps to the next mode, the arrow picks one.
        self.channels_button = QToolButton(toolbar)
        self.channels_button.setObjectName("channelsButton")
        self.channels_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.channels_button.setMenu(self.channels_menu)
        self.channels_button.clicked.connect(lambda: self.browser.set_channels(channels.next_mode(self.model.channels)))
        toolbar.addWidget(self.channels_button)
        toolbar.addSeparator()
        toolbar.addAction(self.import_action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar

    def _connect_menus(self) -> None:
        """Keep checked actions and the toolbar in step with the browser and the session (after both exist)."""
        self.browser.channelsChanged.connect(self._show_channels)
        self._show_channels(self.model.channels)
        self.session.historyChanged.connect(self._update_edit_actions)
        self._update_edit_actions()

    def _show_channels(self, mode: str) -> None:
        self.channel_actions[mode].setChecked(True)
        self.channels_button.setText(f"Channels: {channels.SHORT[mode]}")
        self.channels_button.setToolTip(f"{channels.LABELS[mode]} ({channels.KEYS[mode]}); click for the next")

    def _update_edit_actions(self) -> None:
        self.undo_action.setEnabled(self.session.can_undo())
        self.redo_action.setEnabled(self.session.can_redo())
        self.detail.undo_button.setEnabled(self.session.can_undo())

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
        self.model_actions.fill_menu(
            self.models_menu, [self.get_models_action, self.manage_models_action, self.online_action]
        )

    def show_get_models_dialog(self):
        """The Get Models dialog (catalogs); installs it makes are reported like imports."""
        from app.ui.catalog_dialog import open_get_models

        self.get_models_dialog = open_get_models(self, self.model_actions)
        return self.get_models_dialog
