"""What a results row carries: its custom Qt roles, the card a delegate paints, sidebar filter keys, columns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from PySide6.QtCore import (
    Qt,
)
from PySide6.QtGui import QColor, QImage

from app.results import FileResult

ERROR_COLOUR = QColor("#b3261e")
CORRECTED_COLOUR = QColor("#1f4fa8")
UNCERTAIN_COLOUR = QColor("#a35f00")
SEP = "\x1f"  # separates the fields of the FilterKey role (a character no file or category name has)
PENDING = "pending"  # source of a placeholder row not classified yet
SORT_KEYS = ("name", "category", "confidence", "size", "folder")
# Sidebar filters besides the categories themselves.
FILTER_ALL = "\0all"
FILTER_UNCERTAIN = "\0uncertain"
FILTER_CORRECTED = "\0corrected"
FILTER_ERRORS = "\0errors"


class Role(IntEnum):
    Result = Qt.ItemDataRole.UserRole + 1
    Thumbnail = Qt.ItemDataRole.UserRole + 2
    Category = Qt.ItemDataRole.UserRole + 3
    Confidence = Qt.ItemDataRole.UserRole + 4
    Corrected = Qt.ItemDataRole.UserRole + 5
    Uncertain = Qt.ItemDataRole.UserRole + 6
    Path = Qt.ItemDataRole.UserRole + 7
    Error = Qt.ItemDataRole.UserRole + 8
    Pending = Qt.ItemDataRole.UserRole + 9
    ThumbnailError = Qt.ItemDataRole.UserRole + 10
    Card = Qt.ItemDataRole.UserRole + 11  # everything a painted cell shows, in one call
    FilterKey = Qt.ItemDataRole.UserRole + 12  # what ResultsFilter matches: buckets and file name


@dataclass(frozen=True, slots=True)
class Card:
    """What a delegate paints for one row: one data() call instead of eight (each one a GIL round trip)."""

    name: str
    category: str | None
    confidence: float
    uncertain: bool
    corrected: str | None
    pending: bool
    error: str | None
    image: QImage | None
    image_error: str | None
    alpha_data: bool = False  # its alpha channel holds data (the "α" badge); see app.ui.channels
    folder: str = ""  # the parent folder, shown where names repeat (see ResultsModel.card)


COLUMNS = ("Name", "Category", "Confidence", "Size", "Format", "Dimensions", "Pixel format", "Folder")
COLUMN_SORT_KEYS = {0: "name", 1: "category", 2: "confidence", 3: "size", 7: "folder"}
PREDICTION_ROLES = [
    Role.Category,
    Role.Confidence,
    Role.Uncertain,
    Role.FilterKey,
    Qt.ItemDataRole.DisplayRole,
]


CORRECTION_ROLES = [*PREDICTION_ROLES, Role.Corrected]


def placeholder(path: str, size: int, mtime: float) -> FileResult:
    return FileResult(path=path, size=size, mtime=mtime, predictions=[], source=PENDING)


def human_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
