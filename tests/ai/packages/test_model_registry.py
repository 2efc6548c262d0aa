"""The installed-model registry: listing, the active model and its settings file, removal, upgrades."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from ai.errors import PackageError
from ai.model_manager import ModelManager
from ai.packages import registry as model_registry
from ai.packages.exporter import ModelExporter, ModelImporter
from ai.packages.registry import ModelRegistry
from ai.paths import model_path


@pytest.fixture
def install(tmp_path, model_builder):
    """install(name, version, categories=…, activate=False) → the importer's result."""
    registry = ModelRegistry()

    def _install(name, version, categories=("wood", "metal"), activate=False):
        model = model_builder(tmp_path / f"{name}-{version}.onnx", list(categories))
        package = tmp_path / f"{name}-{version}.ps2model"
        ModelExporter().export_model(model, package, name, version, "Ada")
        return ModelImporter(registry).import_model(package, activate=activate)

    return _install


def builtin_path_or_none():
    path = model_path("default.onnx")
    return path if path.is_file() else None


def test_the_builtin_model_is_always_listed_first_and_active_by_default():
    registry = ModelRegistry()
    records = registry.list_models()
    assert len(records) == 1 and records[0].builtin and records[0].active
    assert records[0].source == "built-in" and records[0].slug == "default"
    assert records[0].categories  # from the model's metadata, or the default taxonomy it predicts
    assert registry.active_model_path() == builtin_path_or_none()
    assert not registry.settings_path.exists()  # reading never writes


def test_the_builtin_model_cannot_be_removed():
    with pytest.raises(PackageError, match="built-in model cannot be removed"):
        ModelRegistry().remove("default", "0.1.0")


def test_installed_models_are_listed_with_their_details(install):
    install("Wood", "1.0")
    install("Sky Pack", "2.1", categories=("sky", "ui/hud", "effect"))
    records = ModelRegistry().list_models()
    assert [(r.name, r.version) for r in records[1:]] == [("Sky Pack", "2.1"), ("Wood", "1.0")]
    sky = records[1]
    assert sky.author == "Ada" and sky.categories == ["sky", "ui/hud", "effect"]
    assert sky.size == sky.model_path.stat().st_size > 0
    assert sky.source.startswith("imported from Sky Pack-2.1.ps2model on ")
    assert not sky.builtin and not sky.active


def test_the_active_choice_persists_and_feeds_the_model_manager(install):
    result = install("Wood", "1.0")
    ModelRegistry().set_active("wood")
    assert model_registry.active_model_path() == result["model_path"]
    settings = json.loads(ModelRegistry().settings_path.read_text())
    assert settings == {"schema_version": 1, "active": {"slug": "wood", "version": "1.0"}}
    manager = ModelManager.create_default()
    assert manager.offline_model is not None
    assert manager.offline_model.model_path == result["model_path"]
    assert manager.categories == ["wood", "metal"]


def test_use_without_a_version_picks_the_newest(install):
    for version in ("1.2", "1.10", "1.9"):
        install("Wood", version)
    registry = ModelRegistry()
    assert registry.set_active("WOOD").version == "1.10"
    assert registry.set_active("wood", "1.2").version == "1.2"
    assert registry.active().version == "1.2"
    assert registry.set_active("default").builtin


def test_unknown_names_and_versions_are_reported_with_what_is_installed(install):
    install("Wood", "1.0")
    registry = ModelRegistry()
    with pytest.raises(PackageError, match=r"no installed model named 'Metal' \(installed: Wood\)"):
        registry.set_active("Metal")
    with pytest.raises(PackageError, match=r"Wood 2.0 is not installed \(installed versions: 1.0\)"):
        registry.set_active("Wood", "2.0")


def test_removing_the_active_model_falls_back_to_the_builtin(install):
    result = install("Wood", "1.0", activate=True)
    registry = ModelRegistry()
    removed, now_active = registry.remove("Wood", "1.0")
    assert removed.key == "wood@1.0"
    assert now_active is not None and now_active.builtin
    assert not result["install_dir"].exists()
    assert not result["install_dir"].parent.exists()  # the name's folder went with its last version
    assert [p.name for p in registry.models_dir.iterdir()] == []
    assert registry.active_model_path() == builtin_path_or_none()


def test_removing_one_version_keeps_the_others(install):
    install("Wood", "1.0")
    install("Wood", "2.0", activate=True)
    removed, now_active = ModelRegistry().remove("Wood", "1.0")
    assert now_active is None
    assert [r.key for r in ModelRegistry().list_models()] == [
        "default@" + ModelRegistry().builtin().version,
        "wood@2.0",
    ]
    assert ModelRegistry().active().key == "wood@2.0"


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe", b'["a list"]', b'{"active": "wood@1.0"}', b'{"active": {"slug": 3}}'],
)
def test_a_corrupt_settings_file_is_moved_aside_and_never_fatal(install, caplog, content):
    install("Wood", "1.0", activate=True)
    registry = ModelRegistry()
    registry.settings_path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="ai.packages.registry"):
        active = registry.active()
    assert active.builtin
    assert "unreadable" in caplog.text
    aside = list(registry.settings_path.parent.glob("models.json.corrupt-*"))
    assert [p.read_bytes() for p in aside] == [content]
    assert not registry.settings_path.exists()
    assert registry.set_active("wood").active  # and the registry keeps working
    assert json.loads(registry.settings_path.read_text())["active"]["slug"] == "wood"


def test_the_settings_file_is_replaced_atomically(install):
    install("Wood", "1.0")
    registry = ModelRegistry()
    for _ in range(3):
        registry.set_active("wood")
        registry.set_active("default")
    assert json.loads(registry.settings_path.read_text()) == {"active": None, "schema_version": 1}
    assert sorted(p.name for p in registry.settings_path.parent.iterdir()) == ["models.json"]


def test_an_active_model_deleted_behind_our_back_falls_back_to_the_builtin(install, caplog):
    result = install("Wood", "1.0", activate=True)
    shutil.rmtree(result["install_dir"])
    with caplog.at_level(logging.WARNING, logger="ai.packages.registry"):
        assert ModelRegistry().active().builtin
    assert "wood@1.0 is no longer installed" in caplog.text


def test_an_unreadable_install_folder_is_skipped_with_a_warning(install, caplog):
    install("Wood", "1.0")
    broken = install("Metal", "1.0")["install_dir"]
    (broken / "metadata.json").write_text("{broken")
    with caplog.at_level(logging.WARNING, logger="ai.packages.registry"):
        keys = [r.key for r in ModelRegistry().installed()]
    assert keys == ["wood@1.0"]
    assert "skipping installed model" in caplog.text and "metal" in caplog.text


def test_upgrades_point_older_versions_at_the_newest(install):
    install("Wood", "1.0")
    install("Wood", "1.5")
    install("Wood", "2.0")
    install("Sky", "1.0")
    upgrades = ModelRegistry().upgrades()
    assert {k: v.key for k, v in upgrades.items()} == {"wood@1.0": "wood@2.0", "wood@1.5": "wood@2.0"}


def test_a_different_name_for_the_same_folder_is_refused_not_taken_for_an_upgrade(install):
    install("Wood & Metal", "1.0", activate=True)
    with pytest.raises(PackageError, match="another model, 'Wood & Metal', is installed as wood-metal"):
        install("Wood Metal", "2.0")  # same folder name, a different model
    registry = ModelRegistry()
    active = registry.active()
    assert (active.name, active.version) == ("Wood & Metal", "1.0")
    assert [(r.name, r.version) for r in registry.installed()] == [("Wood & Metal", "1.0")]
