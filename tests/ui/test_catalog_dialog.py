"""The Get Models dialog against a real HTTP server: entries, signature state, install/update with progress, refusals."""

from __future__ import annotations

import hashlib
import json

import pytest
from catalog_server import make_package
from PySide6.QtCore import QThreadPool

from ai.packages.keys import KeyStore
from ai.packages.library import ModelLibrary
from ai.packages.publish import publish
from ai.packages.registry import ModelRegistry
from app.ui.catalog_dialog import GetModelsDialog
from app.ui.main import create_application


@pytest.fixture
def catalog(catalog_server, tmp_path, model_builder, publisher):
    made = tmp_path / "made"
    one = make_package(made, model_builder, "Wood Expert", "1.0", seed=1)
    two = make_package(made, model_builder, "Wood Expert", "2.0", keys=publisher, key="Alice Modder", seed=2)
    metal = make_package(made, model_builder, "Metal Expert", "1.0", keys=publisher, key="Alice Modder", seed=3)
    publish(catalog_server.root, [one, metal], name="Forum models")
    KeyStore().trust(publisher.own()[0])
    ModelLibrary().add(catalog_server.url())
    return {"server": catalog_server, "two": two}


@pytest.fixture
def dialog(qtbot, catalog):
    create_application()
    dlg = GetModelsDialog()
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: dlg.table.rowCount() == 2 and dlg.refresh_button.isEnabled(), timeout=20_000)
    yield dlg
    dlg.close()
    QThreadPool.globalInstance().waitForDone()


def row_texts(dlg) -> dict[str, list[str]]:
    return {f"{dlg.table.item(r, 0).text()} {dlg.table.item(r, 1).text()}":
            [dlg.table.item(r, c).text() for c in range(dlg.table.columnCount())]
            for r in range(dlg.table.rowCount())}  # fmt: skip


def install(qtbot, dlg, name, version):
    assert dlg.select(name, version)
    with qtbot.waitSignal(dlg.installed, timeout=30_000) as done:
        dlg.install_button.click()
    qtbot.waitUntil(lambda: not dlg.busy and dlg.refresh_button.isEnabled(), timeout=20_000)
    return done.args[0]


def test_the_dialog_lists_entries_with_signature_state_and_installs_then_updates(qtbot, dialog, catalog):
    rows = row_texts(dialog)
    assert rows["Metal Expert 1.0"][5] == "✔ Alice Modder" and rows["Wood Expert 1.0"][5] == "unsigned"
    assert "Forum models: 2 models" in dialog.header.text()
    seen = []
    dialog.progress.valueChanged.connect(seen.append)
    result = install(qtbot, dialog, "Wood Expert", "1.0")
    assert result["version"] == "1.0" and seen and seen[-1] == dialog.progress.maximum()
    assert dialog.message.text() == "Installed Wood Expert 1.0: unsigned."
    assert row_texts(dialog)["Wood Expert 1.0"][6] == "installed"
    assert not dialog.install_button.isEnabled()  # nothing to do for an installed version

    publish(catalog["server"].root, [catalog["two"]])
    dialog.refresh_button.click()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3, timeout=20_000)
    assert row_texts(dialog)["Wood Expert 2.0"][6] == "update for 1.0"
    dialog.select("Wood Expert", "2.0")
    assert dialog.install_button.text() == "Update" and dialog.install_button.isEnabled()
    install(qtbot, dialog, "Wood Expert", "2.0")
    assert dialog.message.text() == "Installed Wood Expert 2.0: signed by Alice Modder (trusted)."
    assert sorted(r.key for r in ModelRegistry().installed()) == ["wood-expert@1.0", "wood-expert@2.0"]
    with qtbot.waitSignal(dialog.activeModelChanged, timeout=5_000):
        dialog.use_button.click()
    assert ModelRegistry().active().key == "wood-expert@2.0"


