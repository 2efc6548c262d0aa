"""The "Get Models…" dialog: the models your catalogs offer, their signature state, install/update with progress.

Reading the catalogs and every download run off the UI thread (`Op`); the work is
`ai.packages.library.ModelLibrary`. The list opens from the cached indexes at once and refreshes
in the background; a catalog that cannot be reached says so in the header and its cached copy
stays listed. Whatever fails, the message names the catalog or file and the reason, inline.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ai.errors import PackageError
from ai.packages.catalog import CatalogEntry
from ai.packages.library import CatalogStatus, ModelLibrary
from ai.packages.schema import version_key
from app.ui.results_roles import human_size
from app.ui.worker import Op

log = logging.getLogger(__name__)

SIGNATURE_TEXT = {"trusted": "✔ {name}", "unknown": "unknown key", "unsigned": "unsigned"}
SIGNATURE_TIP = {
    "trusted": "Signed by {name}, whose key you trust. The signature is checked again when it installs.",
    "unknown": "Signed by a key you have not trusted (it calls itself {name!r}): the package is intact, "
    "but you cannot tell who made it. Trust the key with `texture-sorter keys trust`.",
    "unsigned": "Not signed: anyone could have made or changed it.",
}


def entry_state(entry: CatalogEntry, installed: dict[str, list[str]]) -> tuple[str, str]:
    """(what the row says, what the button does): install, update, or nothing to do."""
    have = installed.get(entry.slug, [])
    if entry.version in have:
        return "installed", ""
    if not entry.compatible:
        return f"needs Texture Sorter {entry.min_app_version}", ""
    if have:
        newest = max(have, key=version_key)
        if version_key(entry.version) > version_key(newest):
            return f"update for {newest}", "Update"
        return f"older than {newest}", "Install"
    return "", "Install"


class _Progress(QObject):
    """Carries a download's progress from the worker thread to the dialog (queued signal)."""

    changed = Signal(int, int)


