"""A journal record torn by a kill must not swallow the record written after it.

SIGKILL can cut a write() short where the record crosses a page of the journal file (seen on
tmpfs in tests/app/test_sort_faults.py): half a line is left without its newline. Resume and roll
back then append their own records; the first of them must stay a line of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.sorting import apply_plan, resume_sort
from app.sorting.journal import read_journal, unfinished_sorts
from app.sorting.plan import STATE_DIR_NAME, build_plan
from app.sorting.undo import rollback_sort, undo_last_sort
from tests.app.test_sort_apply import _results, _setup, _snapshot


def _killed_with_torn_done_record(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes], Path]:
    """A move sort of four files whose last move happened but whose "done" record is half written."""
    src, out, paths = _setup(tmp_path)
    before = _snapshot(src)
    apply_plan(build_plan(_results(paths), out, source_root=src, mode="move"))
    journal = next((out / STATE_DIR_NAME).glob("*.journal.jsonl"))
    lines = journal.read_bytes().splitlines(keepends=True)
    assert b'"t":"done"' in lines[-2] and b'"t":"end"' in lines[-1]
    journal.write_bytes(b"".join(lines[:-2]) + lines[-2][: len(lines[-2]) // 2])
    assert unfinished_sorts(str(out))
    return src, out, before, journal


@pytest.mark.parametrize("finish", ["roll back", "resume, then undo"])
def test_the_record_after_a_torn_one_is_read(tmp_path, finish):
    src, out, before, journal = _killed_with_torn_done_record(tmp_path)
    if finish == "roll back":
        rollback_sort(str(out))
    else:
        assert resume_sort(str(out)).counts.get("error", 0) == 0
        assert len(_snapshot(out)) == 4
        undo_last_sort(str(out))
    assert not unfinished_sorts(str(out))
    assert _snapshot(src) == before, "every file is back at its source"
    assert _snapshot(out) == {}
    state = read_journal(str(journal))
    assert state.damaged_lines == 1  # the torn half, and nothing else
