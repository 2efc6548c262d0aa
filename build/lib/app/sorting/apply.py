"""Carrying out a sort plan, and resuming one that was cut off, one journaled file at a time.

`iter_apply(plan)` is a generator of per-file outcomes (the GUI worker wraps it; cancelling
stops between files); `apply_plan(plan, progress=..., cancel=...)` runs it to the end and
returns a summary. A file that changed or vanished since the plan is skipped with the reason; a
file whose operation fails (permissions, full disk) is reported and the others go on.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ai.errors import SortError
from app.sorting.journal import (
    Journal,
    SortLock,
    SortState,
    create_sort_files,
    read_journal,
    unfinished_sorts,
)
from app.sorting.ops import Operator, OpFailed, describe
from app.sorting.plan import SortPlan

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]
_STATUS_OF_ACTION = {"move": "moved", "xmove": "moved", "copy": "copied"}
# A changed file keeps its size only by chance; the mtime says so too. Float seconds from the
# scan round-trip through JSON exactly, so only clock-resolution noise needs a tolerance.
_MTIME_TOLERANCE_S = 1e-3


@dataclass(frozen=True)
class FileOutcome:
    index: int
    source: str
    dest: str | None
    status: str  # sort: moved|copied|skipped|error; undo: restored|removed|kept|error
    reason: str | None = None
    done: int = 0
    total: int = 0


@dataclass
class SortSummary:
    sort_id: str | None
    out_dir: str
    counts: Counter = field(default_factory=Counter)
    problems: list[FileOutcome] = field(default_factory=list)
    elapsed_s: float = 0.0
    cancelled: bool = False

    def add(self, outcome: FileOutcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.status in ("skipped", "error", "kept"):
            self.problems.append(outcome)


def run_to_summary(
    outcomes: Iterator[FileOutcome],
    out_dir: str,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> SortSummary:
    """Drive an outcome generator to the end, reporting progress; the summary of what happened."""
    started = time.perf_counter()
    summary = SortSummary(None, out_dir)
    for outcome in outcomes:
        summary.add(outcome)
        if progress is not None:
            progress(outcome.done, outcome.total, outcome.source)
    summary.elapsed_s = time.perf_counter() - started
    summary.cancelled = bool(cancel is not None and cancel.is_set())
    summary.sort_id = getattr(outcomes, "sort_id", None)
    return summary


class OutcomeStream:
    """A generator of FileOutcomes that also tells which sort it belongs to (once it started)."""

    def __init__(self, body: Callable[[OutcomeStream], Iterator[FileOutcome]]):
        self.sort_id: str | None = None
        self._gen = body(self)

    def __iter__(self):
        return self

    def __next__(self) -> FileOutcome:
        return next(self._gen)

    def close(self) -> None:
        self._gen.close()

    def throw(self, exc: BaseException) -> FileOutcome:
        """Raise `exc` where the work stopped, as a generator does (what a crash looks like)."""
        return self._gen.throw(exc)


def iter_apply(plan: SortPlan, *, cancel: threading.Event | None = None) -> OutcomeStream:
    """Apply `plan`, yielding one FileOutcome per file; SortError if OUT has an unfinished sort."""

    def body(handle: OutcomeStream) -> Iterator[FileOutcome]:
        out = plan.out_dir
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as exc:
            raise SortError(f"{out}: cannot create the output folder: {describe(exc)}") from exc
        with SortLock(out):
            pending = unfinished_sorts(out)
            if pending:
                raise SortError(
                    f"{out}: the sort {pending[-1].sort_id} was interrupted; run `texture-sorter resume "
                    f"{out}` to finish it or `texture-sorter resume --rollback {out}` to undo it first"
                )
            try:
                sort_id, plan_path, journal_path = create_sort_files(plan)
                journal = Journal(journal_path)
            except OSError as exc:
                raise SortError(f"{out}: cannot write the sort journal: {describe(exc)}") from exc
            handle.sort_id = sort_id
            try:
                journal.append(
                    {
                        "t": "begin",
                        "v": 1,
                        "id": sort_id,
                        "mode": plan.mode,
                        "out": out,
                        "root": plan.source_root,
                        "total": len(plan.entries),
                        "time": time.time(),
                    },
                    sync=True,
                )
                log.info("sort %s: %d files, %s, into %s", sort_id, len(plan.entries), plan.mode, out)
                yield from _run_entries(journal, plan, sort_id, range(len(plan.entries)), 0, cancel)
            finally:
                journal.close()

    return OutcomeStream(body)


def apply_plan(
    plan: SortPlan,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> SortSummary:
    """Apply `plan` to the end (or until `cancel` is set); progress(done, total, path) per file."""
    return run_to_summary(iter_apply(plan, cancel=cancel), plan.out_dir, progress=progress, cancel=cancel)


def _run_entries(
    journal: Journal,
    plan: SortPlan,
    sort_id: str,
    indices: Iterable[int],
    done: int,
    cancel: threading.Event | None,
) -> Iterator[FileOutcome]:
    """Sort the given plan entries; the end record is written unless something unexpected broke.

    An unexpected exception (a bug, or a journal that cannot be written) leaves the sort without
    an end record, i.e. unfinished: the next start offers to resume or roll it back.
    """
    operator = Operator(journal, "s", tmp_tag(sort_id), record_mkdirs=True)
    total = len(plan.entries)
    status = "complete"
    try:
        for i in indices:
            if cancel is not None and cancel.is_set():
                status = "cancelled"
                break
            outcome = _sort_one(operator, plan, i)
            done += 1
            yield dataclasses.replace(outcome, done=done, total=total)
    except GeneratorExit:
        status = "cancelled"
        journal.append({"t": "end", "status": status, "time": time.time()}, sync=True)
        raise
    journal.append({"t": "end", "status": status, "time": time.time()}, sync=True)
    log.info("sort %s %s", sort_id, status)


def tmp_tag(sort_id: str) -> str:
    return sort_id.rsplit("-", 1)[-1]


def _sort_one(operator: Operator, plan: SortPlan, i: int) -> FileOutcome:
    entry = plan.entries[i]
    src = entry.source

    def finish(kind: str, status: str, reason: str) -> FileOutcome:
        operator.record(kind, i, reason=reason)
        log.warning("%s: %s", src, reason)
        return FileOutcome(i, src, None, status, reason)

    try:
        st = os.lstat(src)
    except FileNotFoundError:
        return finish("skip", "skipped", "vanished since the plan was made")
    except OSError as exc:
        return finish("error", "error", describe(exc))
    if not stat.S_ISREG(st.st_mode):
        return finish("skip", "skipped", "no longer a regular file")
    if st.st_size != entry.size or (entry.mtime and abs(st.st_mtime - entry.mtime) > _MTIME_TOLERANCE_S):
        return finish("skip", "skipped", "changed since the plan was made")
    try:
        placed = operator.transfer(i, src, entry.dest, st, keep_source=plan.mode == "copy", retarget=True)
    except OpFailed as exc:
        return finish("error", "error", exc.reason)
    except OSError as exc:
        return finish("error", "error", describe(exc))
    operator.record("done", i, a=placed.action, src=src, dst=placed.dst, hash=placed.hash, size=placed.size)
    return FileOutcome(i, src, placed.dst, _STATUS_OF_ACTION[placed.action])


def iter_resume(out_dir: str, *, cancel: threading.Event | None = None) -> OutcomeStream:
    """Finish every interrupted sort (or undo) in OUT: repair the operation that was cut off, then
    carry on with the files not yet done. Yields the outcomes of this run."""
    from app.sorting.undo import undo_steps  # undo imports this module's types

    def body(handle: OutcomeStream) -> Iterator[FileOutcome]:
        out = os.path.realpath(out_dir)
        with SortLock(out):
            for state in unfinished_sorts(out):
                handle.sort_id = state.sort_id
                journal = Journal(state.journal_path)
                try:
                    if state.undo_begin is not None:
                        log.info("finishing the interrupted undo of sort %s", state.sort_id)
                        yield from undo_steps(journal, state)
                    else:
                        yield from _resume_sort(journal, state, cancel)
                finally:
                    journal.close()

    return OutcomeStream(body)


def resume_sort(
    out_dir: str, *, progress: ProgressCallback | None = None, cancel: threading.Event | None = None
) -> SortSummary:
    return run_to_summary(iter_resume(out_dir, cancel=cancel), out_dir, progress=progress, cancel=cancel)


def _resume_sort(journal: Journal, state: SortState, cancel) -> Iterator[FileOutcome]:
    plan = state.load_plan()
    operator = Operator(journal, "s", tmp_tag(state.sort_id), record_mkdirs=True)
    total = len(plan.entries)
    for i, op in state.in_flight("s"):
        result = operator.settle(i, op, forward=True)
        log.info("sort %s: interrupted operation on %s: %s", state.sort_id, op.intent["src"], result)
    state = read_journal(state.journal_path)
    finished = {
        i for (ph, i), op in state.ops.items() if ph == "s" and op.outcome in ("done", "skip", "error")
    }
    remaining = [i for i in range(total) if i not in finished]
    log.info("resuming sort %s: %d of %d files left", state.sort_id, len(remaining), total)
    yield from _run_entries(journal, plan, state.sort_id, remaining, len(finished), cancel)
