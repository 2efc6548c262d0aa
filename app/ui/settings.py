"""The GUI's typed settings: every option with its type and default in one table, stored with QSettings.

The file is an INI in the user config folder (`gui.ini`), so a portable or test run with
TEXTURE_SORTER_HOME never touches the real user's settings. `schema_version` lets a later
release migrate old keys (Picard's upgrade hooks); unknown or badly typed values fall back to
their defaults instead of breaking the start-up.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from ai.paths import user_config_dir
from app.pipeline import DEFAULT_BATCH

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SETTINGS_FILE = "gui.ini"
MAX_RECENT = 10


@dataclass(frozen=True)
class Option:
    key: str
    type: type
    default: Any
    doc: str


OPTIONS: dict[str, Option] = {
    o.key: o
    for o in (
        Option("view/mode", str, "grid", "grid or details"),
        Option("view/sort_key", str, "name", "name, category, confidence, size or folder"),
        Option("view/sort_descending", bool, False, "sort order"),
        Option("view/icon_size", int, 112, "thumbnail size in the grid, pixels"),
        Option("view/uncertain_below", float, 0.5, "items below this confidence are marked uncertain"),
        Option("view/channels", str, "auto", "auto, rgba, rgb or alpha: how textures' channels are shown"),
        Option("thumbnails/disk_cache", bool, True, "keep decoded thumbnails in the user cache folder"),
        Option("thumbnails/memory_mb", int, 96, "memory for decoded thumbnails, MiB"),
        Option("classify/threads", int, 0, "pipeline workers (0: one per core)"),
        Option("classify/batch_size", int, DEFAULT_BATCH, "images per model call"),
        Option("folders/last", str, "", "the folder opened last"),
        Option("folders/recent", list, [], "recently opened folders, newest first"),
        Option("sort/recent_outputs", list, [], "output folders of recent sorts (checked at start-up)"),
        Option("sort/last_output", str, "", "output folder of the last sort"),
        Option("sort/mode", str, "copy", "copy or move"),
        Option("sort/layout", str, "category", "category, category-format or flat"),
        Option("sort/keep_structure", bool, False, "keep the source folders inside each category"),
        Option("sort/dedupe", str, "off", "off, exact or near"),
        Option("sort/duplicates", str, "separate", "separate or together"),
        Option("sort/min_confidence", float, 0.0, "below this, files go to the unsorted folder"),
        Option("sort/unsorted_name", str, "_unsorted", "name of the unsorted folder"),
        Option("training/folder", str, "", "last labelled folder used for training"),
        Option("training/epochs", int, 20, "epochs"),
        Option("training/learning_rate", float, 0.003, "learning rate"),
        Option("training/mode", str, "fine-tune", "fine-tune or scratch"),
        Option("training/name", str, "My trained model", "the name a trained model is installed under"),
        Option("window/geometry", QByteArray, QByteArray(), "main window geometry"),
        Option("window/state", QByteArray, QByteArray(), "tool bars and docks"),
        Option("window/splitter", QByteArray, QByteArray(), "sidebar | results | details splitter"),
    )
}


def settings_path() -> str:
    return os.fspath(user_config_dir() / SETTINGS_FILE)


class Settings:
    """Typed access to the GUI settings; `get`/`set` only accept keys declared in OPTIONS."""

    def __init__(self, path: str | None = None):
        self._qs = QSettings(path or settings_path(), QSettings.Format.IniFormat)
        self._migrate()

    @property
    def path(self) -> str:
        return self._qs.fileName()

    def _migrate(self) -> None:
        stored = self._qs.value("meta/schema_version")
        try:
            version = int(stored) if stored is not None else 0
        except (TypeError, ValueError):
            version = 0
        if version > SCHEMA_VERSION:
            log.warning("%s is from a newer version (%s); unknown keys are ignored", self.path, version)
        # Version 0 → 1: nothing to rename yet; later releases add their steps here.
        self._qs.setValue("meta/schema_version", SCHEMA_VERSION)

    def get(self, key: str) -> Any:
        option = OPTIONS[key]
        raw = self._qs.value(key)
        if raw is None:
            return _copy(option.default)
        try:
            return _convert(raw, option.type)
        except (TypeError, ValueError):
            log.warning("settings: %s has an unusable value %r; using the default", key, raw)
            return _copy(option.default)

    def set(self, key: str, value: Any) -> None:
        option = OPTIONS[key]
        if option.type is list:
            value = [str(v) for v in value]
        self._qs.setValue(key, value)

    def sync(self) -> None:
        self._qs.sync()

    def remember_folder(self, key: str, folder: str) -> list[str]:
        """Put `folder` first in a recent list (`folders/recent` or `sort/recent_outputs`)."""
        folder = os.path.abspath(folder)
        items = [f for f in self.get(key) if os.path.abspath(f) != folder]
        items.insert(0, folder)
        del items[MAX_RECENT:]
        self.set(key, items)
        return items


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _convert(raw: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(raw, str):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        return bool(raw)
    if kind is list:
        # QSettings reads a one-element list back as a plain string, and an empty one as None.
        if isinstance(raw, str):
            return [raw] if raw else []
        return [str(v) for v in raw]
    if kind is QByteArray:
        return raw if isinstance(raw, QByteArray) else QByteArray(raw)
    return kind(raw)
