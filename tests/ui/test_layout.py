"""Layout at common screen sizes: no widget drawn over another, none squeezed or cut, readable drop-downs."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import QApplication, QLayout, QSizePolicy, QSplitter, QWidget

SIZES = [(1024, 700), (1366, 768), (1920, 1080)]


def _layout_widgets(layout: QLayout) -> list[QWidget]:
    """The widgets a layout places, through its nested layouts."""
    out = []
    for i in range(layout.count()):
        item = layout.itemAt(i)
        if item.widget() is not None:
            out.append(item.widget())
        elif item.layout() is not None:
            out += _layout_widgets(item.layout())
    return out


def _may_shrink(widget: QWidget) -> bool:
    """Widgets meant to be narrower than their text (they elide it) or scrolled."""
    return widget.sizePolicy().horizontalPolicy() == QSizePolicy.Policy.Ignored


def layout_problems(root: QWidget) -> list[str]:
    """Visible siblings that overlap, stick out of their parent, or got less than their minimum size."""
    problems = []
    containers = [root, *root.findChildren(QWidget)]
    for parent in containers:
        if not parent.isVisible():
            continue
        if isinstance(parent, QSplitter):
            children = [parent.widget(i) for i in range(parent.count())]
        elif parent.layout() is not None:
            children = _layout_widgets(parent.layout())
        else:
            continue
        children = [c for c in children if c.isVisible() and c.parentWidget() is parent]
        name = f"{type(parent).__name__}#{parent.objectName()}"
        for child in children:
            geometry, hint = child.geometry(), child.minimumSizeHint()
            label = f"{type(child).__name__}#{child.objectName()} in {name}"
            if not parent.rect().contains(geometry):
                problems.append(f"{label} sticks out: {geometry} of {parent.rect()}")
            if not _may_shrink(child) and (
                geometry.width() < min(hint.width(), child.maximumWidth())
                or geometry.height() < min(hint.height(), child.maximumHeight())
            ):
                problems.append(f"{label} squeezed to {geometry.size()} under its minimum {hint}")
        for i, a in enumerate(children):
            for b in children[i + 1 :]:
                if a.geometry().intersects(b.geometry()):
                    problems.append(
                        f"{type(a).__name__}#{a.objectName()} and {type(b).__name__}#{b.objectName()} overlap in {name}"
                    )
    return problems


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_nothing_overlaps_or_is_cut_off_at_common_screen_sizes(
    window, classify, fixtures_dir, qtbot, width, height
):
    classify(window, fixtures_dir)
    window.results_view.select_proxy_row(3)
    qtbot.waitUntil(lambda: bool(window.detail.results), timeout=3000)
    window.resize(width, height)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (width, height), timeout=3000)

    def settled_without_problems():  # layouts settle over a few event-loop turns after a resize
        assert layout_problems(window) == []

    qtbot.waitUntil(settled_without_problems, timeout=3000)
    bar = window.browser.findChild(QWidget, "viewBar")
    for widget in (window.search, window.uncertain_spin, window.size_slider, window.sort_combo):
        top_left = widget.mapTo(bar, QPoint(0, 0))
        assert bar.rect().contains(QRect(top_left, widget.size())), widget  # inside the bar, not cut
    assert window.search.geometry().intersects(window.uncertain_spin.parentWidget().geometry()) is False

    # Every sidebar count is drawn whole, right-aligned inside the visible list.
    from app.ui.sidebar import count_layout, split_text

    sidebar = window.sidebar
    metrics = QFontMetrics(sidebar.font())
    for i in range(sidebar.count()):
        item = sidebar.item(i)
        rect = sidebar.visualItemRect(item)
        label, label_rect, count_rect = count_layout(rect, item.text(), metrics)
        count = split_text(item.text())[1]
        assert sidebar.viewport().rect().contains(count_rect), item.text()
        assert count_rect.width() >= metrics.horizontalAdvance(count)
        assert label and not label_rect.intersects(count_rect)


def _luminance(colour: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())
    )


def test_the_selected_item_of_a_drop_down_list_is_readable(window, classify, fixtures_dir, qtbot, tmp_path):
    classify(window, fixtures_dir / "redeclipse")
    dialog = window.show_sort_dialog()
    dialog.form.output.setText(str(tmp_path / "sorted"))
    qtbot.waitUntil(dialog.run_button.isEnabled, timeout=10_000)  # the plan is made (no job left running)
    combo = dialog.form.dedupe_combo
    combo.setCurrentIndex(1)
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=3000)
    QApplication.processEvents()
    rect = view.visualRect(view.model().index(combo.currentIndex(), 0))
    image = view.viewport().grab(rect).toImage()
    colours = [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())]
    background = max(set(c.rgb() for c in colours), key=[c.rgb() for c in colours].count)
    background_lum = _luminance(QColor.fromRgb(background))
    text_lum = max((_luminance(c) for c in colours), key=lambda lum: abs(lum - background_lum))
    light, dark = max(background_lum, text_lum), min(background_lum, text_lum)
    assert (light + 0.05) / (dark + 0.05) >= 4.5  # WCAG AA for normal text
    assert QColor.fromRgb(background) != QColor(Qt.GlobalColor.white) or text_lum < 0.2
    combo.hidePopup()
    combo.setCurrentIndex(0)
    qtbot.waitUntil(dialog.run_button.isEnabled, timeout=10_000)
    dialog.reject()
