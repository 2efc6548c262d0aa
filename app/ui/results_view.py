"""The results area: a thumbnail grid and a details table over the same filter proxy and selection.

The grid is a QListView in wrapping list mode with uniform item sizes (Qt lays that out by
arithmetic, so 100,000 items scroll as smoothly as 100); free icon mode would store a position
per item. Only painted items ask for thumbnails.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QListView,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.ui.delegates import GridDelegate, NameDelegate
from app.ui.results_filter import ResultsFilter
from app.ui.results_model import ResultsModel
from app.ui.results_roles import COLUMN_SORT_KEYS

MAX_CHECKED_ROWS = 512


def update_visible(view: QAbstractItemView, top: QModelIndex, bottom: QModelIndex) -> bool:
    """Repaint only the changed cells that are on screen; False when the range is too big to check.

    Qt repaints the whole viewport for any multi-row dataChanged; while results stream in that
    is one full repaint per batch, mostly for rows far off screen.
    """
    first, last = top.row(), bottom.row()
    if last - first > MAX_CHECKED_ROWS:
        return False
    model = view.model()
    area = view.viewport().rect()
    for row in range(first, last + 1):
        rect = view.visualRect(model.index(row, 0))
        if isinstance(view, QTableView):
            rect = rect.united(view.visualRect(model.index(row, model.columnCount() - 1)))
        if rect.intersects(area):
            view.viewport().update(rect)
    return True


class GridView(QListView):
    def dataChanged(self, top: QModelIndex, bottom: QModelIndex, roles=()) -> None:
        if top.row() == bottom.row() or not update_visible(self, top, bottom):
            super().dataChanged(top, bottom, roles)


class DetailsTable(QTableView):
    def dataChanged(self, top: QModelIndex, bottom: QModelIndex, roles=()) -> None:
        if top.row() == bottom.row() or not update_visible(self, top, bottom):
            super().dataChanged(top, bottom, roles)


class ResultsView(QWidget):
    selectionChanged = Signal()
    sortRequested = Signal(str, bool)  # key, descending
    contextMenuRequested = Signal(object)  # global QPoint

    def __init__(self, model: ResultsModel, proxy: ResultsFilter, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.proxy = proxy

        self.grid = GridView(self)
        self.grid.setObjectName("resultsGrid")
        self.grid.setViewMode(QListView.ViewMode.ListMode)
        self.grid.setFlow(QListView.Flow.LeftToRight)
        self.grid.setWrapping(True)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setSpacing(2)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.grid.setMouseTracking(True)
        self.grid_delegate = GridDelegate(self.grid)
        self.grid.setItemDelegate(self.grid_delegate)
        self.grid.setModel(proxy)

        self.table = DetailsTable(self)
        self.table.setObjectName("resultsTable")
        self.table.setModel(proxy)
        self.table.setSelectionModel(self.grid.selectionModel())
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setItemDelegateForColumn(0, NameDelegate(self.table))
        vertical = self.table.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(30)
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.sectionClicked.connect(self._header_clicked)
        for column, width in enumerate((260, 150, 90, 80, 70, 100, 110, 300)):
            self.table.setColumnWidth(column, width)

        for view in (self.grid, self.table):
            view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            view.customContextMenuRequested.connect(
                lambda pos, v=view: self.contextMenuRequested.emit(v.viewport().mapToGlobal(pos))
            )
        self.grid.selectionModel().selectionChanged.connect(lambda *_: self.selectionChanged.emit())
        self.grid.selectionModel().currentChanged.connect(lambda *_: self.selectionChanged.emit())

        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.grid)
        self.stack.addWidget(self.table)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.set_icon_size(112)

    # -- modes ------------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return "details" if self.stack.currentWidget() is self.table else "grid"

    def set_mode(self, mode: str) -> None:
        view = self.table if mode == "details" else self.grid
        self.stack.setCurrentWidget(view)
        current = self.grid.selectionModel().currentIndex()
        if current.isValid():
            view.scrollTo(current)

    def current_view(self) -> QAbstractItemView:
        return self.table if self.mode == "details" else self.grid

    def set_icon_size(self, size: int) -> None:
        self.grid_delegate.set_icon_size(size)
        self.grid.setIconSize(QSize(size, size))
        # Uniform sizes are cached by the view: a relayout picks up the new delegate size.
        self.grid.doItemsLayout()

    def show_sort(self, key: str, descending: bool) -> None:
        columns = {v: k for k, v in COLUMN_SORT_KEYS.items()}
        header = self.table.horizontalHeader()
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        header.setSortIndicator(columns.get(key, -1), order)

    def _header_clicked(self, column: int) -> None:
        key = COLUMN_SORT_KEYS.get(column)
        if key is None:
            self.show_sort(self.model.sort_key, self.model.sort_descending)
            return
        descending = (not self.model.sort_descending) if key == self.model.sort_key else key == "confidence"
        self.sortRequested.emit(key, descending)

    # -- selection --------------------------------------------------------------------------------

    def selected_rows(self) -> list[int]:
        """Source-model rows of the selection, in view order."""
        rows = sorted({i.row() for i in self.grid.selectionModel().selectedIndexes()})
        return [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in rows]

    def current_row(self) -> int | None:
        index = self.grid.selectionModel().currentIndex()
        if not index.isValid():
            return None
        return self.proxy.mapToSource(index).row()

    def select_source_row(self, row: int) -> bool:
        proxy_index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not proxy_index.isValid():
            return False
        self.select_proxy_row(proxy_index.row())
        return True

    def select_proxy_row(self, row: int) -> None:
        index = self.proxy.index(row, 0)
        if not index.isValid():
            return
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.grid.selectionModel().setCurrentIndex(index, flags)
        self.current_view().scrollTo(index)

    def select_next(self, step: int = 1) -> None:
        index = self.grid.selectionModel().currentIndex()
        count = self.proxy.rowCount()
        if count == 0:
            return
        row = 0 if not index.isValid() else min(max(index.row() + step, 0), count - 1)
        self.select_proxy_row(row)

    def first_index(self) -> QModelIndex:
        return self.proxy.index(0, 0)
