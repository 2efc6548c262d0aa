"""Undo of the last sort, and roll back of an interrupted one; both journaled like the sort itself.

Undo walks the sort's completed operations newest first: a moved file goes back to its original
path (never over a file that is there now), a copy this sort made is deleted only while it
still holds the exact bytes written (a copy the user edited since is kept and reported), and
the folders the sort created are removed when empty. An undo cut off by a crash is finished by
`texture-sorter resume`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

from ai.errors import SortError
from app.sorting.apply import tmp_tag
from app.sorting.journal import (
    Journal,
    SortLock,
    SortState,
    last_undoable_sort,
    read_journal,
    unfinished_sorts,
)
from app.sorting.ops import Operator, OpFailed, describe
from app.sorting.outcomes import FileOutcome, OutcomeStream, ProgressCallback, SortSummary, run_to_summary

log = logging.getLogger(__name__)


def iter_undo(out_dir: str) -> OutcomeStream:
    """Undo the newest finished sort in OUT that is not undone yet; yields one outcome per file."""

    def body(handle: OutcomeStream) -> Iterator[FileOutcome]:
        out = os.path.realpath(out_dir)
        with SortLock(out):
            if unfinished_sorts(out):
                raise SortError(
                    f"{out}: a sort was interrupted; run `texture-sorter resume {out}` (or with --rollback) first"
                )
            state = last_undoable_sort(out)
            if state is None:
                raise SortError(f"{out}: no sort to undo here")
            handle.sort_id = state.sort_id
            journal = Journal(state.journal_path, use_reserve=True)
            try:
                journal.append({"t": "undo-begin", "kind": "undo", "time": time.time()}, sync=True)
                yield from undo_steps(journal, read_journal(state.journal_path))
            finally:
                journal.close()

    return OutcomeStream(body)


def undo_last_sort(out_dir: str, *, progress: ProgressCallback | None = None) -> SortSummary:
    return run_to_summary(iter_undo(out_dir), out_dir, progress=progress)


def iter_rollback(out_dir: str) -> OutcomeStream:
    """Roll back every interrupted sort in OUT: revert the operation cut off, then undo the rest.

    An interrupted undo is simply finished (rolling back an undo would redo the sort).
    """

    def body(handle: OutcomeStream) -> Iterator[FileOutcome]:
        out = os.path.realpath(out_dir)
        with SortLock(out):
            for state in unfinished_sorts(out):
                handle.sort_id = state.sort_id
                journal = Journal(state.journal_path, use_reserve=True)
                try:
                    if state.undo_begin is None:
                        operator = Operator(journal, "s", tmp_tag(state.sort_id), record_mkdirs=True)
                        for i, op in state.in_flight("s"):
                            operator.settle(i, op, forward=False)
                        journal.append({"t": "end", "status": "interrupted", "time": time.time()}, sync=True)
                        journal.append(
                            {"t": "undo-begin", "kind": "rollback", "time": time.time()}, sync=True
                        )
                        log.info("rolling back interrupted sort %s", state.sort_id)
                    yield from undo_steps(journal, read_journal(state.journal_path))
                finally:
                    journal.close()

    return OutcomeStream(body)


def rollback_sort(out_dir: str, *, progress: ProgressCallback | None = None) -> SortSummary:
    return run_to_summary(iter_rollback(out_dir), out_dir, progress=progress)


def undo_steps(journal: Journal, state: SortState) -> Iterator[FileOutcome]:
    """Reverse the completed operations of `state` not reversed yet; then clean up and end.

    Not cancellable half-way on purpose: a half-undone sort is the one state users cannot reason about.
    """
    operator = Operator(journal, "u", tmp_tag(state.sort_id), record_mkdirs=False)
    for i, op in state.in_flight("u"):
        operator.settle(i, op, forward=True)
    state = read_journal(state.journal_path)
    todo = sorted(
        ((i, op.record) for (ph, i), op in state.ops.items() if ph == "s" and op.outcome == "done"),
        key=lambda item: item[0],
        reverse=True,
    )
    total = len(todo)
    done = 0
    for i, record in todo:
        done += 1
        # "abandon": the step was cut off before it changed anything (settled above), so it is
        # still to do; skipping it would leave that file in OUT with its undo recorded as ended.
        if state.outcome("u", i) not in (None, "abandon"):
            continue
        outcome = _undo_one(operator, i, record)
        yield FileOutcome(
            outcome.index, outcome.source, outcome.dest, outcome.status, outcome.reason, done, total
        )
    _remove_created_folders(state.mkdirs)
    journal.append({"t": "undo-end", "time": time.time()}, sync=True)
    journal.drop_reserve()
    log.info("undo of sort %s finished", state.sort_id)


def _undo_one(operator: Operator, i: int, record: dict) -> FileOutcome:
    action, original, placed = record["a"], record["src"], record["dst"]

    def keep(reason: str, kind: str = "keep", status: str = "kept") -> FileOutcome:
        operator.record(kind, i, reason=reason)
        log.warning("undo: %s: %s", placed, reason)
        return FileOutcome(i, placed, placed, status, reason)

    if action == "copy":
        try:
            why = operator.delete_copy(i, placed, record["hash"], record["size"])
        except OSError as exc:
            return keep(f"cannot delete the copy: {describe(exc)}", "error", "error")
        if why is not None:
            return keep(why)
        operator.record("done", i, a="delete", src=placed, dst=placed)
        return FileOutcome(i, placed, None, "removed")
    try:
        st = os.lstat(placed)
    except FileNotFoundError:
        return keep(f"not found any more, so it cannot go back to {original}")
    except OSError as exc:
        return keep(describe(exc), "error", "error")
    if os.path.lexists(original):
        return keep(f"{original} is taken by another file now; left at {placed}")
    try:
        back = operator.transfer(i, placed, original, st, keep_source=False, retarget=False)
    except OpFailed as exc:
        return keep(exc.reason, "error", "error")
    except OSError as exc:
        return keep(describe(exc), "error", "error")
    operator.record("done", i, a=back.action, src=placed, dst=back.dst, hash=back.hash, size=back.size)
    return FileOutcome(i, placed, back.dst, "restored")


def _remove_created_folders(folders: list[str]) -> None:
    # Deepest first; a folder that is not empty holds something that is not ours, so it stays.
    for folder in sorted(set(folders), key=len, reverse=True):
        try:
            os.rmdir(folder)
        except FileNotFoundError:
            continue
        except OSError:
            log.debug("kept folder %s (not empty or not removable)", folder)
