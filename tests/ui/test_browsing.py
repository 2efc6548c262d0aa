"""What a thumbnail browser is expected to do: zoom, Edit/View/Help menus, same names told apart, loading signs."""

from __future__ import annotations

import shutil

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtWidgets import QApplication, QLabel

from app.ui.results_roles import Role


def _ctrl_wheel(widget, steps: int) -> None:
    event = QWheelEvent(
        QPointF(20, 20), QPointF(widget.mapToGlobal(QPoint(20, 20))), QPoint(0, 0), QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(widget, event)


def test_thumbnail_zoom_by_ctrl_wheel_and_keys_with_a_labelled_slider(window, classify, fixtures_dir, qtbot):
    classify(window, fixtures_dir / "redeclipse")
    slider, grid = window.size_slider, window.results_view.grid
    labels = [w for w in window.browser.findChildren(QLabel) if w.buddy() is slider]
    assert [w.text() for w in labels] == ["Thumbnails"]  # its own label, apart from "Uncertain below"
    start = slider.value()
    _ctrl_wheel(grid.viewport(), 1)
    assert slider.value() == start + 16 and window.results_view.grid_delegate.icon_size == start + 16
    _ctrl_wheel(grid.viewport(), -2)
    assert slider.value() == start - 16
    window.zoom_in_action.trigger()
    assert slider.value() == start
    assert window.zoom_in_action.shortcuts()[0].toString() == "Ctrl++"
    qtbot.keyClick(grid, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert slider.value() == start - 16
    window.zoom_reset_action.trigger()
    assert slider.value() == 112 and window.settings.get("view/icon_size") == 112


def test_edit_undo_redo_and_the_shortcuts_help(window, classify, fixtures_dir, qtbot, settle):
    classify(window, fixtures_dir / "redeclipse")
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "Edit", "View", "Models", "Help"]
    view = window.results_view
    view.select_proxy_row(1)
    path = window.selected_paths()[0]
    qtbot.waitUntil(
        lambda: bool(window.detail.results) and window.detail.results[0].path == path, timeout=3000
    )
    third = window.detail.ranked()[2]
    assert not window.undo_action.isEnabled()
    qtbot.keyClick(view.grid, Qt.Key.Key_3)
    assert window.undo_action.isEnabled() and not window.redo_action.isEnabled()
    window.undo_action.trigger()
    settle(window)
    assert window.model.answer_for(path) is None and window.redo_action.isEnabled()
    qtbot.keyClick(
        view.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    settle(window)
    assert window.model.answer_for(path) == third
    assert window.session.manager.learner.answers_for(
        [(path, window.model.result(window.model.row_of(path)).pixel_hash)]
    )

    window.shortcuts_action.trigger()
    rows = window.shortcuts_dialog.rows()
    assert ("Ctrl+Z", "Undo Correction") in rows
    assert ("Ctrl+Shift+Z  or  Ctrl+Y", "Redo Correction") in rows
    assert ("Alt+2", "Colour Only (RGB)") in rows
    assert ("Ctrl++  or  Ctrl+=", "Zoom In") in rows
    assert ("1 … 9", "File the selected textures as the guess with that number") in rows
    assert ("A", "Next channel view (Alt+0 … Alt+3 pick one)") in rows
    window.shortcuts_dialog.close()


def test_same_named_files_in_different_folders_show_their_folder(window, classify, fixtures_dir, tmp_path):
    source = fixtures_dir / "redeclipse" / "data" / "projectiles" / "cartridge"
    for folder in ("tank", "rifle"):
        (tmp_path / "dump" / folder).mkdir(parents=True)
        shutil.copy(source / "normal.png", tmp_path / "dump" / folder / "normal.png")
    shutil.copy(source / "skin.jpg", tmp_path / "dump" / "tank" / "skin.jpg")
    classify(window, tmp_path / "dump")
    model = window.model
    cards = {model.result(r).path: model.card(model.result(r)) for r in range(model.rowCount())}
    assert cards[str(tmp_path / "dump" / "tank" / "normal.png")].folder == "tank"
    assert cards[str(tmp_path / "dump" / "rifle" / "normal.png")].folder == "rifle"
    assert cards[str(tmp_path / "dump" / "tank" / "skin.jpg")].folder == ""  # a unique name needs no folder


def test_a_thumbnail_not_drawn_yet_says_it_is_loading(window, classify, fixtures_dir, paint_cell):
    classify(window, fixtures_dir / "redeclipse")
    window.thumbnails.clear()  # as after a filter brings far-away rows into view
    window.thumbnails.close()  # and keep them undecoded while we paint
    index = window.proxy.index(0, 0)
    assert index.data(Role.Card).image is None
    canvas, area = paint_cell(window, index)
    placeholder = QColor("#eceef1").rgb()
    inked = sum(
        1
        for x in range(area.left(), area.right())
        for y in range(area.top(), area.bottom())
        if canvas.pixel(x, y) != placeholder
    )
    assert inked > 20  # "loading…" is written in the empty square
