"""The user's answers are the learner store's: every view shows them after a restart and with another model."""

from __future__ import annotations

from PySide6.QtCore import Qt, QThreadPool

from app.ui.results_roles import FILTER_CORRECTED, Role


def _answer_second_guess(window, qtbot, settle, row=0):
    window.results_view.select_proxy_row(row)
    path = window.selected_paths()[0]
    qtbot.waitUntil(
        lambda: [r.path for r in window.detail.results] == [path] and bool(window.detail.buttons[1].category),
        timeout=5000,
    )
    chosen = window.detail.buttons[1].category
    qtbot.mouseClick(window.detail.buttons[1], Qt.MouseButton.LeftButton)
    settle(window)
    return path, chosen


def _new_window(qtbot, model_path):
    from app.ui.main_window import MainWindow

    win = MainWindow(model_path=str(model_path))
    qtbot.addWidget(win)
    win.show()
    return win


def _shows_answer(window, qtbot, path, chosen):
    model = window.model
    index = model.index(model.row_of(path), 0)
    assert model.data(index, Role.Corrected) == chosen
    assert model.data(index, Role.Category) == chosen
    assert model.data(index, Role.Card).corrected == chosen  # the ✓ badge of grid and table
    assert model.counts()[FILTER_CORRECTED] == 1

    def sidebar_lists_it():
        keys = [window.sidebar.item(i).data(Qt.ItemDataRole.UserRole) for i in range(window.sidebar.count())]
        assert FILTER_CORRECTED in keys
        assert window.sidebar.item(keys.index(FILTER_CORRECTED)).text().endswith("(1)")

    qtbot.waitUntil(sidebar_lists_it, timeout=3000)
    window.sidebar.select_bucket(FILTER_CORRECTED)
    assert window.proxy.rowCount() == 1
    window.results_view.select_proxy_row(0)
    qtbot.waitUntil(lambda: window.detail.answer.text().endswith(f"<b>{chosen}</b>"), timeout=3000)


def test_an_answer_shows_after_a_restart_and_ctrl_z_then_takes_it_back(
    window, classify, fixtures_dir, qtbot, settle, tiny_model
):
    folder = fixtures_dir / "redeclipse"
    classify(window, folder)
    path, chosen = _answer_second_guess(window, qtbot, settle)
    window.close()
    QThreadPool.globalInstance().waitForDone()

    again = _new_window(qtbot, tiny_model)
    classify(again, folder)
    _shows_answer(again, qtbot, path, chosen)
    assert again.undo_action.isEnabled() and again.detail.undo_button.isEnabled()

    qtbot.keyClick(again.results_view.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(again)
    assert again.status.message.text().startswith("Correction undone")
    assert again.model.answer_for(path) is None
    assert again.model.counts()[FILTER_CORRECTED] == 0
    assert len(again.session.manager.learner) == 0  # gone from the store, not only from the view
    assert not again.detail.undo_button.isEnabled()  # nothing left to take back
    again.close()


def test_an_answer_shows_with_another_model_and_on_every_reopening(
    window, classify, fixtures_dir, qtbot, settle, tmp_path, model_builder
):
    from ai.taxonomy import default_categories

    folder = fixtures_dir / "redeclipse"
    classify(window, folder)
    path, chosen = _answer_second_guess(window, qtbot, settle, row=3)

    # Another model, with other categories: it may not even know the answer's category.
    others = [c for c in default_categories() if c != chosen][:6]
    other = model_builder(tmp_path / "other.onnx", others, seed=9, metadata={"name": "other"})
    window.session.model_path = str(other)
    with qtbot.waitSignal(window.session.finished, timeout=60_000):
        window.session.reload_manager()
    assert window.session.manager.categories == others
    _shows_answer(window, qtbot, path, chosen)

    window.sidebar.select_bucket("\0all")
    classify(window, folder)  # the same folder again
    _shows_answer(window, qtbot, path, chosen)