def test_a_refused_download_says_why_inline_and_installs_nothing(qtbot, dialog, catalog):
    index = catalog["server"].root / "index.json"
    document = json.loads(index.read_text())
    for entry in document["packages"]:
        entry["sha256"] = hashlib.sha256(b"something else").hexdigest()
    index.write_text(json.dumps(document))
    dialog.refresh_button.click()
    qtbot.waitUntil(lambda: dialog.refresh_button.isEnabled(), timeout=20_000)
    dialog.select("Metal Expert")
    with qtbot.waitSignal(dialog.failed, timeout=30_000) as failed:
        dialog.install_button.click()
    assert "Metal Expert 1.0 was not installed." in failed.args[0]
    assert "metal-expert-1.0.ps2model: sha256" in dialog.message.text()
    assert ModelRegistry().installed() == []
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)
    assert dialog.progress.isHidden()


def test_cancel_stops_a_download_and_installs_nothing(qtbot, dialog, catalog):
    catalog["server"].faults["/metal-expert-1.0.ps2model"] = ("slow", 100, 0.2)
    dialog.select("Metal Expert")
    with qtbot.waitSignal(dialog.failed, timeout=30_000) as failed:
        dialog.install_button.click()
        qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=10_000)
        assert dialog.cancel_button.isVisible()
        dialog.cancel_button.click()
    assert "download cancelled" in failed.args[0]
    assert ModelRegistry().installed() == []
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)


def test_the_models_dialog_names_updates_from_the_cached_catalogs(qtbot, catalog):
    from app.ui.models_ui import ModelActions, ModelsDialog

    library = ModelLibrary()
    library.install(library.find("wood-expert"))
    publish(catalog["server"].root, [catalog["two"]])
    library.statuses(refresh=True)  # what the last check or list cached
    create_application()
    dlg = ModelsDialog(ModelActions(None))
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(dlg.updates_label.isVisible, timeout=20_000)
    assert dlg.updates_label.text().startswith("Newer versions in your catalogs: Wood Expert 2.0 (you have 1.0)")
    dlg.close()
    QThreadPool.globalInstance().waitForDone()


def test_offline_the_dialog_lists_the_cached_copy_and_says_so(qtbot, catalog):
    catalog["server"].close()
    create_application()
    dlg = GetModelsDialog(ModelLibrary(timeout=2))
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: "offline copy from" in dlg.header.text(), timeout=20_000)
    assert dlg.table.rowCount() == 2
    dlg.close()
    QThreadPool.globalInstance().waitForDone()


def test_the_start_up_check_shows_a_non_modal_notice(qtbot, window, catalog):
    from app.ui.update_notice import UpdateNotice, start_update_check

    ModelLibrary().install(ModelLibrary().find("wood-expert", "1.0"))
    publish(catalog["server"].root, [catalog["two"]])
    start_update_check(window)
    qtbot.waitUntil(lambda: getattr(window, "update_notice", None) is not None and window.update_notice.isVisible(),
                    timeout=20_000)  # fmt: skip
    notice = window.update_notice
    assert isinstance(notice, UpdateNotice) and notice.parent() is window.statusBar()
    assert notice.label.text() == "Model update: Wood Expert 2.0"
    assert window.isActiveWindow() or window.isVisible()  # nothing modal took over
    # Checked once a day: a second start the same day does not read the catalogs again.
    QThreadPool.globalInstance().waitForDone()
    requests = len(catalog["server"].requests)
    start_update_check(window)
    QThreadPool.globalInstance().waitForDone()
    assert len(catalog["server"].requests) == requests
    with qtbot.waitSignal(notice.openRequested):
        notice.open_button.click()
    assert not notice.isVisible()
    qtbot.waitUntil(lambda: window.get_models_dialog.table.rowCount() == 3, timeout=20_000)
    qtbot.waitUntil(lambda: window.get_models_dialog.refresh_button.isEnabled(), timeout=20_000)
    window.get_models_dialog.close()


def test_the_models_menu_offers_get_models(window):
    window._fill_models_menu()
    assert window.get_models_action in window.models_menu.actions()
