"""Models from the GUI: import a .ps2model through the File menu, refuse a bad one plainly, switch models."""

from __future__ import annotations

import zipfile

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ai.packages.exporter import ModelExporter
from ai.packages.registry import ModelRegistry


@pytest.fixture
def package(tmp_path, model_builder):
    from ai.taxonomy import default_categories

    model = model_builder(tmp_path / "shared.onnx", default_categories(), seed=7)
    path = tmp_path / "wood-expert-2.0.ps2model"
    ModelExporter().export_model(
        model, path, "Wood Expert", "2.0", author="a modder", description="knows wood"
    )
    return path


def answer_dialogs(monkeypatch, path, question=QMessageBox.StandardButton.Yes):
    """Patch the file dialog to pick `path` and record every question and warning asked."""
    asked = {"question": [], "warning": [], "information": []}
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), "*.ps2model"))

    def record(kind, answer):
        def show(parent, title, text, *args, **kwargs):
            asked[kind].append(text)
            return answer

        return show

    monkeypatch.setattr(QMessageBox, "question", record("question", question))
    monkeypatch.setattr(QMessageBox, "warning", record("warning", QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(QMessageBox, "information", record("information", QMessageBox.StandardButton.Ok))
    return asked


def test_import_model_menu_action_installs_the_package_and_switches_to_it(
    window, package, qtbot, monkeypatch
):
    asked = answer_dialogs(monkeypatch, package)

    with (
        qtbot.waitSignal(window.session.managerChanged, timeout=30_000),
        qtbot.waitSignal(window.model_actions.imported, timeout=30_000) as imported,
    ):
        window.import_action.trigger()

    result = imported.args[0]
    assert (result["name"], result["version"]) == ("Wood Expert", "2.0")
    assert asked["question"] and "Use it now?" in asked["question"][0]
    assert "is installed (26 categories); the package is unsigned." in asked["question"][0]
    assert asked["warning"] == []
    active = ModelRegistry().active()
    assert (active.name, active.version) == ("Wood Expert", "2.0")
    # One name for the model everywhere: the package's, not the ONNX file's own ("tiny-test 1.0").
    assert window.session.manager.describe() == "Wood Expert 2.0"
    assert window.status.model_label.text() == "Model: Wood Expert 2.0"
    window._fill_models_menu()
    checked = [a.text() for a in window.models_menu.actions() if a.isCheckable() and a.isChecked()]
    assert checked == ["Wood Expert 2.0"]


def test_declining_the_switch_keeps_the_current_model(window, package, qtbot, monkeypatch):
    answer_dialogs(monkeypatch, package, question=QMessageBox.StandardButton.No)
    describe = window.session.manager.describe()

    with qtbot.waitSignal(window.model_actions.imported, timeout=30_000):
        window.import_action.trigger()

    assert [r.name for r in ModelRegistry().installed()] == ["Wood Expert"]
    assert ModelRegistry().active().name != "Wood Expert"
    assert window.session.manager.describe() == describe


def test_a_damaged_package_is_refused_with_the_reason_and_nothing_installed(
    window, tmp_path, qtbot, monkeypatch
):
    bad = tmp_path / "broken.ps2model"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("metadata.json", '{"name": "x"}')
    asked = answer_dialogs(monkeypatch, bad)

    with qtbot.waitSignal(window.model_actions.importFailed, timeout=30_000) as failed:
        window.import_action.trigger()

    assert "model.onnx" in failed.args[0]  # the missing member is named
    assert len(asked["warning"]) == 1 and "broken.ps2model was not installed" in asked["warning"][0]
    assert ModelRegistry().installed() == []


def test_opening_a_ps2model_path_imports_it(window, package, qtbot, monkeypatch):
    answer_dialogs(monkeypatch, package, question=QMessageBox.StandardButton.No)
    with qtbot.waitSignal(window.model_actions.imported, timeout=30_000):
        window.open_paths([str(package)])
    assert [r.name for r in ModelRegistry().installed()] == ["Wood Expert"]
    assert window.model.rowCount() == 0  # a package is installed, not classified


def test_choosing_a_model_in_the_models_menu_reclassifies_with_it(
    window, classify, package, fixtures_dir, qtbot, monkeypatch
):
    from ai.packages.exporter import ModelImporter

    ModelImporter().import_model(package)
    classify(window, fixtures_dir / "redeclipse")
    window._fill_models_menu()
    action = next(a for a in window.models_menu.actions() if a.text() == "Wood Expert 2.0")

    with qtbot.waitSignal(window.session.finished, timeout=30_000):
        action.trigger()

    assert ModelRegistry().active().name == "Wood Expert"
    assert window.session.manager.offline_model.model_path.parent.name == "2.0"
    assert window.model.classified_count() == window.model.rowCount() > 0


def test_export_model_writes_a_package_with_the_corrections(
    window, classify, fixtures_dir, tmp_path, qtbot, monkeypatch, settle
):
    from PySide6.QtWidgets import QDialog

    from ai.packages.exporter import ModelImporter
    from app.ui.models_ui import ExportDialog

    classify(window, fixtures_dir / "redeclipse")
    window.results_view.select_proxy_row(0)
    window.correct_selection("sky")
    settle(window)
    target = tmp_path / "shared" / "mine.ps2model"
    target.parent.mkdir()
    asked = answer_dialogs(monkeypatch, target)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "*.ps2model"))
    monkeypatch.setattr(ExportDialog, "exec", lambda self: QDialog.DialogCode.Accepted)

    with qtbot.waitSignal(window.model_actions.exported, timeout=30_000):
        window.export_action.trigger()

    contents = ModelImporter().inspect(target)
    assert contents.metadata["name"] == "tiny-test"
    assert contents.training_data is not None and "sky" in str(contents.training_data)
    assert asked["information"] and "Wrote" in asked["information"][0]


def test_the_import_message_names_the_signer_and_whether_it_is_trusted(
    window, package, qtbot, monkeypatch, publisher
):
    from ai.packages.keys import KeyStore
    from ai.packages.signing import sign_package

    sign_package(package, "Alice Modder", publisher)
    asked = answer_dialogs(monkeypatch, package, question=QMessageBox.StandardButton.No)
    with qtbot.waitSignal(window.model_actions.imported, timeout=30_000):
        window.open_paths([str(package)])
    assert "the package is signed by an unknown key (" in asked["question"][0]
    assert "which calls itself 'Alice Modder'" in asked["question"][0]

    KeyStore().trust(publisher.own()[0])
    asked = answer_dialogs(monkeypatch, package, question=QMessageBox.StandardButton.Yes)  # yes: reinstall
    with qtbot.waitSignal(window.model_actions.imported, timeout=30_000):
        window.open_paths([str(package)])
    assert any("the package is signed by Alice Modder (trusted)." in q for q in asked["question"])
