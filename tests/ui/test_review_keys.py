"""Review Uncertain: its keys step and answer whatever control of the dialog has focus."""

from __future__ import annotations

from PySide6.QtCore import Qt


def _open_review(window, classify, fixtures_dir, qtbot):
    classify(window, fixtures_dir)
    window.uncertain_spin.setValue(100)  # every texture counts as uncertain
    window.review_action.trigger()
    dialog = window.review_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=2000)
    return dialog


def test_arrows_and_space_navigate_after_answers_even_with_the_checkbox_focused(
    window, classify, fixtures_dir, qtbot, settle
):
    dialog = _open_review(window, classify, fixtures_dir, qtbot)
    qtbot.keyClick(dialog, Qt.Key.Key_2)
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert dialog.answered == 2
    checkbox = dialog.skip_sure
    checked = checkbox.isChecked()
    checkbox.setFocus()  # as after clicking it, or after the answered buttons went away
    qtbot.waitUntil(checkbox.hasFocus, timeout=2000)

    here = dialog.position
    qtbot.keyClick(checkbox, Qt.Key.Key_Right)
    assert dialog.position > here and dialog.skipped == 1
    here = dialog.position
    qtbot.keyClick(checkbox, Qt.Key.Key_Space)
    assert dialog.position > here and dialog.skipped == 2
    assert checkbox.isChecked() == checked  # Space skipped; it did not toggle the box
    qtbot.keyClick(checkbox, Qt.Key.Key_Left)
    assert dialog.position == here
    shown = dialog.current_path()
    qtbot.keyClick(checkbox, Qt.Key.Key_1)
    assert window.model.answer_for(shown) is not None and dialog.answered == 3
    dialog.close()
    settle(window)


def test_every_review_key_reaches_the_dialog_from_each_of_its_controls(
    window, classify, fixtures_dir, qtbot, settle
):
    from PySide6.QtWidgets import QWidget

    dialog = _open_review(window, classify, fixtures_dir, qtbot)
    focusable = [w for w in dialog.findChildren(QWidget) if w.focusPolicy() != Qt.FocusPolicy.NoFocus]
    assert dialog.skip_sure in focusable
    for widget in focusable:
        widget.setFocus()
        before = dialog.position
        qtbot.keyClick(widget, Qt.Key.Key_Right)
        assert dialog.position == before + 1 or dialog.current_path() is None, widget
        qtbot.keyClick(widget, Qt.Key.Key_Left)
        assert dialog.position == before, widget
    dialog.close()
    settle(window)
