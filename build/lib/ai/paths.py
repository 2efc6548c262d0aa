"""Where bundled resources and per-user files live, frozen (PyInstaller) or not."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "texture-sorter"
_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def bundle_root() -> Path:
    """Folder holding `resources/` and `models/`: the PyInstaller bundle or the checkout/site-packages."""
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) if frozen else _SOURCE_ROOT


def resource_path(*parts: str) -> Path:
    """Path of a bundled file under `resources/`."""
    return bundle_root().joinpath("resources", *parts)


def model_path(*parts: str) -> Path:
    """Path of a shipped file under `models/`."""
    return bundle_root().joinpath("models", *parts)


def _user_dir(kind: str) -> Path:
    # TEXTURE_SORTER_HOME isolates tests and portable installs from the real user folders.
    override = os.environ.get("TEXTURE_SORTER_HOME")
    if override:
        path = Path(override) / kind
    else:
        getter = {
            "data": platformdirs.user_data_dir,
            "config": platformdirs.user_config_dir,
            "cache": platformdirs.user_cache_dir,
            "log": platformdirs.user_log_dir,
        }[kind]
        path = Path(getter(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_data_dir() -> Path:
    return _user_dir("data")


def user_config_dir() -> Path:
    return _user_dir("config")


def user_cache_dir() -> Path:
    return _user_dir("cache")


def user_log_dir() -> Path:
    return _user_dir("log")
