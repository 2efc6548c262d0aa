"""Undo Last Sort, and the resume / roll back prompt for a sort that was cut off (checked at start-up).

Both drive journaled generators from `app.sorting` in a worker behind a progress dialog.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from ai.errors import SortError
from app.sorting import FileOutcome, SortSummary, iter_resume, iter_rollback, iter_undo, last_undoable_sort
from app.sorting import unfinished_sorts as find_unfinished
from app.ui.worker import GeneratorWorker, batched, start_worker

log = logging.getLogger(__name__)


def run_outcomes(
    parent: QWidget,
    title: str,
    make: Callable[[threading.Event], Iterator[FileOutcome]],
    out_dir: str,
    on_done: Callable[[SortSummary], None],
    *,
    cancellable: bool = False,
) -> GeneratorWorker:
    """Run an outcome generator (undo, resume, roll back) with a progress dialog; summary at the end."""
    dialog = QProgressDialog(title, "Cancel" if cancellable else "", 0, 0, parent)
    dialog.setWindowTitle("Texture Sorter")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(400)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    if not cancellable:
        dialog.setCancelButton(None)
    summary = SortSummary(None, out_dir)
    cancel = threading.Event()
    dialog.canceled.connect(cancel.set)

    def on_batch(batch: list[FileOutcome]) -> None:
        for outcome in batch:
            summary.add(outcome)
        last = batch[-1]
        dialog.setMaximum(max(last.total, 1))
        dialog.setValue(min(last.done, max(last.total, 1)))

    def finished(_value) -> None:
        dialog.close()
        summary.cancelled = cancel.is_set()
        on_done(summary)

    def failed(exc: BaseException) -> None:
        dialog.close()
        QMessageBox.warning(
            parent,
            "Texture Sorter",
            str(exc) if isinstance(exc, SortError) else f"{type(exc).__name__}: {exc}",
        )

    return start_worker(lambda: batched(make(cancel)), cancel=cancel, on_yield=on_batch, on_finish=finished,
                        on_error=failed)  # fmt: skip


def undo_last_sort(
    parent: QWidget, out_dir: str, on_done: Callable[[SortSummary], None]
) -> GeneratorWorker | None:
    """Ask, then undo the newest sort into `out_dir`."""
    try:
        state = last_undoable_sort(out_dir) if os.path.isdir(out_dir) else None
    except SortError as exc:
        QMessageBox.warning(parent, "Undo Last Sort", str(exc))
        return None
    if state is None:
        QMessageBox.information(parent, "Undo Last Sort", f"There is no sort to undo in {out_dir}.")
        return None
    total = (state.begin or {}).get("total", 0)
    mode = (state.begin or {}).get("mode", "copy")
    what = "move the files back" if mode == "move" else "delete the copies it made"
    answer = QMessageBox.question(
        parent,
        "Undo Last Sort",
        f"Undo the last sort into {out_dir} ({total:,} files)?\n\nThis will {what}. Files you changed since are kept.",
    )
    if answer != QMessageBox.StandardButton.Yes:
        return None
    return run_outcomes(parent, "Undoing the last sort…", lambda _c: iter_undo(out_dir), out_dir, on_done)


def offer_unfinished(
    parent: QWidget, folders: list[str], on_done: Callable[[SortSummary], None]
) -> list[str]:
    """For each folder with an interrupted sort, ask: resume, roll back, or later. Returns those found."""
    found = []
    for out in folders:
        if not os.path.isdir(out):
            continue
        try:
            pending = find_unfinished(out)
        except SortError as exc:
            log.warning("cannot check %s for interrupted sorts: %s", out, exc)
            continue
        if not pending:
            continue
        found.append(out)
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Interrupted sort")
        box.setText(f"A sort into {out} did not finish.")
        box.setInformativeText(
            "Resume finishes it where it stopped; Roll Back puts every file it handled back where it was. "
            "No file is lost either way."
        )
        resume = box.addButton("Resume", QMessageBox.ButtonRole.AcceptRole)
        rollback = box.addButton("Roll Back", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(resume)
        box.exec()
        clicked = box.clickedButton()
        if clicked is resume:
            run_outcomes(parent, "Resuming the sort…", lambda c, o=out: iter_resume(o, cancel=c), out, on_done,
                         cancellable=True)  # fmt: skip
            break  # one progress dialog at a time; the next start-up asks about any other folder
        if clicked is rollback:
            run_outcomes(parent, "Rolling back the sort…", lambda _c, o=out: iter_rollback(o), out, on_done)
            break
    return found
