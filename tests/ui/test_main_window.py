"""The main window with the tiny model on the 40 real fixture textures: open, browse, correct, review."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.ui.results_roles import FILTER_ALL, FILTER_CORRECTED, PENDING, Role

TEXTURE_SUFFIXES = (".dds", ".png", ".tga", ".bmp", ".jpg", ".jpeg", ".tm2")


def texture_count(folder) -> int:
    return sum(1 for _, _, files in os.walk(folder) for f in files if f.lower().endswith(TEXTURE_SUFFIXES))


def test_opening_a_folder_classifies_every_fixture_texture(window, classify, fixtures_dir, qtbot):
    summary = classify(window, fixtures_dir)

    expected = texture_count(fixtures_dir)
    assert summary.files == expected and not summary.cancelled
    model = window.model
    assert model.rowCount() == expected
    assert model.classified_count() == expected
    assert all(model.result(r).source != PENDING for r in range(expected))
    categories = {model.category(model.result(r)) for r in range(expected)} - {None}

    def sidebar_shows_categories():
        shown = {window.sidebar.item(i).data(Qt.ItemDataRole.UserRole) for i in range(window.sidebar.count())}
        assert categories <= shown and PENDING not in shown

    qtbot.waitUntil(sidebar_shows_categories, timeout=2000)
    assert window.sidebar.item(0).text().endswith(f"({expected})")
    assert window.sort_action.isEnabled()
    assert "Classified" in window.status.message.text()


def test_sidebar_bucket_filters_the_view_to_that_category(window, classify, fixtures_dir, qtbot):
    classify(window, fixtures_dir)
    model = window.model
    category = model.category(model.result(0))
    expected = sum(1 for r in range(model.rowCount()) if model.category(model.result(r)) == category)
    qtbot.waitUntil(lambda: window.sidebar.count() > 2, timeout=2000)

    window.sidebar.select_bucket(category)

    assert window.proxy.rowCount() == expected
    window.sidebar.select_bucket(FILTER_ALL)
    assert window.proxy.rowCount() == model.rowCount()


def test_clicking_a_prediction_button_records_the_correction_and_updates_the_item(
    window, classify, fixtures_dir, qtbot, settle
):
    classify(window, fixtures_dir)
    window.results_view.select_proxy_row(0)
    qtbot.waitUntil(lambda: bool(window.detail.results and window.detail.buttons[1].category), timeout=2000)
    path = window.detail.results[0].path
    button = window.detail.buttons[1]  # the second guess: a real change of the shown category
    chosen = button.category
    row = window.model.row_of(path)
    assert window.model.data(window.model.index(row, 0), Role.Category) != chosen

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    # The item shows the answer at once, before the learner has done anything.
    index = window.model.index(window.model.row_of(path), 0)
    assert window.model.data(index, Role.Category) == chosen
    assert window.model.data(index, Role.Corrected) == chosen
    assert window.model.data(index, Role.Confidence) == 1.0
    settle(window)
    learner = window.session.manager.learner
    records = learner.store.current(with_embeddings=True)
    assert [(r.texture_path, r.corrected_category) for r in records] == [(path, chosen)]
    assert records[0].embedding is not None  # kNN learning has the texture's embedding
    assert learner.lookup(window.model.result(window.model.row_of(path)).pixel_hash) == chosen
    # After re-ranking, the learner itself ranks the user's answer first.
    assert window.model.result(window.model.row_of(path)).category == chosen
    qtbot.waitUntil(lambda: window.detail.answer.text().endswith(f"<b>{chosen}</b>"), timeout=2000)


def test_number_key_files_every_selected_texture_and_ctrl_z_takes_it_all_back(
    window, classify, fixtures_dir, qtbot, settle
):
    classify(window, fixtures_dir)
    view = window.results_view
    view.grid.setFocus()
    view.select_proxy_row(0)
    view.grid.selectAll()
    qtbot.waitUntil(lambda: len(window.detail.results) == window.model.rowCount(), timeout=2000)
    third = window.detail.ranked()[2]

    qtbot.keyClick(view.grid, Qt.Key.Key_3)

    model = window.model
    assert model.counts()[FILTER_CORRECTED] == model.rowCount()
    assert all(model.answer_for(model.result(r).path) == third for r in range(model.rowCount()))
    settle(window)
    pictures = {model.result(r).pixel_hash for r in range(model.rowCount())}  # the learner's identity
    assert len(window.session.manager.learner) == len(pictures)

    qtbot.keyClick(view.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)

    assert model.counts()[FILTER_CORRECTED] == 0
    settle(window)
    assert len(window.session.manager.learner) == 0


def test_review_uncertain_steps_through_with_number_keys_and_enter(
    window, classify, fixtures_dir, qtbot, settle
):
    classify(window, fixtures_dir)
    window.uncertain_spin.setValue(100)  # every texture counts as uncertain
    window.review_action.trigger()
    dialog = window.review_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=2000)
    first = dialog.current_path()
    second_guess = dialog.buttons[1].category

    qtbot.keyClick(dialog, Qt.Key.Key_2)
    after_first = dialog.current_path()
    top_guess = dialog.buttons[0].category
    qtbot.keyClick(dialog, Qt.Key.Key_Return)

    assert after_first != first
    assert window.model.answer_for(first) == second_guess
    assert window.model.answer_for(after_first) == top_guess  # Enter accepts the guess
    assert dialog.answered == 2
    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    assert dialog.current_path() == after_first  # back shows an answered texture again
    dialog.close()
    settle(window)
    assert len(window.session.manager.learner) == 2


def test_dropping_a_folder_opens_it(window, fixtures_dir, qtbot):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(fixtures_dir / "redeclipse"))])
    event = QDropEvent(
        QPoint(10, 10).toPointF(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.session.finished, timeout=60_000):
        window.dropEvent(event)
    assert window.model.rowCount() == texture_count(fixtures_dir / "redeclipse")
    assert window.session.paths == [str(fixtures_dir / "redeclipse")]


def test_view_options_and_last_folder_persist_to_the_next_window(
    window, classify, fixtures_dir, qtbot, tiny_model
):
    from app.ui.main_window import MainWindow

    classify(window, fixtures_dir)
    window.set_view_mode("details")
    window.sort_combo.setCurrentIndex(window.sort_combo.findData("confidence"))
    window.size_slider.setValue(80)
    window.close()

    again = MainWindow(model_path=str(tiny_model))
    qtbot.addWidget(again)
    assert again.results_view.mode == "details"
    assert again.model.sort_key == "confidence"
    assert again.size_slider.value() == 80
    assert again.settings.get("folders/last") == str(fixtures_dir)
    assert again.settings.get("folders/recent")[0] == str(fixtures_dir)
    again.close()


def test_a_missing_path_is_reported_in_the_problems_panel(window, tmp_path):
    window.open_paths([str(tmp_path / "not-there")])
    assert window.errors.count() == 1
    assert "no such file or folder" in window.errors.model.entries[0].reason
    assert window.errors.isVisible()


@pytest.mark.parametrize("key", ["confidence", "size", "category", "name"])
def test_sorting_keeps_the_selected_texture_selected(window, classify, fixtures_dir, key):
    classify(window, fixtures_dir)
    window.results_view.select_proxy_row(5)
    path = window.selected_paths()[0]
    window.sort_combo.setCurrentIndex(window.sort_combo.findData(key))
    assert window.selected_paths() == [path]
    model = window.model
    if key == "size":
        sizes = [model.result(r).size for r in range(model.rowCount())]
        assert sizes == sorted(sizes)


def test_cancel_in_the_status_bar_stops_classifying_and_keeps_what_is_done(window, tmp_path, qtbot):
    import numpy as np
    from PIL import Image

    for i in range(600):
        Image.fromarray(np.full((16, 16, 4), i % 256, np.uint8), "RGBA").save(tmp_path / f"t{i:03d}.png")
    window.session.progress.connect(lambda _p: window.status.cancel.click())

    with qtbot.waitSignal(window.session.finished, timeout=60_000) as finished:
        window.open_paths([str(tmp_path)])

    assert finished.args[0].cancelled
    model = window.model
    assert model.rowCount() == 600  # every file is listed; the unclassified ones say so
    assert 0 < model.classified_count() < 600
    assert window.status.message.text().startswith("Stopped after")
    assert not window.status.cancel.isVisible()


def test_no_classification_starts_after_the_window_shut_down(window, fixtures_dir):
    # A folder queued to open in the same event-loop turn as quit must not start a worker that
    # outlives the window (it used to emit into deleted signal objects at exit).
    window.shutdown_background_work()
    window.session.open([str(fixtures_dir)])
    assert not window.session.is_running
    assert window.model.rowCount() == 0


def test_a_fallback_to_the_pixel_rules_stays_in_the_status_bar(qtbot, tmp_path, classify, fixtures_dir):
    from PySide6.QtCore import QThreadPool

    from app.ui.main import create_application
    from app.ui.main_window import MainWindow

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    create_application()
    win = MainWindow(model_path=str(broken))
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: "pixel rules only" in win.status.model_label.text(), timeout=10_000)
        assert "broken.onnx" in win.status.model_label.toolTip()
        classify(win, fixtures_dir / "redeclipse" / "data" / "particles")
        assert "pixel rules only" in win.status.message.text()  # the finished message says it too
    finally:
        win.close()
        QThreadPool.globalInstance().waitForDone()