class GetModelsDialog(QDialog):
    """Catalog entries with install/update, signature state and a progress bar."""

    COLUMNS = ("Name", "Version", "Author", "Categories", "Size", "Signature", "Status")
    installed = Signal(dict)  # ModelImporter's result
    activeModelChanged = Signal()
    loaded = Signal()  # a catalog read (cached or fresh) reached the table
    failed = Signal(str)

    def __init__(self, library: ModelLibrary | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Get Models")
        self.library = library or ModelLibrary()
        self.entries: list[CatalogEntry] = []
        self.statuses: list[CatalogStatus] = []
        self._op: Op | None = None
        self.header = QLabel(self)
        self.header.setWordWrap(True)
        self.header.setObjectName("muted")
        self.table = QTableWidget(0, len(self.COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setShowGrid(False)
        heads = self.table.horizontalHeader()
        heads.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, len(self.COLUMNS)):
            heads.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.details = QLabel(self)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar(self)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel Download", self)
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel)
        self.auto_check = QCheckBox("Check for model updates when Texture Sorter starts (once a day)", self)
        self.auto_check.setChecked(self.library.auto_check)
        self.auto_check.toggled.connect(self.library.set_auto_check)
        self.add_button = QPushButton("Add Catalog…", self)
        self.add_button.clicked.connect(self.ask_for_catalog)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.clicked.connect(lambda: self.reload(refresh=True))
        self.install_button = QPushButton("Install", self)
        self.install_button.setObjectName("primary")
        self.install_button.clicked.connect(self.install_selected)
        self.use_button = QPushButton("Use It Now", self)
        self.use_button.hide()
        self.use_button.clicked.connect(self._use_installed)
        close = QPushButton("Close", self)
        close.clicked.connect(self.accept)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(close)
        buttons.addWidget(self.install_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.message)
        layout.addLayout(progress_row)
        layout.addWidget(self.auto_check)
        layout.addLayout(buttons)
        self.resize(860, 460)
        self._last_install: dict | None = None
        self.installed_versions: dict[str, list[str]] = {}
        self.reload(refresh=False, then_refresh=True)

    # -- the list -----------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._op is not None

    def reload(self, *, refresh: bool = True, then_refresh: bool = False) -> None:
        """Read the catalogs off the UI thread (the cached copies unless `refresh`), then fresh if asked."""
        self.refresh_button.setEnabled(False)
        job = Op(self, lambda: (self.library.statuses(refresh=refresh), self.library.installed_versions()))
        job.success(lambda result: self._show(*result, refreshing=then_refresh)).failure(self._failed_load)
        job.titled("Reading the model catalogs").run()

    def _show(self, statuses: list[CatalogStatus], installed: dict[str, list[str]], *, refreshing: bool) -> None:
        self.statuses, self.installed_versions = statuses, installed
        selected = self.selected_entry()
        self.entries = sorted(ModelLibrary.entries(statuses), key=lambda e: (e.slug, version_key(e.version)))
        if not statuses:
            self.header.setText("You follow no model catalogs yet. Add one with Add Catalog… (a web address "
                                "of an index.json, or a shared folder).")  # fmt: skip
        else:
            self.header.setText(" · ".join(s.describe() for s in statuses))
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            claim = self.library.claimed_signature(entry)
            status, _ = entry_state(entry, installed)
            values = (entry.name, entry.version, entry.author, str(len(entry.categories)), human_size(entry.size),
                      SIGNATURE_TEXT[claim.state].format(name=claim.name), status)  # fmt: skip
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if column == 5:
                    item.setToolTip(SIGNATURE_TIP[claim.state].format(name=claim.name))
                self.table.setItem(row, column, item)
        if selected is not None:
            self.select(selected.name, selected.version)
        self._selection_changed()
        self.refresh_button.setEnabled(True)
        self.loaded.emit()
        if refreshing and statuses:
            self.reload(refresh=True)

    def _failed_load(self, exc: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        self._say(f"The catalogs could not be read: {exc}", error=True)

    def select(self, name: str, version: str | None = None) -> bool:
        for row, entry in enumerate(self.entries):
            if entry.name == name and (version is None or entry.version == version):
                self.table.selectRow(row)
                return True
        return False

    def selected_entry(self) -> CatalogEntry | None:
        rows = self.table.selectionModel().selectedRows() if self.entries else []
        return self.entries[rows[0].row()] if rows and rows[0].row() < len(self.entries) else None

    def _selection_changed(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            self.details.setText("")
            self.install_button.setEnabled(False)
            return
        _, action = entry_state(entry, self.installed_versions)
        self.install_button.setText(action or "Install")
        self.install_button.setEnabled(bool(action) and not self.busy)
        claim = self.library.claimed_signature(entry)
        shown = ", ".join(entry.categories[:8]) + (" …" if len(entry.categories) > 8 else "")
        parts = [entry.description, f"licence {entry.license}" if entry.license else "",
                 f"{claim.describe()}", f"from {entry.catalog_name}", f"sorts into: {shown}"]  # fmt: skip
        self.details.setText(" · ".join(p for p in parts if p))

    # -- adding a catalog ------------------------------------------------------------------------------

    def ask_for_catalog(self) -> None:
        text, ok = QInputDialog.getText(self, "Add Catalog", "Web address of a catalog (…/index.json) or a "
                                        "folder path (leave empty to pick a folder):", QLineEdit.EchoMode.Normal)  # fmt: skip
        if not ok:
            return
        if not text.strip():
            text = QFileDialog.getExistingDirectory(self, "Catalog Folder")
            if not text:
                return
        self.add_catalog(text.strip())

    def add_catalog(self, source: str) -> None:
        self._say(f"Reading {source}…")
        Op(self, self.library.add, source).success(
            lambda index: (self._say(f"Added {index.name}: {len(index.entries)} models."), self.reload(refresh=False))
        ).failure(lambda exc: self._say(f"The catalog was not added: {exc}", error=True)).titled("Add catalog").run()

    # -- installing ---------------------------------------------------------------------------------------

    def install_selected(self) -> None:
        entry = self.selected_entry()
        if entry is not None and not self.busy:
            self.install(entry)

    def install(self, entry: CatalogEntry) -> Op:
        self.install_button.setEnabled(False)
        self.use_button.hide()
        self.progress.setRange(0, max(1, entry.size))
        self.progress.setValue(0)
        self.progress.setFormat(f"{entry.name} {entry.version}: %p%")
        self.progress.show()
        self.cancel_button.show()
        self._say(f"Downloading {entry.name} {entry.version} ({human_size(entry.size)})…")
        signal = _Progress(self)
        signal.changed.connect(lambda done, total: self.progress.setValue(done))
        op = Op(self, lambda: self.library.install(entry, progress=signal.changed.emit, cancel=op.cancel))
        op.success(lambda result: self._installed(entry, result)).failure(lambda exc: self._install_failed(entry, exc))
        op.always(self._finished).titled(f"Install {entry.name}")
        self._op = op
        op.run()
        return op

    def cancel(self) -> None:
        if self._op is not None:
            self._op.cancel.set()

    def _installed(self, entry: CatalogEntry, result: dict) -> None:
        self._last_install = result
        text = f"Installed {entry.name} {entry.version}: {result['signature'].describe()}."
        if result.get("upgraded_from"):
            text += f" It replaces {result['upgraded_from']} as the active model; {result['upgraded_from']} stays installed."
        self._say(text)
        self.use_button.setVisible(not result.get("active"))
        self.installed.emit(result)
        if result.get("active"):
            self.activeModelChanged.emit()

    def _install_failed(self, entry: CatalogEntry, exc: BaseException) -> None:
        if not isinstance(exc, PackageError):
            log.error("install of %s failed", entry.url, exc_info=exc)
        message = f"{entry.name} {entry.version} was not installed. {exc}"
        self._say(message, error=True)
        self.failed.emit(message)

    def _finished(self) -> None:
        self._op = None
        self.progress.hide()
        self.cancel_button.hide()
        self.reload(refresh=False)

    def _use_installed(self) -> None:
        result = self._last_install
        if result is None:
            return
        try:
            self.library.registry.set_active(result["slug"], result["version"])
        except PackageError as exc:
            self._say(str(exc), error=True)
            return
        self.use_button.hide()
        self._say(f"{result['name']} {result['version']} is now the active model.")
        self.activeModelChanged.emit()

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setStyleSheet("color: #b42318;" if error else "")
        self.message.setText(text)

    def done(self, result: int) -> None:
        self.cancel()  # closing the dialog stops a download; nothing half-done is installed
        super().done(result)


def open_get_models(parent: QWidget, model_actions) -> GetModelsDialog:
    """Open the dialog (non-blocking); its installs are reported through `ModelActions` like imports."""
    dialog = GetModelsDialog(parent=parent)
    dialog.installed.connect(model_actions.imported)
    dialog.activeModelChanged.connect(model_actions.activeModelChanged)
    dialog.open()
    return dialog
