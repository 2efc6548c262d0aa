"""One source of truth for what the status bar says: the active model's name, the counts, what just happened."""

from __future__ import annotations

from PySide6.QtCore import Qt

from ai.packages.exporter import ModelExporter, ModelImporter
from app.ui.results_roles import FILTER_CORRECTED, FILTER_UNCERTAIN


def _sidebar_count(window, key) -> int:
    for i in range(window.sidebar.count()):
        item = window.sidebar.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == key:
            return int(item.text().rsplit("(", 1)[1].rstrip(")").replace(",", ""))
    return 0


def _status_count(window, word) -> int:
    for part in window.status.counts.text().split(" · "):
        if part.endswith(word):
            return int(part.split()[0].replace(",", ""))
    return 0


def test_the_status_bar_names_the_model_switched_to_as_the_models_menu_does(
    window, classify, fixtures_dir, qtbot, tmp_path, model_builder
):
    from ai.taxonomy import default_categories

    classify(window, fixtures_dir / "redeclipse")
    model = model_builder(
        tmp_path / "named-otherwise.onnx", default_categories(), seed=3
    )  # ONNX name "tiny-test"
    ModelExporter().export_model(model, tmp_path / "w.ps2model", "Wood Expert", "2.0")
    installed = ModelImporter().import_model(tmp_path / "w.ps2model")

    with qtbot.waitSignal(window.session.finished, timeout=60_000):
        window.model_actions.activate(installed["slug"], installed["version"])  # "Use it now"

    window._fill_models_menu()
    checked = [a.text() for a in window.models_menu.actions() if a.isCheckable() and a.isChecked()]
    assert checked == ["Wood Expert 2.0"]
    assert window.status.model_label.text() == "Model: Wood Expert 2.0"
    assert window.session.manager.describe() == "Wood Expert 2.0"  # what the About dialog shows


def test_counts_in_the_status_bar_are_the_sidebars_after_every_answer(
    window, classify, fixtures_dir, qtbot, settle
):
    classify(window, fixtures_dir)
    window.uncertain_spin.setValue(90)
    view = window.results_view

    def agree():
        counts = window.model.counts()
        assert (
            _status_count(window, "uncertain")
            == _sidebar_count(window, FILTER_UNCERTAIN)
            == counts[FILTER_UNCERTAIN]
        )
        assert (
            _status_count(window, "corrected")
            == _sidebar_count(window, FILTER_CORRECTED)
            == counts[FILTER_CORRECTED]
        )

    qtbot.waitUntil(agree, timeout=3000)
    assert window.model.counts()[FILTER_UNCERTAIN] > 3
    for row in (0, 3, 6):
        view.select_proxy_row(row)
        qtbot.waitUntil(lambda: bool(window.detail.buttons[2].category), timeout=3000)
        qtbot.keyClick(view.grid, Qt.Key.Key_3)
        settle(window)
        qtbot.waitUntil(agree, timeout=3000)
    assert window.model.counts()[FILTER_CORRECTED] == 3


def test_after_ctrl_z_the_status_says_the_correction_was_undone_not_learned(
    window, classify, fixtures_dir, qtbot, settle
):
    classify(window, fixtures_dir / "redeclipse")
    view = window.results_view
    view.select_proxy_row(2)
    qtbot.waitUntil(lambda: bool(window.detail.buttons[1].category), timeout=3000)
    with qtbot.waitSignal(window.session.reranked, timeout=30_000) as learned:
        qtbot.keyClick(view.grid, Qt.Key.Key_2)
    assert learned.args[1] == "answer"
    before, after = learned.args[2]
    assert after == window.model.counts()[FILTER_UNCERTAIN]
    if learned.args[0] and before != after:  # the learner made look-alikes more or less certain: said
        assert f"Uncertain: {before:,} → {after:,}." in window.status.message.text()
    assert window.status.message.text().startswith(("Learned from your answer", "Filed 1 texture"))

    with qtbot.waitSignal(window.session.reranked, timeout=30_000) as undone:
        qtbot.keyClick(view.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(window)
    assert undone.args[1] == "undo"
    assert window.status.message.text().startswith("Correction undone")
    assert "Learned" not in window.status.message.text()
