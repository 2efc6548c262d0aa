"""The Online Classifier dialog against a real local /classify server, and the About dialog."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from ai.model_manager import ModelManager
from ai.online import secrets
from ai.online.config import load_settings
from ai.taxonomy import default_categories
from app.ui.about import AboutDialog
from app.ui.online_dialog import OnlineDialog

TOKEN = "s3cret-token"


@pytest.fixture
def no_keyring(monkeypatch):
    """Whatever keyring the machine has stays untouched: the settings-file fallback is used."""
    monkeypatch.setattr(secrets, "_backend", lambda: None)


@pytest.fixture
def server(tiny_model):
    from app.server import BackgroundServer, ServerConfig, create_app

    manager = ModelManager.create_default({"model_path": tiny_model})
    with BackgroundServer(create_app(manager, ServerConfig(token=TOKEN))) as running:
        yield running


def test_test_connection_reports_the_servers_answer_and_a_refusal(qtbot, server, no_keyring):
    dialog = OnlineDialog(default_categories())
    qtbot.addWidget(dialog)
    dialog.provider.setCurrentIndex(dialog.provider.findData("classify"))
    dialog.url.setText(server.url)
    dialog.key.setText(TOKEN)

    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=20_000)
    assert dialog.test_result.text().startswith("Connected:"), dialog.test_result.text()

    dialog.key.setText("wrong")
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled(), timeout=20_000)
    text = dialog.test_result.text()
    assert "Failed" in text and "401" in text
    assert "wrong" not in text  # the key is never shown back


def test_saving_writes_the_settings_the_manager_reads(qtbot, server, no_keyring):
    dialog = OnlineDialog(default_categories())
    qtbot.addWidget(dialog)
    dialog.enabled.setChecked(True)
    dialog.url.setText(server.url)
    dialog.key.setText(TOKEN)
    dialog.per_minute.setValue(30)
    dialog.threshold.setValue(40)

    with qtbot.waitSignal(dialog.saved, timeout=5000):
        dialog.save()

    saved = load_settings()
    assert (saved.enabled, saved.api_url, saved.api_key) == (True, server.url, TOKEN)
    assert (saved.max_requests_per_minute, saved.threshold) == (30, 0.4)


def test_about_lists_the_versions_a_bug_report_needs(qtbot, tiny_model):
    import onnxruntime

    from ai import __version__

    manager = ModelManager.create_default({"model_path": tiny_model})
    dialog = AboutDialog(manager)
    qtbot.addWidget(dialog)
    text = " ".join(label.text() for label in dialog.findChildren(QLabel))
    for expected in (__version__, onnxruntime.__version__, "tiny-test 1.0", "PySide6"):
        assert expected in text


def test_open_folder_without_a_file_manager_says_where_the_folder_is(qtbot, tmp_path):
    # The offscreen platform has no desktop services: exactly the case of a desktop without a file manager.
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QMessageBox, QWidget

    from app.ui.desktop import open_folder

    parent = QWidget()
    qtbot.addWidget(parent)
    assert open_folder(str(tmp_path), parent) is False
    box = parent.findChild(QMessageBox, "noFileManager")
    assert box is not None and box.isVisible()
    assert str(tmp_path) in box.text()
    assert QGuiApplication.clipboard().text() == str(tmp_path)
    box.close()
