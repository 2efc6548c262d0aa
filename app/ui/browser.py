"""The Textures page's browser: category sidebar | view bar and results | detail pane, and its view options.

It keeps the three parts in step (counts, filter, sort, selection → detail pane) and remembers
the view options; what a click means (a correction) is the main window's business.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.channels import MODES as CHANNEL_MODES
from app.ui.detail_pane import DetailPane
from app.ui.flow_layout import FlowLayout
from app.ui.icons import icon
from app.ui.images import ImageLoader
from app.ui.results_filter import ResultsFilter
from app.ui.results_model import ResultsModel
from app.ui.results_roles import SORT_KEYS, Role
from app.ui.results_view import ResultsView
from app.ui.settings import OPTIONS, Settings
from app.ui.sidebar import CategorySidebar

SORT_LABELS = {
    "name": "Name",
    "category": "Category",
    "confidence": "Confidence",
    "size": "Size",
    "folder": "Folder",
}
MAX_DETAIL_ROWS = 5000  # a selection larger than this is summarised from its first rows
MIN_ICON, MAX_ICON, ZOOM_STEP = 48, 192, 16  # thumbnail sizes in the grid, pixels


class Browser(QSplitter):
    countsShown = Signal(object)  # the Counter the sidebar shows now
    channelsChanged = Signal(str)  # the grid's channel mode (app.ui.channels)

    def __init__(
        self,
        model: ResultsModel,
        proxy: ResultsFilter,
        previews: ImageLoader,
        settings: Settings,
        categories: Callable[[], list[str]],
        parent: QWidget | None = None,
    ):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setObjectName("browserSplitter")
        self.model = model
        self.proxy = proxy
        self.settings = settings
        self.categories = categories
        self.sidebar = CategorySidebar(self)
        self.results_view = ResultsView(model, proxy, self)
        self.detail = DetailPane(previews, self)
        middle = QWidget(self)
        column = QVBoxLayout(middle)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self._build_view_bar())
        column.addWidget(self.results_view, 1)
        self.addWidget(self.sidebar)
        self.addWidget(middle)
        self.addWidget(self.detail)
        self.setStretchFactor(1, 1)
        self.setChildrenCollapsible(False)
        self.setSizes([210, 760, 340])

        self._counts_timer = _timer(self, 120, self._show_counts)
        self._detail_timer = _timer(self, 30, self._update_detail)
        self._search_timer = _timer(self, 150, lambda: self.proxy.set_text(self.search.text()))
        model.countsChanged.connect(self._counts_timer.start)
        model.dataChanged.connect(self._model_data_changed)
        model.modelReset.connect(self._detail_timer.start)
        self.sidebar.bucketChanged.connect(self.proxy.set_bucket)
        self.results_view.selectionChanged.connect(self._detail_timer.start)
        self.results_view.sortRequested.connect(self._sort_requested)
        self.search.textChanged.connect(self._search_timer.start)
        self.sort_combo.currentIndexChanged.connect(lambda _i: self.apply_sort())
        self.order_button.toggled.connect(lambda _on: self.apply_sort())
        self.uncertain_spin.valueChanged.connect(self._uncertain_changed)
        self.size_slider.valueChanged.connect(self._icon_size_changed)
        self.results_view.grid.viewport().installEventFilter(self)  # Ctrl+wheel zooms
        self.grid_button.clicked.connect(lambda: self.set_view_mode("grid"))
        self.details_button.clicked.connect(lambda: self.set_view_mode("details"))
        self._restore()

    def _build_view_bar(self) -> QWidget:
        """View, sort, name filter, uncertainty threshold and thumbnail size: groups that wrap when narrow."""
        bar = QWidget(self)
        bar.setObjectName("viewBar")
        flow = FlowLayout(bar, spacing=12)
        flow.setContentsMargins(8, 4, 8, 4)

        def group(*widgets: QWidget) -> QWidget:
            box = QWidget(bar)
            row = QHBoxLayout(box)
            row.setContentsMargins(0, 0, 0, 0)
            row.setSpacing(4)
            for widget in widgets:
                widget.setParent(box)
                row.addWidget(widget)
            flow.addWidget(box)
            return box

        self.grid_button = _tool_button(bar, "grid", "Thumbnails (Ctrl+1)")
        self.details_button = _tool_button(bar, "list", "A table with every file's details (Ctrl+2)")
        buttons = QButtonGroup(bar)
        buttons.addButton(self.grid_button)
        buttons.addButton(self.details_button)
        group(self.grid_button, self.details_button)
        self.sort_combo = QComboBox(bar)
        for key in SORT_KEYS:
            self.sort_combo.addItem(SORT_LABELS[key], key)
        self.order_button = QToolButton(bar)
        self.order_button.setCheckable(True)
        self.order_button.setAutoRaise(True)
        self.order_button.setToolTip("Descending order")
        group(_label(bar, "Sort by", self.sort_combo), self.sort_combo, self.order_button)
        self.search = QLineEdit(bar)
        self.search.setPlaceholderText("Filter by file name  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setFixedWidth(240)
        group(self.search)
        self.uncertain_spin = QSpinBox(bar)
        self.uncertain_spin.setRange(0, 100)
        self.uncertain_spin.setSuffix(" %")
        self.uncertain_spin.setToolTip(
            "Textures whose best guess is below this confidence are marked ? and reviewed"
        )
        group(_label(bar, "Uncertain below", self.uncertain_spin), self.uncertain_spin)
        self.size_slider = QSlider(Qt.Orientation.Horizontal, bar)
        self.size_slider.setRange(MIN_ICON, MAX_ICON)
        self.size_slider.setSingleStep(8)
        self.size_slider.setPageStep(ZOOM_STEP)
        self.size_slider.setFixedWidth(110)
        self.size_slider.setToolTip("Thumbnail size (Ctrl+wheel over the thumbnails, Ctrl++ and Ctrl+-)")
        group(_label(bar, "Thumbnails", self.size_slider), self.size_slider)
        return bar

    def _restore(self) -> None:
        s = self.settings
        splitter = s.get("window/splitter")
        if not splitter.isEmpty():
            self.restoreState(splitter)
        self.set_view_mode(s.get("view/mode"))
        with _quiet(self.sort_combo, self.order_button, self.uncertain_spin):
            self.sort_combo.setCurrentIndex(max(0, self.sort_combo.findData(s.get("view/sort_key"))))
            self.order_button.setChecked(s.get("view/sort_descending"))
            self.uncertain_spin.setValue(int(round(self.model.uncertain_below * 100)))
        self._show_order()
        self.model.sort_by(self.sort_combo.currentData(), self.order_button.isChecked())
        self.results_view.show_sort(self.model.sort_key, self.model.sort_descending)
        size = min(max(s.get("view/icon_size"), MIN_ICON), MAX_ICON)
        self.size_slider.setValue(size)
        self.results_view.set_icon_size(size)
        self.set_channels(s.get("view/channels"))

    def _show_counts(self) -> None:
        """One reading of the model's counts for every place that shows them (sidebar, status bar)."""
        counts = self.model.counts()
        self.sidebar.set_counts(counts)
        self.countsShown.emit(counts)

    # -- view options ------------------------------------------------------------------------------

    def set_view_mode(self, mode: str) -> None:
        mode = "details" if mode == "details" else "grid"
        self.results_view.set_mode(mode)
        (self.details_button if mode == "details" else self.grid_button).setChecked(True)
        self.settings.set("view/mode", mode)

    def apply_sort(self) -> None:
        key, descending = self.sort_combo.currentData(), self.order_button.isChecked()
        self._show_order()
        self.model.sort_by(key, descending)
        self.results_view.show_sort(key, descending)
        self.settings.set("view/sort_key", key)
        self.settings.set("view/sort_descending", descending)

    def _show_order(self) -> None:
        self.order_button.setText("↓" if self.order_button.isChecked() else "↑")

    def _sort_requested(self, key: str, descending: bool) -> None:
        with _quiet(self.sort_combo, self.order_button):
            self.sort_combo.setCurrentIndex(self.sort_combo.findData(key))
            self.order_button.setChecked(descending)
        self.apply_sort()

    def _uncertain_changed(self, percent: int) -> None:
        self.model.set_uncertain_below(percent / 100.0)
        self.settings.set("view/uncertain_below", percent / 100.0)

    def zoom(self, steps: int) -> None:
        """Bigger (steps > 0) or smaller thumbnails, ZOOM_STEP pixels a step; 0 goes back to the default."""
        value = OPTIONS["view/icon_size"].default if steps == 0 else self.size_slider.value() + steps * ZOOM_STEP
        self.size_slider.setValue(min(max(value, MIN_ICON), MAX_ICON))

    def set_channels(self, mode: str) -> None:
        """Show the grid's and the detail pane's textures in this channel mode (app.ui.channels)."""
        mode = mode if mode in CHANNEL_MODES else "auto"
        self.model.set_channels(mode)
        self.detail.set_channel_mode(mode)
        self.settings.set("view/channels", mode)
        self.channelsChanged.emit(mode)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Wheel
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
            and watched is self.results_view.grid.viewport()
        ):
            delta = event.angleDelta().y()  # 120 per notch; touchpads send smaller steps
            if delta:
                self.zoom(int(delta / 120) or (1 if delta > 0 else -1))
            return True  # Ctrl+wheel never scrolls
        return super().eventFilter(watched, event)

    def _icon_size_changed(self, size: int) -> None:
        self.results_view.set_icon_size(size)
        self.settings.set("view/icon_size", size)

    # -- selection → detail pane -------------------------------------------------------------------

    def selected_paths(self) -> list[str]:
        return [self.model.result(r).path for r in self.results_view.selected_rows()]

    def refresh_detail(self) -> None:
        """Show the selection in the detail pane again (soon; many requests make one update)."""
        self._detail_timer.start()

    def _update_detail(self) -> None:
        rows = self.results_view.selected_rows()
        if not rows:
            current = self.results_view.current_row()
            rows = [current] if current is not None else []
        results = [self.model.result(r) for r in rows[:MAX_DETAIL_ROWS]]
        self.detail.show_results(results, self.model, self.categories())

    def _model_data_changed(self, top: QModelIndex, bottom: QModelIndex, roles: list) -> None:
        if roles and Role.Category not in roles:
            return  # thumbnails and the like do not change what the pane says
        shown = self.detail.results
        if not shown or len(shown) > 200:
            return
        for result in shown:
            row = self.model.row_of(result.path)
            if row is not None and top.row() <= row <= bottom.row():
                self._detail_timer.start()
                return


def _timer(parent: QWidget, ms: int, slot) -> QTimer:
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(ms)
    timer.timeout.connect(slot)
    return timer


def _label(parent: QWidget, text: str, buddy: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setBuddy(buddy)
    return label


def _tool_button(parent: QWidget, icon_name: str, tip: str) -> QToolButton:
    button = QToolButton(parent)
    button.setIcon(icon(icon_name))
    button.setToolTip(tip)
    button.setCheckable(True)
    button.setAutoRaise(True)
    return button


class _quiet:
    """Set widgets without their change signals (restoring settings is not a user's change)."""

    def __init__(self, *widgets: QWidget):
        self.widgets = widgets

    def __enter__(self) -> None:
        for w in self.widgets:
            w.blockSignals(True)

    def __exit__(self, *exc) -> None:
        for w in self.widgets:
            w.blockSignals(False)
