"""Train and install safely: honest accuracy, a warning for thin categories, a preview of the folder's shift, one name."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from PySide6.QtWidgets import QMessageBox

from ai import training_pytorch
from ai.packages.registry import ModelRegistry

pytestmark = pytest.mark.skipif(
    not training_pytorch.is_pytorch_available(), reason="PyTorch is not installed"
)


def _answer(window, qtbot, settle, answers):
    for row, category in answers:
        window.results_view.select_proxy_row(row)
        path = window.selected_paths()[0]
        qtbot.waitUntil(
            lambda p=path: bool(window.detail.results) and window.detail.results[0].path == p, timeout=3000
        )
        window.correct_selection(category)
    settle(window)


def test_four_corrections_train_with_a_warning_no_fake_accuracy_and_a_preview_before_installing(
    window, classify, fixtures_dir, qtbot, settle, monkeypatch
):
    classify(window, fixtures_dir / "redeclipse")
    _answer(window, qtbot, settle, [(0, "effect"), (1, "effect"), (2, "effect"), (3, "map/specular")])
    tab = window.training_tab
    window.tabs.setCurrentWidget(tab)
    assert tab.use_corrections.isChecked()
    tab.name.setText("Four Answers")
    tab.epochs.setValue(3)

    with qtbot.waitSignal(tab.preview.ready, timeout=180_000) as previewed:
        with qtbot.waitSignal(tab.trainingDone, timeout=180_000):
            tab.start()
        assert tab.result is not None, tab.outcome.text()
        assert not tab.activate_button.isEnabled()  # not before the preview is there
    # Accuracy on the 4 training examples is no measure: it is not reported as one.
    outcome = tab.outcome.text()
    assert "Accuracy not measured: 4 examples are too few" in outcome
    assert not re.search(r"\d\s*%", outcome)  # no percentage (the model's name holds a time stamp)
    assert "accuracy" not in tab.stage.text().lower()
    # Thin categories are named with their counts.
    assert tab.warning.isVisible()
    assert "effect (3)" in tab.warning.text() and "map/specular (1)" in tab.warning.text()

    shift = previewed.args[0]
    classified = [r for r in window.model.results() if not r.error]
    assert shift is not None and shift.files == len(classified)
    assert sum(r.before for r in shift.rows) == sum(r.after for r in shift.rows) == shift.files
    shown_now = Counter(window.model.category(r) for r in classified)
    assert {r.category: r.before for r in shift.rows if r.before} == dict(shown_now)
    print(
        f"\npreview: {shift.moved} of {shift.files} move; "
        + ", ".join(f"{r.category} {r.before}->{r.after}" for r in shift.rows)
    )
    assert tab.preview.table.rowCount() == len(shift.rows) and tab.preview.table.isVisible()
    assert tab.activate_button.isEnabled()

    asked = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: pytest.fail(f"warning shown: {a[2]}"))
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No
    )
    if shift.is_big:
        assert tab.activate() is None and asked and "Install it and use it anyway?" in asked[0]
        assert ModelRegistry().active().builtin
        monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.session.finished, timeout=60_000):
        tab.activate()

    # One name everywhere: the package, the Models menu, the status bar and the message.
    active = ModelRegistry().active()
    label = f"{active.name} {active.version}"
    assert active.name == "Four Answers" and active.version == tab.result["version"]
    assert window.status.model_label.text() == f"Model: {label}"
    window._fill_models_menu()
    assert [a.text() for a in window.models_menu.actions() if a.isCheckable() and a.isChecked()] == [label]
    assert f"Installed {label};" in tab.outcome.text()
    assert window.session.manager.offline_model.name == "Four Answers"  # inside the ONNX file too
