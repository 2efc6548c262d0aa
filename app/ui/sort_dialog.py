"""The Sort dialog: choose where and how, see the plan, run it with progress, then open or undo it.

The plan comes from `app.sorting.build_plan` (computed off the UI thread whenever an option
changes); running it wraps `iter_apply` in a worker, batched so the UI gets a few signals per
second. Nothing here decides where a file goes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ai.errors import SortError
from app.results import FileResult
from app.sorting import (
    SortPlan,
    SortSummary,
    build_plan,
    fill_missing_hashes,
    iter_apply,
    iter_undo,
    lacks_hashes,
)
from app.sorting.plan import CLASH_PREFIX
from app.ui.desktop import open_folder
from app.ui.settings import Settings
from app.ui.sort_options import SortOptionsForm
from app.ui.worker import GeneratorWorker, Op, batched, start_worker

log = logging.getLogger(__name__)

SHOWN_ROWS = 2000


def plan_facts(plan: SortPlan) -> dict[str, int]:
    """Counts the preview shows: files, folders, name clashes, files left in place, duplicate groups."""
    clashes = sum(1 for e in plan.entries if f"{os.sep}{CLASH_PREFIX}" in e.dest)
    return {
        "files": len(plan.entries),
        "folders": len(plan.counts()),
        "clashes": clashes,
        "skipped": len(plan.skipped),
        "groups": len(plan.groups),
        "unsorted": sum(1 for e in plan.entries if e.role == "unsorted"),
        "duplicates": sum(1 for e in plan.entries if e.role == "duplicate"),
    }


class SortDialog(QDialog):
    """Plan → run → summary, for the results on screen."""

    sortFinished = Signal(str, str)  # output folder, mode
    undoFinished = Signal(str)  # output folder

    def __init__(
        self,
        results: list[FileResult],
        source_root: str,
        settings: Settings,
        parent: QWidget | None = None,
        default_output: str | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Sort Textures")
        self.setObjectName("sortDialog")
        self.results = results
        self.source_root = source_root
        self.settings = settings
        self.plan: SortPlan | None = None
        self.summary: SortSummary | None = None
        self._plan_generation = 0
        self._known_hashes: dict[str, tuple[str | None, int | None]] = {}  # path → filled hashes
        self._worker: GeneratorWorker | None = None
        self._cancel: threading.Event | None = None
        self._counts: Counter = Counter()

        self.pages = QStackedWidget(self)
        self.pages.addWidget(self._build_setup(default_output))
        self.pages.addWidget(self._build_running())
        self.pages.addWidget(self._build_summary())
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        self.resize(780, 640)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.refresh_plan)
        self.refresh_plan()

    # -- page 1: options and plan ----------------------------------------------------------------

    def _build_setup(self, default_output: str | None) -> QWidget:
        page = QWidget(self)
        self.form = SortOptionsForm(self.settings, self.source_root, default_output, page)
        self.form.changed.connect(self._options_changed)
        self.plan_summary = QLabel("Planning…", page)
        self.plan_summary.setWordWrap(True)
        self.folders_table = _table(page, ["Folder", "Files"])
        self.skipped_table = _table(page, ["File", "Why it stays where it is"])
        self.plan_tabs = QTabWidget(page)
        self.plan_tabs.addTab(self.folders_table, "Folders")
        self.plan_tabs.addTab(self.skipped_table, "Left in place")
        preview = QGroupBox("Plan", page)
        preview_layout = QVBoxLayout(preview)
        preview_layout.addWidget(self.plan_summary)
        preview_layout.addWidget(self.plan_tabs, 1)

        self.run_button = QPushButton("Sort", page)
        self.run_button.setDefault(True)
        self.run_button.setEnabled(False)
        self.run_button.clicked.connect(self.run_sort)
        close = QPushButton("Close", page)
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(close)
        buttons.addWidget(self.run_button)

        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.form)
        layout.addWidget(preview, 1)
        layout.addLayout(buttons)

        return page

    def _options_changed(self) -> None:
        self._plan_generation += 1  # a plan still being made is for the old options: drop it
        self.plan = None
        self.run_button.setEnabled(False)
        self.plan_summary.setText("Planning…")
        self._debounce.start()

    def refresh_plan(self) -> None:
        """Plan again with the current options (off the UI thread); the newest plan wins."""
        out = self.form.output_folder()
        self._plan_generation += 1
        generation = self._plan_generation
        if not out:
            self.plan = None
            self.plan_summary.setText("Choose an output folder.")
            return
        results, root, options = self.results, self.source_root, self.form.options()

        known_hashes = self._known_hashes
        unhashed = sum(
            1 for r in results if lacks_hashes(r, options["dedupe"]) and r.path not in known_hashes
        )
        if unhashed:
            self.plan_summary.setText(
                f"Planning… reading {unhashed:,} textures again to compare them for duplicates"
            )

        def make_plan() -> SortPlan:
            # Classified with pixel hashes only; near duplicates need perceptual ones (once per file).
            hashed = fill_missing_hashes(results, options["dedupe"], known_hashes)
            return build_plan(hashed, out, source_root=root, **options)

        def done(plan: SortPlan) -> None:
            if generation == self._plan_generation:
                self._show_plan(plan)

        def failed(exc: BaseException) -> None:
            if generation == self._plan_generation:
                self.plan = None
                self.plan_summary.setText(f"<b>Cannot sort this way:</b> {exc}")
                self.run_button.setEnabled(False)

        Op(self, make_plan).success(done).failure(failed).run()

    def _show_plan(self, plan: SortPlan) -> None:
        self.plan = plan
        facts = plan_facts(plan)
        verb = "move" if plan.mode == "move" else "copy"
        parts = [f"<b>{verb.capitalize()} {facts['files']:,} files</b> into {facts['folders']:,} folders"]
        if facts["unsorted"]:
            parts.append(f"{facts['unsorted']:,} below the confidence to {plan.unsorted_name}/")
        if facts["clashes"]:
            clashes = _plural(facts["clashes"], "name clash", "name clashes")
            parts.append(f"{clashes} (kept in {CLASH_PREFIX}N/ folders, never renamed)")
        if facts["groups"]:
            groups = _plural(facts["groups"], "duplicate group", "duplicate groups")
            parts.append(f"{groups} ({_plural(facts['duplicates'], 'file', 'files')} to _duplicates/)")
        if facts["skipped"]:
            parts.append(f"{facts['skipped']:,} left in place")
        self.plan_summary.setText(" · ".join(parts))
        counts = sorted(plan.counts().items(), key=lambda kv: (-kv[1], kv[0]))
        _fill(self.folders_table, [(folder + "/", f"{n:,}") for folder, n in counts])
        _fill(self.skipped_table, [(s.path, s.reason) for s in plan.skipped])
        self.plan_tabs.setTabText(1, f"Left in place ({facts['skipped']:,})")
        self.plan_tabs.setTabText(0, f"Folders ({facts['folders']:,})")
        self.run_button.setEnabled(bool(plan.entries))

    # -- page 2: running --------------------------------------------------------------------------

    def _build_running(self) -> QWidget:
        page = QWidget(self)
        self.running_title = QLabel(page)
        self.running_title.setObjectName("bigHint")
        self.progress = QProgressBar(page)
        self.progress_file = QLabel(page)
        self.progress_file.setObjectName("muted")
        self.progress_file.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel", page)
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(self.running_title)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_file)
        layout.addLayout(row)
        layout.addStretch(2)
        return page

    def run_sort(self) -> None:
        plan = self.plan
        if plan is None or not plan.entries:
            return
        self.form.remember(plan)
        self._start(
            lambda cancel: iter_apply(plan, cancel=cancel),
            f"{'Moving' if plan.mode == 'move' else 'Copying'} {len(plan.entries):,} files…",
            len(plan.entries),
            cancellable=True,
            on_done=self._sort_done,
        )

    def undo_sort(self) -> None:
        if self.plan is None:
            return
        out = self.plan.out_dir
        self._start(lambda cancel: iter_undo(out), "Undoing the sort…", 0, cancellable=False,
                    on_done=self._undo_done)  # fmt: skip

    def _start(self, make, title: str, total: int, *, cancellable: bool, on_done) -> None:
        self.pages.setCurrentIndex(1)
        self.running_title.setText(title)
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(0)
        self.progress_file.setText("")
        self.cancel_button.setVisible(cancellable)
        self.cancel_button.setEnabled(True)
        out = self.plan.out_dir
        summary = SortSummary(None, out)
        cancel = threading.Event()
        self._cancel = cancel
        outcomes_box: list = []
        started = time.perf_counter()

        def factory():
            outcomes = make(cancel)
            outcomes_box.append(outcomes)
            return batched(outcomes)

        def on_batch(batch) -> None:
            for outcome in batch:
                summary.add(outcome)
            last = batch[-1]
            if last.total:
                self.progress.setRange(0, last.total)
            self.progress.setValue(last.done)
            self.progress_file.setText(last.source)

        def finished(_value) -> None:
            summary.elapsed_s = time.perf_counter() - started
            summary.sort_id = getattr(outcomes_box[0], "sort_id", None) if outcomes_box else None
            summary.cancelled = cancel.is_set()
            on_done(summary)

        def failed(exc: BaseException) -> None:
            self.pages.setCurrentIndex(0)
            message = str(exc) if isinstance(exc, SortError) else f"{type(exc).__name__}: {exc}"
            self.plan_summary.setText(f"<b>The sort could not run:</b> {message}")
            parent = self.parent()
            if parent is not None and hasattr(parent, "report_error"):
                parent.report_error("Sort", exc)
            self.refresh_plan()

        self._worker = start_worker(factory, cancel=cancel, on_yield=on_batch, on_finish=finished,
                                    on_error=failed)  # fmt: skip

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self.progress_file.setText("Stopping after the current file…")

    @property
    def is_running(self) -> bool:
        return self._worker is not None and self._worker.running

    # -- page 3: summary --------------------------------------------------------------------------

    def _build_summary(self) -> QWidget:
        page = QWidget(self)
        self.summary_title = QLabel(page)
        self.summary_title.setObjectName("bigHint")
        self.summary_title.setWordWrap(True)
        self.summary_line = QLabel(page)
        self.summary_line.setWordWrap(True)
        self.problems_table = _table(page, ["File", "What happened"])
        self.open_button = QPushButton("Open Output Folder", page)
        self.open_button.clicked.connect(lambda: self.plan and open_folder(self.plan.out_dir, self))
        self.undo_button = QPushButton("Undo", page)
        self.undo_button.setToolTip("Put every file of this sort back (copies it made are deleted)")
        self.undo_button.clicked.connect(self.undo_sort)
        done = QPushButton("Close", page)
        done.setDefault(True)
        done.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.undo_button)
        buttons.addStretch(1)
        buttons.addWidget(done)
        layout = QVBoxLayout(page)
        layout.addWidget(self.summary_title)
        layout.addWidget(self.summary_line)
        layout.addWidget(self.problems_table, 1)
        layout.addLayout(buttons)
        return page

    def _sort_done(self, summary: SortSummary) -> None:
        self.summary = summary
        plan = self.plan
        counts = summary.counts
        done = counts["copied"] + counts["moved"]
        verb = "Moved" if plan.mode == "move" else "Copied"
        title = f"{verb} {done:,} files into {plan.out_dir}"
        if summary.cancelled:
            title += " (cancelled; Undo puts back what was done)"
        self.summary_title.setText(title)
        self._show_summary(summary)
        self.undo_button.setEnabled(done > 0)
        self.undo_button.setVisible(True)
        self.pages.setCurrentIndex(2)
        self.sortFinished.emit(plan.out_dir, plan.mode)

    def _undo_done(self, summary: SortSummary) -> None:
        counts = summary.counts
        self.summary_title.setText(
            f"Undone: {counts['restored']:,} files moved back, {counts['removed']:,} copies deleted"
        )
        self._show_summary(summary)
        self.undo_button.setVisible(False)
        self.pages.setCurrentIndex(2)
        self.undoFinished.emit(self.plan.out_dir)

    def _show_summary(self, summary: SortSummary) -> None:
        self.summary_line.setText(summary.describe())
        rows = [(p.source, f"{p.status}: {p.reason}") for p in summary.problems]
        _fill(self.problems_table, rows)
        self.problems_table.setVisible(bool(rows))

    def reject(self) -> None:
        if self.is_running:
            self.cancel()
            return  # the worker ends between files; the summary page follows
        super().reject()

    def closeEvent(self, event) -> None:
        if self.is_running:
            self.cancel()
            event.ignore()
            return
        super().closeEvent(event)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _table(parent: QWidget, headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers), parent)
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(24)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    if len(headers) > 1:
        header.setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.ResizeToContents)
    return table


def _fill(table: QTableWidget, rows: list[tuple[str, ...]]) -> None:
    shown = rows[:SHOWN_ROWS]
    table.setRowCount(len(shown) + (1 if len(rows) > SHOWN_ROWS else 0))
    for r, values in enumerate(shown):
        for c, value in enumerate(values):
            table.setItem(r, c, QTableWidgetItem(value))
    if len(rows) > SHOWN_ROWS:
        table.setItem(len(shown), 0, QTableWidgetItem(f"… and {len(rows) - SHOWN_ROWS:,} more"))
