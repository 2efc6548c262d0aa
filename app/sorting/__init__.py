"""Sorting classified textures into folders: plan, journaled apply, resume, roll back, undo, duplicates."""

from app.sorting.apply import apply_plan, iter_apply
from app.sorting.dedupe import (
    DEFAULT_NEAR_THRESHOLD,
    DuplicateGroup,
    fill_missing_hashes,
    find_groups,
    lacks_hashes,
)
from app.sorting.journal import last_undoable_sort, list_sorts, unfinished_sorts
from app.sorting.outcomes import FileOutcome, SortSummary
from app.sorting.plan import LAYOUTS, MODES, PlanEntry, SortPlan, build_plan, write_manifest
from app.sorting.resume import iter_resume, resume_sort
from app.sorting.undo import iter_rollback, iter_undo, rollback_sort, undo_last_sort

__all__ = [
    "DEFAULT_NEAR_THRESHOLD",
    "LAYOUTS",
    "MODES",
    "DuplicateGroup",
    "FileOutcome",
    "PlanEntry",
    "SortPlan",
    "SortSummary",
    "apply_plan",
    "build_plan",
    "fill_missing_hashes",
    "find_groups",
    "iter_apply",
    "iter_resume",
    "iter_rollback",
    "iter_undo",
    "lacks_hashes",
    "last_undoable_sort",
    "list_sorts",
    "resume_sort",
    "rollback_sort",
    "undo_last_sort",
    "unfinished_sorts",
    "write_manifest",
]
