"""Resuming a sort or an undo that was cut off (a crash, a kill, a full disk).

The operation in flight is settled from the journal (finished or reversed), then the files not
yet done carry on. Rolling a sort back instead is app.sorting.undo.iter_rollback.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator

from app.sorting.apply import run_entries, tmp_tag
from app.sorting.journal import Journal, SortLock, SortState, read_journal, unfinished_sorts
from app.sorting.ops import Operator
from app.sorting.outcomes import FileOutcome, OutcomeStream, ProgressCallback, SortSummary, run_to_summary
from app.sorting.undo import undo_steps

log = logging.getLogger(__name__)


def iter_resume(out_dir: str, *, cancel: threading.Event | None = None) -> OutcomeStream:
    """Finish every interrupted sort (or undo) in OUT: repair the operation that was cut off, then
    carry on with the files not yet done. Yields the outcomes of this run."""

    def body(handle: OutcomeStream) -> Iterator[FileOutcome]:
        out = os.path.realpath(out_dir)
        with SortLock(out):
            for state in unfinished_sorts(out):
                handle.sort_id = state.sort_id
                journal = Journal(state.journal_path, use_reserve=state.undo_begin is not None)
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
    yield from run_entries(journal, plan, state.sort_id, remaining, len(finished), cancel)
