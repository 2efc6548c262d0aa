"""Models in the GUI: import a .ps2model, export the active model, list, choose and remove models.

`ModelActions` holds the flows (file dialog → background job → plain message → optional switch);
the jobs themselves are `ai.packages.exporter` and `ai.packages.registry` calls.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ai.errors import PackageError
from ai.packages.exporter import ModelExporter, ModelImporter
from ai.packages.registry import ModelRecord, ModelRegistry
from ai.packages.schema import slugify
from app.ui.model_stats import StatsPage
from app.ui.results_roles import human_size
from app.ui.worker import Op

log = logging.getLogger(__name__)

PACKAGE_FILTER = "Texture Sorter models (*.ps2model)"


def inspect_package(path: str) -> dict:
    """Validate without installing; says whether that name and version are installed already."""
    importer = ModelImporter()
    contents = importer.inspect(path)
    meta = contents.metadata
    installed = (importer.models_dir / slugify(meta["name"]) / meta["version"]).exists()
    return {"metadata": meta, "categories": contents.categories, "installed": installed}


def cached_updates() -> list:
    """Newer catalog versions of installed models, from the cached indexes (worker thread)."""
    from ai.packages.library import ModelLibrary

    library = ModelLibrary()
    return library.updates(library.statuses(refresh=False)) if library.catalogs() else []


class ModelActions(QObject):
    """Import, export and switching, with the questions a user expects and failures said plainly."""

    imported = Signal(dict)  # ModelImporter.import_model's result
    importFailed = Signal(str)
    activeModelChanged = Signal()
    exported = Signal(str)

    def __init__(self, parent_widget: QWidget, session=None):
        super().__init__(parent_widget)
        self.window = parent_widget
        self.session = session
        self.registry = ModelRegistry()

    # -- import -------------------------------------------------------------------------------------

    def choose_and_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import Model", "", PACKAGE_FILTER)
        if path:
            self.import_package(path)

    def import_package(self, path: str) -> None:
        Op(self, inspect_package, path).success(lambda info: self._inspected(path, info)).failure(
            lambda exc: self._failed(path, exc)
        ).run()

    def _inspected(self, path: str, info: dict) -> None:
        meta = info["metadata"]
        replace = False
        if info["installed"]:
            answer = QMessageBox.question(
                self.window,
                "Model already installed",
                f"{meta['name']} {meta['version']} is already installed.\n\nReinstall it from this file?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
            replace = True
        Op(self, lambda: ModelImporter().import_model(path, replace=replace)).success(
            self._installed
        ).failure(lambda exc: self._failed(path, exc)).run()

    def _installed(self, result: dict) -> None:
        meta = result["metadata"]
        text = (
            f"{meta['name']} {meta['version']} is installed "
            f"({len(result['categories'])} categories); the package is {result['signature'].describe()}."
            f"\n\n{meta.get('description') or ''}".rstrip()
        )
        if result.get("active"):
            note = (
                f"It replaces version {result['upgraded_from']} as the active model."
                if result.get("upgraded_from")
                else "It is now the active model."
            )
            QMessageBox.information(self.window, "Model installed", f"{text}\n\n{note}")
            self.imported.emit(result)
            self.activeModelChanged.emit()
            return
        answer = QMessageBox.question(self.window, "Model installed", f"{text}\n\nUse it now?")
        self.imported.emit(result)
        if answer == QMessageBox.StandardButton.Yes:
            self.activate(result["slug"], result["version"])

    def _failed(self, path: str, exc: BaseException) -> None:
        if isinstance(exc, PackageError):
            message = str(exc)
        else:
            log.error("import of %s failed", path, exc_info=exc)
            message = f"{type(exc).__name__}: {exc}"
        self.importFailed.emit(message)
        QMessageBox.warning(
            self.window, "Cannot import model", f"{os.path.basename(path)} was not installed.\n\n{message}"
        )

    # -- switching ----------------------------------------------------------------------------------

    def activate(self, slug: str, version: str) -> None:
        try:
            self.registry.set_active(slug, version)
        except PackageError as exc:
            QMessageBox.warning(self.window, "Cannot use model", str(exc))
            return
        self.activeModelChanged.emit()

    def fill_menu(self, menu: QMenu, extra: list[QAction]) -> None:
        """The installed models as a choice (the active one checked), then `extra` actions."""
        menu.clear()
        group = QActionGroup(menu)
        group.setExclusive(True)
        for record in self.models():
            label = f"{record.name} {record.version}" + ("  (built-in)" if record.builtin else "")
            if not record.available:
                label += "  (missing)"
            action = menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(record.active)
            action.setToolTip(record.description)
            group.addAction(action)
            action.triggered.connect(lambda _c=False, r=record: self.activate(r.slug, r.version))
        if menu.isEmpty():
            menu.addAction("(no models)").setEnabled(False)
        menu.addSeparator()
        for action in extra:
            menu.addAction(action)

    def models(self) -> list[ModelRecord]:
        try:
            return self.registry.list_models()
        except (OSError, PackageError) as exc:
            log.warning("cannot list models: %s", exc)
            return []

    # -- export -------------------------------------------------------------------------------------

    def export_active(self) -> None:
        manager = self.session.manager if self.session is not None else None
        offline = manager.offline_model if manager is not None else None
        if offline is None:
            QMessageBox.information(
                self.window,
                "Export Model",
                "No model is loaded (the pixel rules are in use), so there is nothing to export.",
            )
            return
        # The loaded model's own record (a model given with --model has none): its name and licence.
        loaded = Path(offline.model_path).resolve()
        record = next((r for r in self.models() if Path(r.model_path).resolve() == loaded), None)
        dialog = ExportDialog(self.window, record, offline)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        fields = dialog.fields()
        start = os.path.join(
            os.path.expanduser("~"), f"{slugify(fields['name']) or 'model'}-{fields['version']}.ps2model"
        )
        out, _ = QFileDialog.getSaveFileName(self.window, "Export Model", start, PACKAGE_FILTER)
        if not out:
            return
        if not out.endswith(".ps2model"):
            out += ".ps2model"
        learner = manager.learner if fields.pop("include_corrections") else None
        model_path = str(offline.model_path)

        def job() -> str:
            training = None
            if learner is not None and len(learner):
                with tempfile.TemporaryDirectory() as tmp:
                    history = Path(tmp) / "history.json"
                    learner.export_history(history)
                    training = json.loads(history.read_text(encoding="utf-8"))
            ModelExporter().export_model(model_path, out, training_data=training, overwrite=True, **fields)
            return out

        def done(path: str) -> None:
            self.exported.emit(path)
            QMessageBox.information(
                self.window,
                "Model exported",
                f"Wrote {path}.\n\nOthers can install it with File → Import Model.",
            )

        Op(self, job).success(done).failure(
            lambda exc: QMessageBox.warning(self.window, "Export failed", str(exc))
        ).run()


class ExportDialog(QDialog):
    """Name, version and description of the package to write."""

    def __init__(self, parent: QWidget, record: ModelRecord | None, offline):
        super().__init__(parent)
        self.setWindowTitle("Export Model")
        name = record.name if record is not None else getattr(offline, "name", "model")
        version = record.version if record is not None else getattr(offline, "version", "1.0")
        self.name = QLineEdit(str(name), self)
        self.version = QLineEdit(str(version), self)
        self.author = QLineEdit(record.author if record else "", self)
        self.license = QLineEdit(record.license if record else "", self)
        self.license.setPlaceholderText("e.g. CC-BY-4.0")
        self.description = QPlainTextEdit(record.description if record else "", self)
        self.description.setFixedHeight(80)
        self.include = QCheckBox("Include my corrections (so others' learners start from them)", self)
        self.include.setChecked(True)
        form = QFormLayout()
        form.addRow("Name:", self.name)
        form.addRow("Version:", self.version)
        form.addRow("Author:", self.author)
        form.addRow("Licence:", self.license)
        form.addRow("Description:", self.description)
        form.addRow("", self.include)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export…")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Package the model <b>{name}</b> as a .ps2model file.", self))
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(460, 0)

    def fields(self) -> dict:
        return {
            "name": self.name.text().strip(),
            "version": self.version.text().strip(),
            "author": self.author.text().strip(),
            "license": self.license.text().strip(),
            "description": self.description.toPlainText().strip(),
            "include_corrections": self.include.isChecked(),
        }


class ModelsDialog(QDialog):
    """Installed models (choose the active one, remove, import, export, get more) and their statistics."""

    COLUMNS = ("", "Name", "Version", "Categories", "Size", "Source")

    def __init__(self, actions: ModelActions, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.actions = actions
        self.table = QTableWidget(0, len(self.COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for c in range(2, len(self.COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda _item: self._use())
        self.details = QLabel(self)
        self.details.setWordWrap(True)
        self.details.setObjectName("muted")
        self.use_button = QPushButton("Use", self)
        self.use_button.setObjectName("primary")
        self.use_button.clicked.connect(self._use)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.clicked.connect(self._remove)
        import_button = QPushButton("Import…", self)
        import_button.clicked.connect(actions.choose_and_import)
        get_button = QPushButton("Get Models…", self)
        get_button.clicked.connect(self.get_models)
        self.updates_label = QLabel(self)  # newer versions in the catalogs (their cached copies)
        self.updates_label.setWordWrap(True)
        self.updates_label.hide()
        export_button = QPushButton("Export Active…", self)
        export_button.clicked.connect(actions.export_active)
        close = QPushButton("Close", self)
        close.clicked.connect(self.accept)
        row = QHBoxLayout()
        for b in (import_button, get_button, export_button, self.remove_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.use_button)
        installed = QWidget(self)
        page = QVBoxLayout(installed)
        page.addWidget(self.table, 1)
        page.addWidget(self.details)
        page.addWidget(self.updates_label)
        page.addLayout(row)
        self.stats_page = StatsPage(self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(installed, "Installed")
        self.tabs.addTab(self.stats_page, "Statistics")
        self.tabs.currentChanged.connect(self._tab_changed)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)
        self.resize(860, 560)
        self._stats_loaded = False
        Op(self, cached_updates).success(self._show_updates).failure(
            lambda exc: log.info("no update information: %s", exc)
        ).run()
        actions.activeModelChanged.connect(self.reload)
        actions.imported.connect(lambda _r: self.reload())
        self.reload()

    def show_statistics(self) -> StatsPage:
        self.tabs.setCurrentWidget(self.stats_page)
        return self.stats_page

    def _tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self.stats_page and not self._stats_loaded:
            self._stats_loaded = True
            self.stats_page.load()

    def get_models(self):
        from app.ui.catalog_dialog import open_get_models

        return open_get_models(self, self.actions)

    def _show_updates(self, updates) -> None:
        if updates:
            text = "; ".join(f"{u.entry.name} {u.entry.version} (you have {u.installed.version})" for u in updates)
            self.updates_label.setText(f"Newer versions in your catalogs: {text}. Install them with Get Models….")
        self.updates_label.setVisible(bool(updates))

    def reload(self) -> None:
        self.records = self.actions.models()
        self.table.setRowCount(len(self.records))
        for r, record in enumerate(self.records):
            values = (
                "●" if record.active else "",
                record.name + ("" if record.available else " (missing)"),
                record.version,
                str(len(record.categories)),
                human_size(record.size),
                record.source,
            )
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                if c == 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    item.setToolTip("active model" if record.active else "")
                self.table.setItem(r, c, item)
        self._selection_changed()

    def _selected(self) -> ModelRecord | None:
        rows = self.table.selectionModel().selectedRows()
        return self.records[rows[0].row()] if rows else None

    def _selection_changed(self) -> None:
        record = self._selected()
        self.use_button.setEnabled(record is not None and not record.active)
        self.remove_button.setEnabled(record is not None and not record.builtin)
        if record is None:
            self.details.setText("")
            return
        parts = [record.description or "", f"by {record.author}" if record.author else "",
                 f"licence {record.license}" if record.license else "", str(record.model_path)]  # fmt: skip
        self.details.setText(" · ".join(p for p in parts if p))

    def _use(self) -> None:
        record = self._selected()
        if record is not None and not record.active:
            self.actions.activate(record.slug, record.version)

    def _remove(self) -> None:
        record = self._selected()
        if record is None or record.builtin:
            return
        answer = QMessageBox.question(
            self, "Remove model", f"Remove {record.name} {record.version} from this computer?"
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            _, new_active = self.actions.registry.remove(record.slug, record.version)
        except PackageError as exc:
            QMessageBox.warning(self, "Cannot remove model", str(exc))
            return
        if new_active is not None:
            self.actions.activeModelChanged.emit()
        self.reload()
