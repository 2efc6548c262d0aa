"""The main window: menus, toolbar, the results browser, the detail pane, Training tab, problems and status.

It wires widgets to the session (classification, corrections) and to the dialogs; the work
itself lives in `ClassificationSession`, `app.sorting`, `ai.*` and runs off the UI thread.
"""

from __future__ import annotations

import gc
import logging
import os

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QStackedWidget,
    QTabWidget,
)

from ai.errors import TextureSorterError
from ai.model_manager import ModelManager
from app.logsetup import log_file_path
from app.ui.about import AboutDialog
from app.ui.browser import Browser
from app.ui.desktop import open_folder
from app.ui.empty_page import EmptyPage
from app.ui.errors_panel import ErrorsPanel
from app.ui.icons import app_icon, icon
from app.ui.images import ImageLoader
from app.ui.models_ui import ModelActions, ModelsDialog
from app.ui.online_dialog import OnlineDialog
from app.ui.results_filter import ResultsFilter
from app.ui.results_model import ResultsModel
from app.ui.results_roles import FILTER_CORRECTED, FILTER_UNCERTAIN, PENDING
from app.ui.session import ClassificationSession, RunSummary
from app.ui.settings import Settings
from app.ui.sort_dialog import SortDialog
from app.ui.sort_jobs import offer_unfinished, undo_last_sort
from app.ui.status import StatusPanel
from app.ui.training_tab import TrainingTab
from app.ui.window_answers import WindowAnswers
from app.ui.window_menus import WindowMenus

log = logging.getLogger(__name__)


def freeze_heap() -> None:
    """Move every object alive now (modules, models) out of the garbage collector's sight.

    A full collection walks every tracked object; with onnxruntime, numpy and Qt loaded (and torch,
    once the Training tab looked for it) that is a pause of 100 ms or more in whichever thread
    triggers it, the UI thread included. Frozen objects are skipped (they are never garbage).
    """
    gc.collect()
    gc.freeze()


THUMBNAIL_SIZE = 128
PREVIEW_SIZE = 768
MiB = 1 << 20


