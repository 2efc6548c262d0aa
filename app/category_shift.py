"""How another model would move a folder's textures between categories: the preview before installing it.

A model trained on a handful of corrections can skew a whole folder (everything becomes
"effect"); the Training tab classifies the open folder with the trained model (the same
pipeline, the same learner) and shows this comparison before "Install and Use".
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from app.pipeline import Progress, classify_files
from app.scan import ScannedFile

BIG_SHIFT = 0.25  # a quarter of the folder changing category is worth a second look


@dataclass(frozen=True)
class ShiftRow:
    category: str
    before: int
    after: int

    @property
    def change(self) -> int:
        return self.after - self.before


@dataclass
class CategoryShift:
    """Files per category now and with the other model, and how many files change category."""

    rows: list[ShiftRow] = field(default_factory=list)
    files: int = 0
    moved: int = 0

    @property
    def vanished(self) -> list[str]:
        """Categories that have files now and none with the other model."""
        return [r.category for r in self.rows if r.before and not r.after]

    @property
    def appeared(self) -> list[str]:
        return [r.category for r in self.rows if r.after and not r.before]

    @property
    def moved_share(self) -> float:
        return self.moved / self.files if self.files else 0.0

    @property
    def is_big(self) -> bool:
        """Whether installing deserves a confirmation: categories vanish or many files move."""
        return bool(self.vanished) or self.moved_share >= BIG_SHIFT


def compare(before: Mapping[str, str], after: Mapping[str, str]) -> CategoryShift:
    """The shift between two path → category maps (files in only one of them are left out)."""
    paths = [p for p in before if p in after]
    old = Counter(before[p] for p in paths)
    new = Counter(after[p] for p in paths)
    rows = [ShiftRow(c, old[c], new[c]) for c in set(old) | set(new)]
    rows.sort(key=lambda r: (-abs(r.change), -max(r.before, r.after), r.category))
    return CategoryShift(rows, len(paths), sum(1 for p in paths if before[p] != after[p]))


def classify_with(
    model_path: str,
    files: list[ScannedFile],
    cancel: threading.Event,
    progress: Callable[[Progress], None] | None = None,
) -> Iterator[dict[str, str]]:
    """Classify `files` with the model at `model_path` as the app would (corrections included).

    Yields path → category batches; the caller adds them up. No prediction cache: this model is
    not installed, and its answers must not be kept for it.
    """
    from app.context import create_manager

    manager = create_manager(model_path, always_learn=True, online=False)
    try:
        for batch in classify_files(files, manager, top_k=1, cancel=cancel, progress=progress):
            yield {r.path: r.category for r in batch if not r.error and r.category}
    finally:
        if manager.learner is not None:
            manager.learner.store.close()
