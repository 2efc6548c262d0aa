"""Carrying out a sort plan, one journaled file at a time.

`iter_apply(plan)` is a generator of per-file outcomes (the GUI worker wraps it; cancelling
stops between files); `apply_plan(plan, progress=..., cancel=...)` runs it to the end and
returns a summary. A file that changed or vanished since the plan is skipped with the reason; a
file whose operation fails (permissions, full disk) is reported and the others go on.
Resuming a sort that was cut off is app.sorting.resume.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import threading
import time
from collections.abc import Iterable, Iterator

from ai.errors import SortError
from app.sorting.journal import (
    Journal,
    SortLock,
    create_sort_files,
    make_reserve,
    undo_reserve_bytes,
    unfinished_sorts,
)
from app.sorting.ops import Operator, OpFailed, describe
from app.sorting.outcomes import FileOutcome, OutcomeStream, ProgressCallback, SortSummary, run_to_summary
from app.sorting.plan import SortPlan

log = logging.getLogger(__name__)

_STATUS_OF_ACTION = {"move": "moved", "xmove": "moved", "copy": "copied"}
# A changed file keeps its size only by chance; the mtime says so too. Float seconds from the
# scan round-trip through JSON exactly, so only clock-resolution noise needs a tolerance.
_MTIME_TOLERANCE_S = 1e-3


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
                make_reserve(journal_path, undo_reserve_bytes(plan))  # an undo must work on a full disk
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
                yield from run_entries(journal, plan, sort_id, range(len(plan.entries)), 0, cancel)
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


def run_entries(
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
