"""Installed models: the shipped default, the imported ones under models/<slug>/<version>/, and the active one.

The folders are the truth about what is installed (each holds model.onnx, metadata.json,
categories.json and install.json, written by `ai.packages.exporter.ModelImporter`); the small
settings file `models.json` in the user config folder only remembers which model is active:

    {"schema_version": 1, "active": {"slug": "wood-and-metal", "version": "1.2"}}

`"active": null` (or no file) means the built-in model. The file is replaced atomically; an
unreadable one is moved aside with a warning and the built-in model is used.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ai import __version__ as APP_VERSION
from ai.errors import ModelError, PackageError
from ai.inference import OnnxInferenceSession
from ai.packages.files import write_json
from ai.packages.schema import RESERVED_NAMES, slugify, version_key, version_problem
from ai.paths import model_path, user_config_dir, user_data_dir
from ai.taxonomy import default_categories

log = logging.getLogger(__name__)

# A killed import leaves its staging folder (.import-<pid>-…) in the models folder, and a killed
# removal its .removing-… folder; they are removed at the next start once no live process owns them.
STAGING_PREFIX = ".import-"
_STALE_AFTER_S = 3600.0  # for names without a live owner to ask about (or whose pid may be reused)
SETTINGS_FILE = "models.json"
SETTINGS_SCHEMA_VERSION = 1
INSTALL_INFO = "install.json"
BUILTIN_NAME = "default"
BUILTIN_FILE = "default.onnx"
_builtin_cache: dict[tuple, dict[str, str]] = {}


@dataclass
class ModelRecord:
    """One model the user can choose."""

    name: str
    slug: str
    version: str
    model_path: Path
    categories: list[str]
    size: int
    source: str
    builtin: bool = False
    install_dir: Path | None = None
    author: str = ""
    description: str = ""
    license: str = ""
    tags: list[str] = field(default_factory=list)
    created: str = ""
    input_size: int | None = None
    available: bool = True
    active: bool = False

    @property
    def key(self) -> str:
        return f"{self.slug}@{self.version}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            key=self.key,
            model_path=str(self.model_path),
            install_dir=self.install_dir and str(self.install_dir),
        )
        return data


class ModelRegistry:
    """Lists, selects and removes models; `ModelImporter` reports installs through `note_installed`."""

    def __init__(
        self,
        models_dir: str | os.PathLike[str] | None = None,
        settings_path: str | os.PathLike[str] | None = None,
    ):
        self._models_dir = Path(models_dir) if models_dir else None
        self._settings_path = Path(settings_path) if settings_path else None

    @property
    def models_dir(self) -> Path:
        return self._models_dir or user_data_dir() / "models"

    @property
    def settings_path(self) -> Path:
        return self._settings_path or user_config_dir() / SETTINGS_FILE

    # -- listing ------------------------------------------------------------------------------

    def builtin(self) -> ModelRecord:
        path = model_path(BUILTIN_FILE)
        meta = _builtin_metadata(path)
        try:
            categories = json.loads(meta["categories"])
        except (KeyError, ValueError):
            categories = default_categories()
        return ModelRecord(
            name=meta.get("name", BUILTIN_NAME),
            slug=BUILTIN_NAME,
            version=meta.get("version", APP_VERSION),
            model_path=path,
            categories=categories,
            size=path.stat().st_size if path.is_file() else 0,
            source="built-in",
            builtin=True,
            description=meta.get("description", "the model shipped with Texture Sorter"),
            available=path.is_file(),
        )

    def installed(self) -> list[ModelRecord]:
        """Imported models, by slug then version; unreadable folders are skipped with a warning."""
        records = []
        root = self.models_dir
        if not root.is_dir():
            return []
        for slug_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            versions = [p for p in slug_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
            for version_dir in sorted(versions, key=lambda p: version_key(p.name)):
                try:
                    records.append(_read_installed(version_dir))
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    log.warning("skipping installed model %s: %s", version_dir, exc)
        return records

    def list_models(self) -> list[ModelRecord]:
        """The built-in model first, then the installed ones; exactly one is marked active."""
        records = [self.builtin(), *self.installed()]
        active = self._active_key(records)
        for record in records:
            record.active = record.key == active
        return records

    def active(self) -> ModelRecord:
        return next(r for r in self.list_models() if r.active)

    def active_model_path(self) -> Path | None:
        # Cheap path for start-up: no model is loaded just to read the built-in one's metadata.
        selected = self._selected()
        if selected is not None:
            return self.models_dir / selected[0] / selected[1] / "model.onnx"
        builtin = model_path(BUILTIN_FILE)
        return builtin if builtin.is_file() else None

    def find(self, name: str, version: str | None = None) -> ModelRecord:
        """The model called `name` (display name or slug; "default" is the built-in), newest if no version."""
        records = self.list_models()
        slug = slugify(name)
        if slug in RESERVED_NAMES:
            return records[0]
        matches = [r for r in records[1:] if r.slug == slug]
        if not matches:
            names = ", ".join(sorted({r.name for r in records[1:]})) or "none"
            raise PackageError(f"no installed model named {name!r} (installed: {names})")
        if version is None:
            return max(matches, key=lambda r: version_key(r.version))
        for record in matches:
            if record.version == version:
                return record
        have = ", ".join(r.version for r in matches)
        raise PackageError(f"{matches[0].name} {version} is not installed (installed versions: {have})")

    def upgrades(self) -> dict[str, ModelRecord]:
        """For each installed model with a newer installed version of the same name: key → newest."""
        newest: dict[str, ModelRecord] = {}
        installed = self.installed()
        for record in installed:
            best = newest.get(record.slug)
            if best is None or version_key(record.version) > version_key(best.version):
                newest[record.slug] = record
        return {r.key: newest[r.slug] for r in installed if newest[r.slug].key != r.key}

    # -- changing ------------------------------------------------------------------------------

    def set_active(self, name: str, version: str | None = None) -> ModelRecord:
        record = self.find(name, version)
        if not record.available:  # still a valid choice: "no imported model"; classification uses the rules
            log.warning("the built-in model file %s is missing", record.model_path)
        self._save_active(None if record.builtin else record)
        record.active = True
        return record

    def remove(self, name: str, version: str) -> tuple[ModelRecord, ModelRecord | None]:
        """Delete an installed model; returns it and, when it was active, the model now active."""
        record = self.find(name, version)
        if record.builtin:
            raise PackageError("the built-in model cannot be removed")
        assert record.install_dir is not None
        trash = self.models_dir / f".removing-{uuid.uuid4().hex}"
        try:
            os.rename(record.install_dir, trash)  # atomic: the model is either there or gone
        except OSError as exc:
            raise PackageError(f"{record.install_dir}: cannot remove ({exc})") from exc
        shutil.rmtree(trash, ignore_errors=True)
        with contextlib.suppress(OSError):
            record.install_dir.parent.rmdir()  # the name's folder, once its last version is gone
        new_active = None
        if record.active:
            self._save_active(None)
            new_active = self.active()
        log.info("removed model %s", record.key)
        return record, new_active

    def remove_stale_work(self) -> list[Path]:
        """Remove the staging folders of imports (and removals) that were killed; returns them."""
        root = self.models_dir
        try:
            entries = [p for p in root.iterdir() if p.name.startswith((STAGING_PREFIX, ".removing-"))]
        except OSError:
            return []  # no models folder yet
        removed = []
        for folder in entries:
            if _owned_by_a_live_import(folder):
                continue
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                log.info("removed %s, left by an import or removal that did not finish", folder)
                removed.append(folder)
        return removed

    def note_installed(self, slug: str, version: str, activate: bool = False) -> dict[str, Any]:
        """Called after an install: activate it if asked, or if it upgrades the active model."""
        current = self.active()
        upgraded_from = None
        name = _read_installed(self.models_dir / slug / version).name
        if activate or (
            not current.builtin
            and current.slug == slug
            and current.name == name  # the same folder name alone is not the same model
            and version_key(version) > version_key(current.version)
        ):
            if not current.builtin and current.slug == slug and current.version != version:
                upgraded_from = current.version
            self._save_active_key(slug, version)
        return {"active": self.active().key == f"{slug}@{version}", "upgraded_from": upgraded_from}

    # -- settings file -------------------------------------------------------------------------

    def _active_key(self, records: list[ModelRecord]) -> str:
        selected = self._selected()
        return f"{selected[0]}@{selected[1]}" if selected else records[0].key

    def _selected(self) -> tuple[str, str] | None:
        """(slug, version) of the chosen installed model, if the choice is still installed."""
        active = self._load_settings().get("active")
        if not isinstance(active, dict):
            return None
        slug, version = active["slug"], active["version"]
        folder = self.models_dir / slug / version
        # The names come from our own settings file, but a hand-edited one must not point elsewhere.
        if slugify(slug) == slug and version_problem(version) is None:
            try:
                _read_installed(folder)
                return slug, version
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning(
                    "the active model %s@%s is no longer installed (%s); using the built-in model",
                    slug,
                    version,
                    exc,
                )
                return None
        log.warning("ignoring an invalid active model %r in %s", active, self.settings_path)
        return None

    def _save_active(self, record: ModelRecord | None) -> None:
        if record is None:
            self._write_settings({**self._load_settings(), "active": None})
        else:
            self._save_active_key(record.slug, record.version)

    def _save_active_key(self, slug: str, version: str) -> None:
        self._write_settings({**self._load_settings(), "active": {"slug": slug, "version": version}})

    def _load_settings(self) -> dict[str, Any]:
        path = self.settings_path
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("cannot read %s (%s); using the built-in model", path, exc)
            return {}
        try:
            data = json.loads(raw.decode("utf-8"))
            active = data.get("active") if isinstance(data, dict) else None
            if not isinstance(data, dict) or not (
                active is None
                or (
                    isinstance(active, dict)
                    and all(isinstance(active.get(k), str) for k in ("slug", "version"))
                )
            ):
                raise ValueError("unexpected layout")
        except (ValueError, UnicodeDecodeError) as exc:
            aside = path.with_name(f"{path.name}.corrupt-{datetime.now():%Y%m%d-%H%M%S}")
            try:
                os.replace(path, aside)
                log.warning(
                    "%s was unreadable (%s); moved it to %s and reset the active model", path, exc, aside
                )
            except OSError as move_exc:
                log.warning("%s is unreadable (%s) and could not be moved aside (%s)", path, exc, move_exc)
            return {}
        return data

    def _write_settings(self, data: dict[str, Any]) -> None:
        write_json(self.settings_path, {**data, "schema_version": SETTINGS_SCHEMA_VERSION})


def _owned_by_a_live_import(folder: Path) -> bool:
    """Whether a staging folder may still be in use: its process (named in it) runs, or it is recent."""
    try:
        age = time.time() - folder.stat().st_mtime
    except OSError:
        return True  # already gone
    pid_text = (
        folder.name[len(STAGING_PREFIX) :].split("-", 1)[0] if folder.name.startswith(STAGING_PREFIX) else ""
    )
    if pid_text.isdigit() and os.name == "posix" and age < 24 * _STALE_AFTER_S:
        try:
            os.kill(int(pid_text), 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            return False
        except OSError:
            return True  # it exists, under another user
        return True
    # No owner to ask (Windows, where os.kill would end the process; an old-style name): by age.
    return age < _STALE_AFTER_S


def _read_installed(folder: Path) -> ModelRecord:
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    categories = json.loads((folder / "categories.json").read_text(encoding="utf-8"))
    model = folder / "model.onnx"
    if not model.is_file():
        raise ValueError("model.onnx is missing")
    info: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        info = json.loads((folder / INSTALL_INFO).read_text(encoding="utf-8"))
    source = f"imported from {info['source']}" if info.get("source") else "imported"
    if info.get("imported_at"):
        source += f" on {info['imported_at'][:10]}"
    return ModelRecord(
        name=str(meta["name"]),
        slug=folder.parent.name,
        version=folder.name,
        model_path=model,
        categories=list(categories),
        size=model.stat().st_size,
        source=source,
        install_dir=folder,
        author=str(meta.get("author", "")),
        description=str(meta.get("description", "")),
        license=str(meta.get("license", "")),
        tags=list(meta.get("tags", [])),
        created=str(meta.get("created", "")),
        input_size=meta.get("input_size"),
    )


def _builtin_metadata(path: Path) -> dict[str, str]:
    """The shipped model's ONNX metadata, read once per file version."""
    if not path.is_file():
        return {}
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _builtin_cache:
        try:
            _builtin_cache[key] = OnnxInferenceSession(path, num_threads=1).metadata
        except ModelError as exc:
            log.warning("cannot read the built-in model's metadata: %s", exc)
            return {}
    return _builtin_cache[key]


def installed_label(path: str | os.PathLike[str]) -> str | None:
    """"Name version" of the installed model whose file this is, as the Models menu shows it; else None.

    An installed model's ONNX metadata may carry another name (a fine-tuned copy of the default, a
    package renamed on export): the package's name is the one the user chose and sees.
    """
    path = Path(path)
    folder = path.parent
    try:
        if path.name != "model.onnx" or folder.parent.parent.resolve() != ModelRegistry().models_dir.resolve():
            return None
        meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
        return f"{meta['name']} {folder.name}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def active_model_path() -> Path | None:
    """The model the user chose (or the shipped default); None when neither is present.

    Every start asks this first, so it also clears what killed imports left behind.
    """
    registry = ModelRegistry()
    registry.remove_stale_work()
    return registry.active_model_path()
