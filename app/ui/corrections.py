"""What Ctrl+Z and Ctrl+Shift+Z take back: this session's correction actions and the answers stored before it.

Plain Python, no Qt (the session owns one). The learner's store is the truth about the user's
answers; this history only knows which store records an action wrote, so undo can remove them,
and which stored answers the open folder showed when it was classified, so Ctrl+Z goes on
working after a restart or a model switch: once this session's actions are all taken back, it
takes back the newest stored answer of a file in the folder, as `texture-sorter learn undo` would.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CorrectionGroup:
    """One user action (one click on many selected items): what to take back on Ctrl+Z."""

    answers: dict[str, str]  # path → the category the action gave it
    previous: dict[str, str | None]  # path → the answer shown before (None: none)
    record_ids: list[int] = field(default_factory=list)  # filled by the writer thread


class CorrectionHistory:
    def __init__(self) -> None:
        self._undo: list[CorrectionGroup] = []
        self._redo: list[CorrectionGroup] = []
        self._stored: dict[str, tuple[str, int]] = {}  # path → (category, correction id) from the store

    def clear(self) -> None:
        """A new folder or another model: nothing of this session is left to take back."""
        self._undo.clear()
        self._redo.clear()
        self._stored.clear()

    def note_stored(self, answers: dict[str, tuple[str, int]]) -> None:
        """The store's answers for files of the open folder (shown as corrections)."""
        self._stored.update(answers)

    def forget_stored(self, paths) -> None:
        for path in paths:
            self._stored.pop(path, None)

    def record(self, group: CorrectionGroup, *, redoing: bool = False) -> None:
        self._undo.append(group)
        if not redoing:
            self._redo.clear()  # a new answer ends the redo chain, as in any editor

    def can_undo(self) -> bool:
        return bool(self._undo or self._stored)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def take_undo(self) -> CorrectionGroup | None:
        """The newest action of this session, else the newest stored answer shown in the folder."""
        if self._undo:
            group = self._undo.pop()
        elif self._stored:
            path, (category, record_id) = max(self._stored.items(), key=lambda item: item[1][1])
            del self._stored[path]
            group = CorrectionGroup({path: category}, {path: None}, [record_id])
        else:
            return None
        self._redo.append(group)
        return group

    def take_redo(self) -> CorrectionGroup | None:
        return self._redo.pop() if self._redo else None
