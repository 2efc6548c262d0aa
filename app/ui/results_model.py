"""The results model: a Qt table model over a plain list of FileResult (the filter proxy: results_filter).

The list is the truth (napari's item model adapts a pure list); rows are created once per folder
(placeholders from the scan, filled in as the pipeline streams results), and `dataChanged`
names only the roles that changed. The user's corrections are kept beside the results (path →
category) so an item shows the answer at once, before the learner has re-ranked anything.

Sorting is done here, on the Python list (a key sort of 100,000 rows takes milliseconds; a
QSortFilterProxyModel sort calls back into Python per comparison and takes many seconds); the
proxy only filters.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from ai.types import Prediction
from app.results import FileResult
from app.ui.channels import effective
from app.ui.images import ImageLoader
from app.ui.results_roles import (
    COLUMNS,
    CORRECTED_COLOUR,
    CORRECTION_ROLES,
    ERROR_COLOUR,
    FILTER_ALL,
    FILTER_CORRECTED,
    FILTER_ERRORS,
    FILTER_UNCERTAIN,
    PENDING,
    PREDICTION_ROLES,
    SEP,
    SORT_KEYS,
    UNCERTAIN_COLOUR,
    Card,
    Role,
    human_size,
)

_ROOT = QModelIndex()  # the invisible root: the model is flat


class ResultsModel(QAbstractTableModel):
    """Rows = files; column 0 carries every custom role, the other columns are for the details view."""

    countsChanged = Signal()

    def __init__(self, thumbnails: ImageLoader | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._results: list[FileResult] = []
        self._row_of: dict[str, int] = {}
        self._corrected: dict[str, str] = {}
        self._counts: Counter = Counter()
        self._names: Counter = Counter()  # file names (folded) → how many rows have that name
        self._sort_key = "name"
        self._descending = False
        self.uncertain_below = 0.5
        self.channels = "auto"  # app.ui.channels mode of the thumbnails
        self.thumbnails = thumbnails
        if thumbnails is not None:
            thumbnails.loaded.connect(self._thumbnail_loaded)

    # -- Qt model interface -------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._results)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        result = self._results[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(result, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(result)
        if role == Qt.ItemDataRole.ForegroundRole and column in (1, 2):
            return self._foreground(result)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Role.Card:
            return self.card(result)
        if role == Role.FilterKey:
            return self.filter_text(result)
        if role == Role.Result:
            return result
        if role == Role.Path:
            return result.path
        if role == Role.Category:
            return self.category(result)
        if role == Role.Confidence:
            return self.confidence(result)
        if role == Role.Corrected:
            return self._corrected.get(result.path)
        if role == Role.Uncertain:
            return self.is_uncertain(result)
        if role == Role.Error:
            return result.error
        if role == Role.Pending:
            return result.source == PENDING
        if role == Role.Thumbnail:
            if self.thumbnails is None or result.error:
                return None
            return self.thumbnails.image(result.path, self.view_of(result.path))
        if role == Role.ThumbnailError:
            return None if self.thumbnails is None else self.thumbnails.failure(result.path)
        return None

    def view_of(self, path: str) -> str:
        """How this file's thumbnail is drawn now: "rgba", "rgb" or "alpha" (app.ui.channels)."""
        kind = self.thumbnails.alpha_kind(path) if self.thumbnails is not None else None
        return effective(self.channels, kind)

    def card(self, result: FileResult) -> Card:
        thumbnails = self.thumbnails
        image = image_error = None
        alpha_data = False
        if thumbnails is not None and not result.error:
            image = thumbnails.image(result.path, self.view_of(result.path))
            if image is None:
                image_error = thumbnails.failure(result.path)
            alpha_data = thumbnails.alpha_kind(result.path) == "data"
        name = os.path.basename(result.path)
        return Card(
            name=name,
            category=self.category(result),
            confidence=self.confidence(result),
            uncertain=self.is_uncertain(result),
            corrected=self._corrected.get(result.path),
            pending=result.source == PENDING,
            error=result.error,
            image=image,
            image_error=image_error,
            alpha_data=alpha_data,
            folder=os.path.basename(os.path.dirname(result.path)) if self._names[name.casefold()] > 1 else "",
        )

    def _display(self, result: FileResult, column: int):
        if column == 0:
            return os.path.basename(result.path)
        if column == 1:
            if result.error:
                return "unreadable"
            return self.category(result) or ("…" if result.source == PENDING else "")
        if column == 2:
            if result.error or result.source == PENDING:
                return ""
            return f"{self.confidence(result):.0%}"
        if column == 3:
            return human_size(result.size)
        info = result.info
        if column == 4:
            return info.format if info else ""
        if column == 5:
            return f"{info.width}×{info.height}" if info else ""
        if column == 6:
            return info.pixel_format if info else ""
        if column == 7:
            return os.path.dirname(result.path)
        return None

    def _foreground(self, result: FileResult) -> QColor | None:
        if result.error:
            return ERROR_COLOUR
        if result.path in self._corrected:
            return CORRECTED_COLOUR
        return UNCERTAIN_COLOUR if self.is_uncertain(result) else None

    def _tooltip(self, result: FileResult) -> str:
        if result.error:
            return f"{result.path}\n{result.error}"
        lines = [result.path]
        corrected = self._corrected.get(result.path)
        if corrected:
            lines.append(f"your answer: {corrected}")
        lines += [f"{p.confidence:5.0%}  {p.category}" for p in result.predictions[:5]]
        return "\n".join(lines)

    # -- what a row means ---------------------------------------------------------------------------

    def category(self, result: FileResult) -> str | None:
        return self._corrected.get(result.path) or result.category

    def confidence(self, result: FileResult) -> float:
        return 1.0 if result.path in self._corrected else result.confidence

    def is_uncertain(self, result: FileResult) -> bool:
        if result.error or result.source == PENDING or result.path in self._corrected:
            return False
        return result.confidence < self.uncertain_below

    def filter_text(self, result: FileResult) -> str:
        """The row as ResultsFilter matches it: its bucket, flags and lower-case file name."""
        flags = [f"b={self.filter_key(result)}"]
        if self.is_uncertain(result):
            flags.append("u")
        if result.path in self._corrected:
            flags.append("c")
        name = os.path.basename(result.path).lower()
        return SEP + SEP.join(flags) + SEP + f"n={name}" + SEP

    def filter_key(self, result: FileResult) -> str:
        """The sidebar bucket of a row (its category, or errors)."""
        if result.error:
            return FILTER_ERRORS
        if result.source == PENDING:
            return PENDING
        return self.category(result) or PENDING

    # -- access ------------------------------------------------------------------------------------

    def result(self, row: int) -> FileResult:
        return self._results[row]

    def results(self) -> list[FileResult]:
        return list(self._results)

    def row_of(self, path: str) -> int | None:
        return self._row_of.get(path)

    def corrected(self) -> dict[str, str]:
        return dict(self._corrected)

    def answer_for(self, path: str) -> str | None:
        """The user's answer for this file in this session, if any."""
        return self._corrected.get(path)

    def counts(self) -> Counter:
        """Rows per sidebar bucket, plus the uncertain and corrected totals."""
        counts = Counter(self._counts)
        counts[FILTER_ALL] = len(self._results)
        counts[FILTER_CORRECTED] = len(self._corrected)
        return counts

    def effective_results(self) -> list[FileResult]:
        """Results with the user's answers applied: what a sort plan must use."""
        out = []
        for result in self._results:
            corrected = self._corrected.get(result.path)
            if corrected and result.category != corrected:
                rest = [p for p in result.predictions if p.category != corrected]
                result = dataclasses.replace(result, predictions=[Prediction(corrected, 1.0), *rest])
            out.append(result)
        return out

    def classified_count(self) -> int:
        return sum(1 for r in self._results if r.source != PENDING)

    # -- changes -----------------------------------------------------------------------------------

    def set_results(self, results: list[FileResult]) -> None:
        """Replace everything (a new folder): rows in the current sort order."""
        self.beginResetModel()
        self._results = list(results)
        self._corrected.clear()
        self._sort_list()
        self._reindex()
        self._recount()
        self.endResetModel()
        self.countsChanged.emit()

    def clear(self) -> None:
        self.set_results([])

    def update_results(self, results: Iterable[FileResult], roles: Sequence[int] | None = None) -> None:
        """Put fresh results in the rows of their paths (new paths are appended)."""
        changed: list[int] = []
        appended: list[FileResult] = []
        for result in results:
            row = self._row_of.get(result.path)
            if row is None:
                appended.append(result)
                continue
            old = self._results[row]
            self._count(old, -1)
            self._results[row] = result
            self._count(result, +1)
            changed.append(row)
        self._emit_rows(changed, roles)
        if appended:
            start = len(self._results)
            self.beginInsertRows(QModelIndex(), start, start + len(appended) - 1)
            for i, result in enumerate(appended):
                self._results.append(result)
                self._row_of[result.path] = start + i
                self._names[os.path.basename(result.path).casefold()] += 1
                self._count(result, +1)
            self.endInsertRows()
        if changed or appended:
            self.countsChanged.emit()

    def replace_if_unchanged(self, pairs: Iterable[tuple[FileResult, FileResult]]) -> int:
        """Apply re-ranked results computed off-thread: only rows still holding the old object change."""
        changed = []
        for old, new in pairs:
            row = self._row_of.get(old.path)
            if row is None or self._results[row] is not old:
                continue  # the row was replaced meanwhile; a later re-rank covers it
            self._count(old, -1)
            self._results[row] = new
            self._count(new, +1)
            changed.append(row)
        self._emit_rows(changed, PREDICTION_ROLES)
        if changed:
            self.countsChanged.emit()
        return len(changed)

    def set_corrected(self, paths: Iterable[str], category: str | None) -> dict[str, str | None]:
        """Mark rows as answered (or unmark with None); returns each path's previous answer."""
        previous: dict[str, str | None] = {}
        rows = []
        for path in paths:
            row = self._row_of.get(path)
            if row is None:
                continue
            result = self._results[row]
            previous[path] = self._corrected.get(path)
            self._count(result, -1)
            if category is None:
                self._corrected.pop(path, None)
            else:
                self._corrected[path] = category
            self._count(result, +1)
            rows.append(row)
        self._emit_rows(rows, CORRECTION_ROLES)
        if rows:
            self.countsChanged.emit()
        return previous

    def restore_corrected(self, previous: dict[str, str | None]) -> None:
        """Undo `set_corrected`: put back each path's previous answer."""
        for category in set(previous.values()):
            self.set_corrected([p for p, c in previous.items() if c == category], category)

    def set_uncertain_below(self, threshold: float) -> None:
        self.uncertain_below = float(threshold)
        self._recount()
        if self._results:
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(len(self._results) - 1, 0),
                [Role.Uncertain, Role.Category, Role.FilterKey],
            )
        self.countsChanged.emit()

    def set_channels(self, mode: str) -> None:
        """Draw every thumbnail in this channel mode (app.ui.channels.MODES)."""
        if mode == self.channels:
            return
        self.channels = mode
        if self._results:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._results) - 1, 0), [Role.Thumbnail])

    def thumbnail_changed(self, path: str) -> None:
        self._thumbnail_loaded(path)

    # -- sorting ----------------------------------------------------------------------------------

    @property
    def sort_key(self) -> str:
        return self._sort_key

    @property
    def sort_descending(self) -> bool:
        return self._descending

    def sort_by(self, key: str, descending: bool = False) -> None:
        """Re-order rows (selection and current item follow their files)."""
        if key not in SORT_KEYS:
            raise ValueError(f"unknown sort key {key!r}")
        self._sort_key, self._descending = key, bool(descending)
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        paths = [self._results[i.row()].path if i.isValid() else None for i in persistent]
        self._sort_list()
        self._reindex()
        new = []
        for index, path in zip(persistent, paths, strict=True):
            row = self._row_of.get(path) if path is not None else None
            new.append(QModelIndex() if row is None else self.index(row, index.column()))
        self.changePersistentIndexList(persistent, new)
        self.layoutChanged.emit()

    def _sort_list(self) -> None:
        key = self._key_function(self._sort_key)
        self._results.sort(key=key, reverse=self._descending)

    def _key_function(self, name: str) -> Callable[[FileResult], tuple]:
        if name == "category":
            return lambda r: (self.category(r) or "\uffff", -self.confidence(r), r.path.lower())
        if name == "confidence":
            return lambda r: (r.error is not None, r.source == PENDING, self.confidence(r), r.path.lower())
        if name == "size":
            return lambda r: (r.size, r.path.lower())
        if name == "folder":
            return lambda r: (os.path.dirname(r.path).lower(), os.path.basename(r.path).lower())
        return lambda r: (os.path.basename(r.path).lower(), r.path.lower())

    # -- bookkeeping ------------------------------------------------------------------------------

    def _reindex(self) -> None:
        self._row_of = {r.path: i for i, r in enumerate(self._results)}
        self._names = Counter(os.path.basename(r.path).casefold() for r in self._results)

    def _recount(self) -> None:
        self._counts = Counter()
        for result in self._results:
            self._count(result, +1)

    def _count(self, result: FileResult, sign: int) -> None:
        self._counts[self.filter_key(result)] += sign
        if self.is_uncertain(result):
            self._counts[FILTER_UNCERTAIN] += sign

    def _emit_rows(self, rows: list[int], roles: Sequence[int] | None) -> None:
        """dataChanged for contiguous runs (one signal when there are very many)."""
        if not rows:
            return
        rows = sorted(set(rows))
        last_column = len(COLUMNS) - 1
        roles = list(roles) if roles is not None else []
        runs = []
        start = prev = rows[0]
        for row in rows[1:]:
            if row != prev + 1:
                runs.append((start, prev))
                start = row
            prev = row
        runs.append((start, prev))
        if len(runs) > 64:
            runs = [(rows[0], rows[-1])]
        for first, last in runs:
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column), roles)

    def _thumbnail_loaded(self, path: str) -> None:
        row = self._row_of.get(path)
        if row is not None:
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [Role.Thumbnail])


