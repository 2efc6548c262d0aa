"""Online settings: defaults, validation, the settings file, and where the API key is kept.

The test machine has no OS keyring, so the default path is the settings-file fallback with a
warning. The keyring path runs against a real in-memory `keyring` backend set with
`keyring.set_keyring` (a backend implementation, not a stand-in for our code).
"""

from __future__ import annotations

import json
import logging
import os
import stat

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

from ai.errors import OnlineError
from ai.online import secrets
from ai.online.config import OnlineSettings, load_settings, save_settings, settings_path
from ai.online.model import OnlineModel

KEY = "sk-test-9f8e7d6c5b4a"


class _InstanceOnlyPriority:
    """keyring auto-selects every KeyringBackend subclass it can rate; raising on the class keeps
    these test backends out of that choice (in this and every other test), while an instance set
    with `keyring.set_keyring` still reports a normal priority."""

    def __get__(self, obj, owner):
        if obj is None:
            raise RuntimeError("test backend: only used when set explicitly")
        return 1


class MemoryKeyring(KeyringBackend):
    """A complete keyring backend that keeps secrets in a dict."""

    priority = _InstanceOnlyPriority()

    def __init__(self):
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def delete_password(self, service, username):
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError(username) from None


class LockedKeyring(MemoryKeyring):
    """A keyring that exists but refuses to store (a locked wallet)."""

    def set_password(self, service, username, password):
        raise keyring.errors.KeyringLocked("the wallet is locked")


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_defaults_are_disabled_and_complete():
    settings = OnlineSettings()
    assert settings.enabled is False and settings.provider == "classify"
    assert (
        settings.timeout > 0 and settings.max_requests_per_minute > 0 and settings.max_requests_per_hour > 0
    )
    assert OnlineModel.from_config(settings) is None
    assert OnlineModel.from_config({"api_url": "http://127.0.0.1:1"}) is None
    assert OnlineModel.from_config(None) is None


def test_from_dict_coerces_types_and_ignores_unknown_keys(caplog):
    with caplog.at_level(logging.WARNING):
        settings = OnlineSettings.from_dict(
            {"enabled": "yes", "timeout": "2.5", "max_requests_per_minute": "7", "colour": "blue"}
        )
    assert settings.enabled is True and settings.timeout == 2.5 and settings.max_requests_per_minute == 7
    assert "colour" in caplog.text


@pytest.mark.parametrize(
    "data",
    [{"timeout": 0}, {"timeout": "soon"}, {"image_size": 4}, {"image_format": "gif"}, {"threshold": 2}],
)
def test_invalid_values_raise_online_error_naming_the_setting(data):
    with pytest.raises(OnlineError) as err:
        OnlineSettings.from_dict(data)
    assert next(iter(data)) in str(err.value)


def test_repr_never_shows_the_key():
    assert KEY not in repr(OnlineSettings(api_key=KEY))


def test_without_keyring_the_key_goes_to_the_file_with_a_warning(caplog):
    assert not secrets.keyring_available()  # this machine has no OS keyring backend
    settings = OnlineSettings(enabled=True, provider="openai", api_key=KEY, timeout=3.0)
    with caplog.at_level(logging.DEBUG):
        path = save_settings(settings)
    assert path == settings_path()
    data = json.loads(path.read_text())
    assert data["api_key"] == KEY and data["api_key_in_keyring"] is False
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("plain text" in r.getMessage() for r in warnings)
    assert KEY not in caplog.text
    loaded = load_settings()
    assert loaded.api_key == KEY and loaded.provider == "openai" and loaded.timeout == 3.0


def test_with_keyring_the_key_stays_out_of_the_file(memory_keyring, caplog):
    assert secrets.keyring_available()
    settings = OnlineSettings(enabled=True, provider="huggingface", api_key=KEY)
    with caplog.at_level(logging.DEBUG):
        path = save_settings(settings)
    text = path.read_text()
    assert KEY not in text and json.loads(text)["api_key_in_keyring"] is True
    assert memory_keyring.entries == {(secrets.SERVICE, "online-huggingface"): KEY}
    assert KEY not in caplog.text
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)
    assert load_settings().api_key == KEY
    # The app builds the model from settings without a key: it comes from the keyring.
    model = OnlineModel.from_config({"enabled": True, "provider": "huggingface"})
    try:
        assert model is not None and model._key == KEY
    finally:
        model.close()


def test_a_key_kept_in_the_file_moves_to_the_keyring_on_the_next_save(memory_keyring):
    path = settings_path()
    path.write_text(json.dumps({"provider": "openai", "api_key": KEY}))
    settings = load_settings()
    assert settings.api_key == KEY
    save_settings(settings)
    assert KEY not in path.read_text()
    assert memory_keyring.entries[(secrets.SERVICE, "online-openai")] == KEY


def test_clearing_the_key_deletes_the_keyring_entry(memory_keyring):
    save_settings(OnlineSettings(provider="openai", api_key=KEY))
    save_settings(OnlineSettings(provider="openai", api_key=""))
    assert memory_keyring.entries == {}
    assert load_settings().api_key == ""


def test_each_provider_keeps_its_own_key(memory_keyring):
    save_settings(OnlineSettings(provider="openai", api_key="sk-openai-1234"))
    save_settings(OnlineSettings(provider="huggingface", api_key="hf_abcdef1234"))
    assert load_settings().api_key == "hf_abcdef1234"
    # Switching back to openai in the file finds that provider's key again.
    data = json.loads(settings_path().read_text())
    settings_path().write_text(json.dumps({**data, "provider": "openai"}))
    assert load_settings().api_key == "sk-openai-1234"


def test_a_refusing_keyring_falls_back_to_the_file(caplog):
    previous = keyring.get_keyring()
    keyring.set_keyring(LockedKeyring())
    try:
        with caplog.at_level(logging.WARNING):
            path = save_settings(OnlineSettings(provider="openai", api_key=KEY))
    finally:
        keyring.set_keyring(previous)
    assert json.loads(path.read_text())["api_key"] == KEY
    assert "KeyringLocked" in caplog.text and "plain text" in caplog.text
    assert KEY not in caplog.text


def test_unreadable_settings_file_gives_defaults_and_a_warning(caplog):
    settings_path().write_text("{not json")
    with caplog.at_level(logging.WARNING):
        settings = load_settings()
    assert settings == OnlineSettings()
    assert "unreadable online settings" in caplog.text
    settings_path().write_text(json.dumps({"timeout": -1}))
    assert load_settings() == OnlineSettings()


def test_manager_options_carry_uncertain_only_mode():
    from ai.online.model import manager_options

    options = manager_options(OnlineSettings(enabled=False, uncertain_only=False, threshold=0.3))
    assert options == {"online": None, "online_uncertain_only": False, "online_threshold": 0.3}
