"""The open folder: runs the classification pipeline in a worker and records the user's corrections.

`ClassificationSession` is the GUI's workflow object (Qt signals, no widgets): it owns the model
manager, one prediction cache for the whole session (re-opening a folder is instant), the results
model, the corrections undo stack, and a one-thread "writer" pool, so corrections reach the
SQLite store and the learner in the order they were made and re-ranking never runs on the UI thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal

from ai.model_manager import ModelManager
from ai.prediction_cache import PredictionCache
from app.context import create_manager, online_enabled
from app.pipeline import Progress, classify_files, rerank
from app.results import FileResult
from app.scan import scan_textures
from app.ui.corrections import CorrectionGroup, CorrectionHistory
from app.ui.results_model import ResultsModel
from app.ui.results_roles import FILTER_ERRORS, FILTER_UNCERTAIN, PENDING, placeholder
from app.ui.worker import GeneratorWorker, Op, start_worker

log = logging.getLogger(__name__)

TOP_K = 5


def classify_job(
    paths: Sequence[str],
    manager: ModelManager,
    cache: PredictionCache | None,
    cancel: threading.Event,
    *,
    exclude: Iterable[str] = (),
    batch_size: int = 32,
    threads: int | None = None,
) -> Iterator[tuple]:
    """Scan, then classify: yields ("scanned", rows) once, then ("batch", results, Progress) per batch.

    Every file appears as a placeholder row right after the scan, so the user sees the whole
    folder (and its thumbnails) at once while the predictions stream in.
    """
    files, problems = scan_textures(paths, exclude=exclude)
    rows = [placeholder(f.path, f.size, f.mtime) for f in files]
    rows += [FileResult(path=p, size=0, mtime=0.0, predictions=[], error=reason) for p, reason in problems]
    yield ("scanned", rows)
    latest: list[Progress | None] = [None]

    def progress(p: Progress) -> None:
        latest[0] = p

    for batch in classify_files(
        files,
        manager,
        top_k=TOP_K,
        batch_size=batch_size,
        threads=threads,
        cancel=cancel,
        progress=progress,
        cache=cache,
    ):
        yield ("batch", batch, latest[0])


@dataclass
class RunSummary:
    files: int
    errors: int
    seconds: float
    cancelled: bool


class ClassificationSession(QObject):
    """Classifies the open folder and applies corrections; every slow step runs off the UI thread."""

    started = Signal(list)  # paths
    scanned = Signal(int)  # files found
    progress = Signal(object)  # Progress
    finished = Signal(object)  # RunSummary
    failed = Signal(str)
    errorsFound = Signal(list)  # [(path, reason)]
    managerChanged = Signal()
    # Rows the learner changed, why ("answer", "undo" or "redo"), and the uncertain count (before, after).
    reranked = Signal(int, str, object)
    historyChanged = Signal()  # what undo and redo can do changed

    def __init__(
        self,
        model: ResultsModel,
        *,
        manager: ModelManager | None = None,
        model_path: str | None = None,
        cache: PredictionCache | None = None,
        batch_size: int = 32,
        threads: int | None = None,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.model = model
        self.model_path = model_path  # a fixed model (tests, --model); None = the active one
        self.batch_size = batch_size
        self.threads = threads or None
        # At start-up the manager is built without the online classifier: its API key comes from
        # the keyring, whose backend can take seconds to load; a reload adds it off the UI thread.
        self.manager = manager or self._create_manager(online=False)
        self.cache = cache if cache is not None else _open_cache()
        self.paths: list[str] = []
        self.exclude: list[str] = []
        self._generation = 0
        self._closed = False  # after close() no new work starts (events queued before quit may still arrive)
        self._worker: GeneratorWorker | None = None
        self._started_at = 0.0
        self.history = CorrectionHistory()
        self._seq = 0
        self._writer = QThreadPool(self)
        self._writer.setMaxThreadCount(1)  # one writer: corrections land in the order they were made
        self._last_progress: Progress | None = None

    # -- the manager ------------------------------------------------------------------------------

    def _create_manager(self, online: bool = True) -> ModelManager:
        # always_learn: the learner is there from the first click, even with no corrections yet.
        return create_manager(self.model_path, always_learn=True, online=online)

    def attach_online(self) -> Op | None:
        """Add the online classifier, when the user enabled it, by a reload off the UI thread."""
        if not online_enabled():
            return None
        return self.reload_manager()

    def reload_manager(self, reclassify: bool = True) -> Op:
        """Build the manager again (another active model, new online settings) off the UI thread."""
        self.cancel()

        def done(manager: ModelManager) -> None:
            old = self.manager
            self.manager = manager
            self._clear_history()  # re-opening the folder brings the stored answers back
            self.managerChanged.emit()
            if reclassify and self.paths:
                self.open(self.paths)
            if old.learner is not None and old.learner is not manager.learner:
                # Close the old store only after queued corrections that may still use it.
                self._writer.start(old.learner.store.close)

        op = Op(self, self._create_manager).success(done).titled("Loading the model")
        op.run()
        return op

    # -- classification ---------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._worker is not None and self._worker.running

    def open(self, paths: Sequence[str], exclude: Iterable[str] = ()) -> None:
        """Classify `paths` (folders or files), replacing what is shown."""
        if self._closed:
            return
        self.cancel()
        self._generation += 1
        generation = self._generation
        self.paths = [os.path.abspath(p) for p in paths]
        self.exclude = [os.path.abspath(p) for p in exclude]
        self._clear_history()
        self.model.clear()
        self._started_at = time.perf_counter()
        self._last_progress = None
        cancel = threading.Event()
        manager, cache = self.manager, self.cache
        paths_now, exclude_now = list(self.paths), list(self.exclude)
        batch_size, threads = self.batch_size, self.threads

        def factory():
            return classify_job(
                paths_now, manager, cache, cancel, exclude=exclude_now, batch_size=batch_size, threads=threads
            )

        self._worker = start_worker(
            factory,
            cancel=cancel,
            on_yield=lambda item: self._on_item(generation, item),
            on_finish=lambda _: self._on_finished(generation),
            on_error=lambda exc: self._on_error(generation, exc),
        )
        self.started.emit(list(self.paths))

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.quit()

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until background work is finished (tests, closing the window)."""
        self.cancel()
        ok = QThreadPool.globalInstance().waitForDone(timeout_ms)
        return self._writer.waitForDone(timeout_ms) and ok

    def _on_item(self, generation: int, item: tuple) -> None:
        if generation != self._generation:
            return  # a superseded run: the user opened something else
        kind = item[0]
        if kind == "scanned":
            rows = item[1]
            self.model.set_results(rows)
            self.scanned.emit(len(rows))
            problems = [(r.path, r.error) for r in rows if r.error]
            if problems:
                self.errorsFound.emit(problems)
            return
        batch, progress = item[1], item[2]
        self.model.update_results(batch)
        self._show_stored_answers(batch)
        problems = [(r.path, r.error) for r in batch if r.error]
        if problems:
            self.errorsFound.emit(problems)
        if progress is not None:
            self._last_progress = progress
            self.progress.emit(progress)

    def _on_finished(self, generation: int) -> None:
        if generation != self._generation:
            return
        worker = self._worker
        cancelled = bool(worker is not None and worker.is_cancelled)
        if self.model.sort_key in ("category", "confidence"):
            self.model.sort_by(self.model.sort_key, self.model.sort_descending)
        counts = self.model.counts()
        summary = RunSummary(
            files=self.model.rowCount(),
            errors=counts[FILTER_ERRORS],
            seconds=time.perf_counter() - self._started_at,
            cancelled=cancelled,
        )
        self.finished.emit(summary)

    def _on_error(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        log.error("classification failed", exc_info=exc)
        self.failed.emit(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))

    # -- corrections ------------------------------------------------------------------------------

    def correct(self, paths: Iterable[str], category: str) -> int:
        """The user says these files are `category`."""
        return self.answer({p: category for p in paths})

    def accept(self, paths: Iterable[str]) -> int:
        """The user confirms the shown category of these files (a confirmation teaches too)."""
        answers = {}
        for path in paths:
            row = self.model.row_of(path)
            if row is None:
                continue
            category = self.model.category(self.model.result(row))
            if category:
                answers[path] = category
        return self.answer(answers)

    def answer(self, answers: dict[str, str], *, redoing: bool = False) -> int:
        """Record answers: the rows change now; the store, the learner and re-ranking follow off-thread."""
        learner = self.manager.learner
        usable: dict[str, str] = {}
        for path, category in answers.items():
            row = self.model.row_of(path)
            if row is None:
                continue
            result = self.model.result(row)
            if result.error or result.source == PENDING:
                continue
            usable[path] = category
        if not usable or learner is None:
            return 0
        previous: dict[str, str | None] = {}
        by_category: dict[str, list[str]] = {}
        for path, category in usable.items():
            by_category.setdefault(category, []).append(path)
        for category, paths in by_category.items():
            previous.update(self.model.set_corrected(paths, category))
        group = CorrectionGroup(usable, previous)
        self.history.record(group, redoing=redoing)
        self.historyChanged.emit()
        records = [(self.model.result(self.model.row_of(p)), c) for p, c in usable.items()]
        reason = "redo" if redoing else "answer"
        self._write(self._record_job, group, records, reason, "Saving the correction")
        return len(usable)

    def can_undo(self) -> bool:
        return self.history.can_undo()

    def can_redo(self) -> bool:
        return self.history.can_redo()

    def undo_correction(self) -> bool:
        """Take back the last correction action (all files it changed); after a restart, the newest stored one."""
        group = self.history.take_undo()
        if group is None:
            return False
        self.model.restore_corrected(group.previous)
        self.historyChanged.emit()
        self._write(self._undo_job, group, None, "undo", "Undoing the correction")
        return True

    def redo_correction(self) -> bool:
        """Give again the answers the last undo took back."""
        group = self.history.take_redo()
        if group is None:
            return False
        return self.answer(group.answers, redoing=True) > 0

    def _clear_history(self) -> None:
        self.history.clear()
        self.historyChanged.emit()

    def _show_stored_answers(self, results: list[FileResult]) -> None:
        """Mark the files the user answered for, in any earlier session and with any model, as corrected."""
        learner = self.manager.learner
        if learner is None:
            return
        found = learner.answers_for((r.path, r.pixel_hash) for r in results if r.pixel_hash and not r.error)
        found = {p: a for p, a in found.items() if self.model.answer_for(p) is None}
        if not found:
            return
        by_category: dict[str, list[str]] = {}
        for path, (category, _record_id) in found.items():
            by_category.setdefault(category, []).append(path)
        for category, paths in by_category.items():
            self.model.set_corrected(paths, category)
        self.history.note_stored(found)
        self.historyChanged.emit()

    def _write(self, job, group: CorrectionGroup, records, reason: str, title: str) -> None:
        """Run a store job on the writer thread; its result comes back to `_written`."""
        self._seq += 1
        seq, manager = self._seq, self.manager
        Op(self, job, manager, group, records, seq, self.model.results()).success(
            lambda result: self._written(result, group, seq, manager, reason)
        ).titled(title).run(self._writer)

    def _record_job(self, manager, group, records, seq, snapshot):  # writer thread
        learner = manager.learner
        model_id, categories = manager.model_id, manager.categories
        for result, category in records:
            embedding = None if result.embedding is None else np.asarray(result.embedding, np.float32)
            raw = result.model_probabilities  # the model's own guess, for `models stats` (app.analytics)
            known = raw is not None and len(raw) == len(categories)
            record = learner.record_correction(
                result.path,
                category,
                result.predictions,
                embedding=embedding,
                texture_hash=result.pixel_hash,
                model_id=model_id,
                metadata={"model_guess": categories[int(np.argmax(raw))]} if known else None,
            )
            group.record_ids.append(record.id)
        return self._rerank_if_latest(manager, seq, snapshot), None

    def _undo_job(self, manager, group, _records, seq, snapshot):  # writer thread
        for record_id in reversed(group.record_ids):
            manager.learner.remove_correction(record_id)
        # What the store holds for these files now: an older answer comes back when a newer one goes.
        hashes = {r.path: r.pixel_hash for r in snapshot if r.path in group.answers}
        truth = manager.learner.answers_for(hashes.items())
        return self._rerank_if_latest(manager, seq, snapshot), truth

    def _rerank_if_latest(self, manager, seq, snapshot):  # writer thread
        if seq != self._seq or manager is not self.manager:
            return None  # a newer correction is queued; its re-rank covers this one
        fresh = rerank(snapshot, manager, TOP_K)
        return [(old, new) for old, new in zip(snapshot, fresh, strict=True) if _differs(old, new)]

    def _written(self, result, group: CorrectionGroup, seq: int, manager, reason: str) -> None:
        pairs, truth = result
        if manager is not self.manager:
            return  # another model is loaded: its classification shows the stored answers afresh
        if truth is not None:  # after an undo: show what the store now says about those files
            # (only where the user has not answered again since: that answer is newer still)
            untouched = [p for p in group.answers if self.model.answer_for(p) == group.previous.get(p)]
            self.history.forget_stored(untouched)
            for path in untouched:
                answer = truth.get(path)
                if answer is not None:
                    self.model.set_corrected([path], answer[0])
                    self.history.note_stored({path: answer})
            self.historyChanged.emit()
        if pairs is not None and seq == self._seq:
            before = self.model.counts()[FILTER_UNCERTAIN]
            changed = self.model.replace_if_unchanged(pairs)
            self.reranked.emit(changed, reason, (before, self.model.counts()[FILTER_UNCERTAIN]))

    def close(self) -> None:
        self._closed = True
        self.wait()
        if self.cache is not None:
            self.cache.close()
        learner = self.manager.learner
        if learner is not None:
            learner.store.close()


def _differs(old: FileResult, new: FileResult) -> bool:
    if len(old.predictions) != len(new.predictions):
        return True
    for a, b in zip(old.predictions, new.predictions, strict=True):
        if a.category != b.category or abs(a.confidence - b.confidence) > 1e-4:
            return True
    return False


def _open_cache() -> PredictionCache | None:
    try:
        return PredictionCache()
    except Exception as exc:  # the cache only saves time; the program works without it
        log.warning("prediction cache unavailable: %s", exc)
        return None
