"""The Training tab: greyed out with the install command without PyTorch, and a real short run with it."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtWidgets import QMessageBox

from ai import training_pytorch
from ai.packages.registry import ModelRegistry
from app.ui.training_job import INSTALL_COMMAND


def test_training_tab_is_disabled_with_the_install_command_without_pytorch(window, monkeypatch):
    monkeypatch.setattr(training_pytorch, "is_pytorch_available", lambda: False)
    tab = window.training_tab

    assert tab.check_availability() is False

    assert window.tabs.indexOf(tab) >= 0  # present always
    assert not tab.form.isEnabled()
    assert not tab.start_button.isEnabled()
    assert tab.banner.isVisibleTo(tab)
    assert INSTALL_COMMAND in tab.banner.text()
    assert tab.start() is None


def test_a_frozen_build_never_trains_and_says_why(window, monkeypatch):
    monkeypatch.setattr("sys.frozen", True, raising=False)
    tab = window.training_tab
    assert tab.check_availability() is False
    assert "packaged build" in tab.banner.text()


@pytest.mark.skipif(not training_pytorch.is_pytorch_available(), reason="PyTorch is not installed")
def test_training_tab_is_enabled_with_pytorch(window):
    tab = window.training_tab
    window.tabs.setCurrentWidget(tab)  # the first show looks for PyTorch

    assert tab.available is True
    assert tab.form.isEnabled() and tab.start_button.isEnabled()
    assert not tab.banner.isVisibleTo(tab)


@pytest.mark.skipif(not training_pytorch.is_pytorch_available(), reason="PyTorch is not installed")
def test_fine_tuning_on_a_labelled_folder_plots_each_epoch_and_installs_the_model(
    window, fixtures_dir, tmp_path, qtbot, monkeypatch
):
    data = tmp_path / "labelled"
    for category, pattern in (("map/normal", "*norm*"), ("ui/hud", "*.png")):
        target = data / category
        target.mkdir(parents=True)
        for i, path in enumerate(sorted(fixtures_dir.rglob(pattern))[:6]):
            shutil.copy(path, target / f"{i}{path.suffix}")
    tab = window.training_tab
    window.tabs.setCurrentWidget(tab)
    tab.use_corrections.setChecked(False)
    tab.use_folder.setChecked(True)
    tab.folder.setText(str(data))
    tab.fine_tune.setChecked(True)
    tab.epochs.setValue(3)

    with qtbot.waitSignal(tab.trainingDone, timeout=120_000):
        worker = tab.start()
        assert worker is not None and not tab.start_button.isEnabled() and tab.stop_button.isEnabled()

    assert tab.result is not None, tab.outcome.text()
    assert [m["epoch"] for m in tab.plot.history] == [1, 2, 3]
    assert all("loss" in m and "accuracy" in m for m in tab.plot.history)
    assert tab.export_button.isEnabled() and tab.activate_button.isEnabled()

    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: pytest.fail(f"warning shown: {a[2]}"))
    with qtbot.waitSignal(window.session.managerChanged, timeout=30_000):
        tab.activate()
    active = ModelRegistry().active()
    assert active.name == "My trained model"
    assert {"map/normal", "ui/hud"} <= set(active.categories)


def test_after_reading_the_textures_the_bar_shows_the_training_is_busy(window):
    # "Reading the textures… 4 of 4" used to sit there, full and still, while the training ran.
    tab = window.training_tab
    tab.progress.setVisible(True)
    tab._event({"kind": "stage", "stage": "embedding", "done": 2, "total": 4})
    assert (tab.progress.minimum(), tab.progress.maximum(), tab.progress.value()) == (0, 4, 2)
    tab._event({"kind": "stage", "stage": "embedding", "done": 4, "total": 4})
    assert (tab.progress.minimum(), tab.progress.maximum()) == (0, 0)  # busy: Qt animates it
    assert tab.stage.text() == "Reading the textures through the model: 4 of 4"