class MainWindow(WindowMenus, WindowAnswers, QMainWindow):
    """The window; WindowMenus builds its actions, menus and toolbar, WindowAnswers turns picks into answers."""

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        model_path: str | None = None,
        manager: ModelManager | None = None,
    ):
        super().__init__()
        self._shut_down = False
        self.settings = settings or Settings()
        s = self.settings
        self.setWindowTitle("Texture Sorter")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.thumbnails = ImageLoader(THUMBNAIL_SIZE, max(16, s.get("thumbnails/memory_mb")) * MiB,
                                      disk_cache=s.get("thumbnails/disk_cache"), threads=2, parent=self)  # fmt: skip
        self.previews = ImageLoader(PREVIEW_SIZE, 96 * MiB, threads=1, parent=self)
        self.model = ResultsModel(self.thumbnails, self)
        self.model.uncertain_below = s.get("view/uncertain_below")
        self.proxy = ResultsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.session = ClassificationSession(
            self.model, manager=manager, model_path=model_path, batch_size=s.get("classify/batch_size"),
            threads=s.get("classify/threads") or None, parent=self,
        )  # fmt: skip
        self.model_actions = ModelActions(self, self.session)
        self.sort_dialog: SortDialog | None = None
        self._reopen_after_dialog = False

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_central()
        self.errors = ErrorsPanel(self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.errors)
        self.errors.hide()
        self.status = StatusPanel(self)
        self.setStatusBar(self.status)
        self._connect()
        self._restore()
        # Polish (style sheet) the hidden browser now, not in the middle of the first folder's scan.
        self.splitter.ensurePolished()
        self._manager_changed()
        if manager is None:
            self.session.attach_online()
        self._note_startup_problems()
        freeze_heap()

    # -- building -------------------------------------------------------------------------------

    def _build_central(self) -> None:
        self.browser = Browser(self.model, self.proxy, self.previews, self.settings,
                               lambda: self.session.manager.categories, self)  # fmt: skip
        # The parts tests and the screenshot script reach for.
        b = self.browser
        self.splitter, self.sidebar, self.results_view, self.detail = b, b.sidebar, b.results_view, b.detail
        self.sort_combo, self.order_button, self.search = b.sort_combo, b.order_button, b.search
        self.uncertain_spin, self.size_slider = b.uncertain_spin, b.size_slider
        self.pages = QStackedWidget(self)
        self.empty_page = EmptyPage(self)
        self.empty_page.openRequested.connect(self.choose_folder)
        self.empty_page.openAgainRequested.connect(
            lambda: self.open_paths([self.settings.get("folders/last")])
        )
        self.pages.addWidget(self.empty_page)
        self.pages.addWidget(self.browser)
        self.training_tab = TrainingTab(self.settings, self.session, self)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.pages, icon("textures"), "Textures")
        self.tabs.addTab(self.training_tab, icon("train"), "Training")
        self.setCentralWidget(self.tabs)

    def _connect(self) -> None:
        session = self.session
        session.started.connect(self._run_started)
        session.scanned.connect(self._scanned)
        session.progress.connect(self.status.show_progress)
        session.finished.connect(self._run_finished)
        session.failed.connect(lambda message: self.report_error("Classification", message))
        session.errorsFound.connect(self.errors.add_files)
        session.managerChanged.connect(self._manager_changed)
        session.reranked.connect(self._reranked)
        self.status.cancelRequested.connect(session.cancel)
        self.browser.countsShown.connect(
            lambda counts: self.status.set_counts(counts[FILTER_UNCERTAIN], counts[FILTER_CORRECTED])
        )
        self.status.problemsRequested.connect(lambda: self.errors.setVisible(not self.errors.isVisible()))
        self.errors.countChanged.connect(self.status.set_problems)

        self.results_view.contextMenuRequested.connect(self._context_menu)
        self._connect_menus()

        self.detail.categoryChosen.connect(self.correct_selection)
        self.detail.acceptRequested.connect(self.accept_selection)
        self.detail.undoRequested.connect(self.undo_correction)
        self.model_actions.activeModelChanged.connect(self._active_model_changed)
        self.training_tab.modelActivated.connect(self._active_model_changed)

        for n in range(1, 10):
            shortcut = QShortcut(QKeySequence(str(n)), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(lambda n=n: self.pick_ranked(n))
        for view in (self.results_view.grid, self.results_view.table):
            for key in ("Return", "Enter"):
                shortcut = QShortcut(QKeySequence(key), view)
                shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
                shortcut.activated.connect(self.accept_selection)

    def _restore(self) -> None:
        s = self.settings
        geometry = s.get("window/geometry")
        if not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1320, 840)
        state = s.get("window/state")
        if not state.isEmpty():
            self.restoreState(state)
        self._update_last_folder_button()
        self._update_actions()

    def _note_startup_problems(self) -> None:
        store = getattr(self.session.manager.learner, "store", None)
        for problem in (getattr(store, "recovered_from", None), store and store.damage_report()):
            if problem:
                self.errors.add("Corrections database", problem)

    # -- opening --------------------------------------------------------------------------------

    def choose_folder(self) -> None:
        start = self.settings.get("folders/last") or os.path.expanduser("~")
        folder = QFileDialog.getExistingDirectory(self, "Open Folder of Textures", start)
        if folder:
            self.open_paths([folder])

    def open_paths(self, paths: list[str]) -> None:
        """Open folders or files; `.ps2model` files are offered for installation instead."""
        paths = [os.path.abspath(os.path.expanduser(p)) for p in paths if p]
        packages = [p for p in paths if p.lower().endswith(".ps2model")]
        for package in packages:
            self.model_actions.import_package(package)
        others = [p for p in paths if p not in packages]
        missing = [p for p in others if not os.path.exists(p)]
        for path in missing:
            self.report_error("Open", f"{path}: no such file or folder", path=path)
        others = [p for p in others if p not in missing]
        if not others:
            return
        self.session.open(others, exclude=self._outputs_inside(others))
        folder = others[0] if os.path.isdir(others[0]) else os.path.dirname(others[0])
        self.settings.set("folders/last", folder)
        self.settings.remember_folder("folders/recent", folder)
        self._update_last_folder_button()
        name = os.path.basename(folder.rstrip(os.sep)) or folder
        self.setWindowTitle(f"{name} — Texture Sorter" if len(others) == 1 else "Texture Sorter")
        self.pages.setCurrentWidget(self.splitter)
        self.tabs.setCurrentWidget(self.pages)

    def _outputs_inside(self, paths: list[str]) -> list[str]:
        """Earlier sort outputs inside the opened folder: not textures to classify again."""
        outputs = [os.path.abspath(o) for o in self.settings.get("sort/recent_outputs")]
        return [o for o in outputs for p in paths if o != p and o.startswith(p.rstrip(os.sep) + os.sep)]

    def source_root(self) -> str | None:
        paths = self.session.paths
        if not paths:
            return None
        folders = [p if os.path.isdir(p) else os.path.dirname(p) for p in paths]
        return folders[0] if len(folders) == 1 else os.path.commonpath(folders)

    def _update_last_folder_button(self) -> None:
        last = self.settings.get("folders/last")
        self.empty_page.show_last_folder(last if last and os.path.isdir(last) else None)

    # -- classification feedback ------------------------------------------------------------------

    def _run_started(self, paths: list) -> None:
        self.status.set_running(True)
        self.status.say(f"Looking for textures in {', '.join(paths)}…")
        self._update_actions()

    def _scanned(self, count: int) -> None:
        self.status.set_running(True, count)
        self.status.say(f"Classifying {count:,} textures with {self.session.manager.describe()}…")
        if count and not self.results_view.selected_rows():
            self.results_view.select_proxy_row(0)

    def _run_finished(self, summary: RunSummary) -> None:
        self.status.set_running(False)
        done = "Stopped after" if summary.cancelled else "Classified"
        text = f"{done} {summary.files - summary.errors:,} textures in {summary.seconds:.1f} s"
        if summary.errors:
            text += f"; {summary.errors:,} could not be read"
        if self.session.manager.offline_model is None:
            text += " — with the pixel rules only: no model could be loaded"
        self.status.say(text)  # the uncertain count is the status bar's live one, beside the sidebar's
        self._update_actions()
        self.browser.refresh_detail()

    def _update_actions(self) -> None:
        has_results = self.model.rowCount() > 0
        running = self.session.is_running
        self.sort_action.setEnabled(has_results and not running)
        self.review_action.setEnabled(has_results)
        last = self.settings.get("sort/last_output")
        self.undo_sort_action.setEnabled(bool(last) and os.path.isdir(last))
        self.export_action.setEnabled(self.session.manager.offline_model is not None)

    # -- models -----------------------------------------------------------------------------------

    def _active_model_changed(self) -> None:
        self.session.model_path = None  # from now on the registry's choice
        self.status.say("Loading the model…", 4)
        self.session.reload_manager()

    def _manager_changed(self) -> None:
        manager = self.session.manager
        text = manager.describe()
        online = manager.online_model
        if online is not None:
            text += " + online"
        self.status.set_model(f"Model: {text}", manager.offline_error or "", manager.rules_notice())
        self.training_tab.refresh_corrections()
        self._update_actions()
        self.browser.refresh_detail()

    def show_models_dialog(self) -> None:
        dialog = ModelsDialog(self.model_actions, self)
        dialog.open()

    def show_online_dialog(self) -> None:
        dialog = OnlineDialog(self.session.manager.categories, self)
        dialog.saved.connect(self.session.reload_manager)
        dialog.open()

    # -- view -------------------------------------------------------------------------------------

    def set_view_mode(self, mode: str) -> None:
        self.browser.set_view_mode(mode)

    # -- sorting ----------------------------------------------------------------------------------

    def show_sort_dialog(self) -> SortDialog | None:
        root = self.source_root()
        if root is None or self.session.is_running:
            return None
        results = [r for r in self.model.effective_results() if r.source != PENDING]
        dialog = SortDialog(results, root, self.settings, self)
        dialog.sortFinished.connect(self._sort_finished)
        dialog.undoFinished.connect(self._sort_undone)
        dialog.finished.connect(lambda _code: self._sort_dialog_closed())
        self.sort_dialog = dialog
        dialog.open()
        return dialog

    def _sort_finished(self, out: str, mode: str) -> None:
        self.status.say(f"Sorted into {out}. File → Undo Last Sort puts everything back.")
        self._reopen_after_dialog = self._reopen_after_dialog or mode == "move"
        self._update_actions()

    def _sort_undone(self, out: str) -> None:
        self.status.say(f"The sort into {out} was undone.")
        self._update_actions()

    def _sort_dialog_closed(self) -> None:
        if self._reopen_after_dialog and self.session.paths:
            self.session.open(self.session.paths, exclude=self.session.exclude)  # files moved: look again
        self._reopen_after_dialog = False

    def undo_last_sort(self) -> None:
        out = self.settings.get("sort/last_output")
        if not out:
            return

        def done(summary) -> None:
            counts = summary.counts
            self.status.say(
                f"Undid the sort into {out}: {counts['restored']:,} moved back, {counts['removed']:,} copies deleted."
            )
            for problem in summary.problems:
                self.errors.add("Undo", f"{problem.status}: {problem.reason}", problem.source)
            if counts["restored"] and self.session.paths:
                self.session.open(self.session.paths, exclude=self.session.exclude)
            self._update_actions()

        undo_last_sort(self, out, done)

    def check_unfinished_sorts(self) -> list[str]:
        """Offer to resume or roll back any interrupted sort into a recent output folder."""

        def done(summary) -> None:
            self.status.say(f"Interrupted sort handled: {summary.describe()}")
            for problem in summary.problems:
                self.errors.add("Resume", f"{problem.status}: {problem.reason}", problem.source)

        return offer_unfinished(self, self.settings.get("sort/recent_outputs"), done)

    # -- help -------------------------------------------------------------------------------------

    def show_shortcuts(self) -> None:
        from app.ui.shortcuts_help import KeyboardShortcutsDialog

        self.shortcuts_dialog = KeyboardShortcutsDialog(self.menuBar(), self)
        self.shortcuts_dialog.open()

    def show_about(self) -> None:
        AboutDialog(self.session.manager, self).open()

    def open_log_folder(self) -> None:
        open_folder(str(log_file_path().parent), self)

    # -- errors -----------------------------------------------------------------------------------

    def report_error(self, title: str, error: BaseException | str, path: str = "") -> None:
        """Every failure ends here: a line in the problems panel and the status bar, never a crash."""
        if isinstance(error, BaseException):
            message = (
                str(error) if isinstance(error, TextureSorterError) else f"{type(error).__name__}: {error}"
            )
            if not isinstance(error, TextureSorterError):
                log.error("%s failed", title, exc_info=error)
        else:
            message = error
        self.errors.add(title, message, path)
        self.errors.show()
        self.status.say(f"{title}: {message}", 10)

    # -- drag and drop, closing --------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and all(u.isLocalFile() for u in urls):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    def save_state(self) -> None:
        s = self.settings
        s.set("window/geometry", QByteArray(self.saveGeometry()))
        s.set("window/state", QByteArray(self.saveState()))
        s.set("window/splitter", QByteArray(self.splitter.saveState()))
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        self.shutdown_background_work()
        super().closeEvent(event)

    def shutdown_background_work(self) -> None:
        """Cancel and wait for every worker; safe to call twice (close, then aboutToQuit)."""
        if self._shut_down:
            return
        self._shut_down = True
        if self.sort_dialog is not None and self.sort_dialog.is_running:
            self.sort_dialog.cancel()
        self.training_tab.shutdown()
        self.thumbnails.close()
        self.previews.close()
        self.session.close()
