"""ResultsFilter: the proxy that shows one sidebar bucket's rows whose file name contains the search text."""

from __future__ import annotations

from PySide6.QtCore import (
    QObject,
    QRegularExpression,
    QSortFilterProxyModel,
)

from app.ui.results_roles import (
    FILTER_ALL,
    FILTER_CORRECTED,
    FILTER_UNCERTAIN,
    SEP,
    Role,
)


class ResultsFilter(QSortFilterProxyModel):
    """Shows the rows of one sidebar bucket whose file name contains the search text.

    Filtering is Qt's own regular-expression match on the `FilterKey` role, not a Python
    `filterAcceptsRow`: with no filter set the proxy then never calls into Python, so
    100,000 rows arrive without 100,000 callbacks.
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._bucket = FILTER_ALL
        self._text = ""
        self.setDynamicSortFilter(True)
        # Changes that can move a row between buckets name this role (see PREDICTION_ROLES), so a
        # thumbnail arriving never makes the proxy re-filter.
        self.setFilterRole(Role.FilterKey)

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def text(self) -> str:
        return self._text

    def set_bucket(self, bucket: str) -> None:
        if bucket != self._bucket:
            self._bucket = bucket
            self._apply()

    def set_text(self, text: str) -> None:
        text = text.strip().lower()
        if text != self._text:
            self._text = text
            self._apply()

    def _apply(self) -> None:
        parts = []
        if self._bucket == FILTER_UNCERTAIN:
            parts.append(f"(?=.*{SEP}u{SEP})")
        elif self._bucket == FILTER_CORRECTED:
            parts.append(f"(?=.*{SEP}c{SEP})")
        elif self._bucket != FILTER_ALL:
            parts.append(f"(?=.*{SEP}b={QRegularExpression.escape(self._bucket)}{SEP})")
        if self._text:
            parts.append(f"(?=.*{SEP}n=[^{SEP}]*{QRegularExpression.escape(self._text)})")
        pattern = "^" + "".join(parts) if parts else ""
        self.setFilterRegularExpression(
            QRegularExpression(pattern, QRegularExpression.PatternOption.DotMatchesEverythingOption)
        )
