"""What sorting, resuming and undoing yield: per-file outcomes, their stream and its summary."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

ProgressCallback = Callable[[int, int, str], None]


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

    def describe(self) -> str:
        """One line of what a sort, undo or resume did: counts per outcome, errors, time, cancelled."""
        order = ("copied", "moved", "restored", "removed", "skipped", "kept")
        counts = self.counts
        parts = [f"{counts[k]:,} {k}" for k in order if counts[k]]
        parts += [f"{n:,} {k}" for k, n in sorted(counts.items()) if k not in (*order, "error") and n]
        parts.append(f"{counts['error']:,} error{'' if counts['error'] == 1 else 's'}")
        text = ", ".join(parts)
        if self.elapsed_s:
            text += f" in {self.elapsed_s:.1f} s"
        return text + (" (cancelled)" if self.cancelled else "")


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
