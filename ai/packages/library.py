"""The user's model library: which catalogs they follow, their cached indexes, installing and updates.

`catalogs.json` in the user config folder lists the catalogs and the update-check setting:

    {"schema_version": 1, "catalogs": [{"url": "https://…/index.json", "added": "…"}],
     "update_check": {"enabled": true, "last_checked": 1718000000.0}}

Each index fetched is kept in `<user cache>/catalogs/<sha256 of its URL>.json`, so lists, installs
from file catalogs and update checks still work offline from the last copy (and say so). Installing
downloads to `<user cache>/downloads/`, checks size and sha256 against the catalog, checks that the
package's signature is the one the catalog names, then hands the file to `ModelImporter`, which
validates it again and installs it atomically next to older versions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ai.errors import CatalogError, PackageError
from ai.packages.catalog import CatalogEntry, CatalogIndex, newest, parse_index, source_url
from ai.packages.download import DEFAULT_TIMEOUT, Progress, download_package, fetch_bytes
from ai.packages.exporter import ModelImporter
from ai.packages.files import write_json
from ai.packages.keys import KeyStore
from ai.packages.registry import ModelRecord, ModelRegistry
from ai.packages.schema import DEFAULT_LIMITS, PackageLimits, slugify, version_key
from ai.packages.signing import TRUSTED, UNKNOWN, UNSIGNED, SignatureCheck, check_package
from ai.paths import user_cache_dir, user_config_dir

log = logging.getLogger(__name__)

CATALOGS_FILE = "catalogs.json"
SCHEMA_VERSION = 1
CHECK_INTERVAL_S = 24 * 3600


@dataclass
class CatalogStatus:
    """How reading one catalog went: fresh, from the cache (with the reason), or not at all."""

    url: str
    index: CatalogIndex | None
    fetched_at: float | None = None
    from_cache: bool = False
    error: str | None = None

    def describe(self) -> str:
        name = self.index.name if self.index else self.url
        if self.error and self.index is not None:
            when = datetime.fromtimestamp(self.fetched_at or 0).strftime("%Y-%m-%d %H:%M")
            return f"{name}: offline copy from {when} ({self.error})"
        if self.error:
            return f"{name}: not available ({self.error})"
        return f"{name}: {len(self.index.entries)} models" if self.index else name


@dataclass(frozen=True)
class Update:
    """A newer catalog version of an installed model."""

    installed: ModelRecord
    entry: CatalogEntry


class ModelLibrary:
    """Catalogs, their cached indexes, installs from them and update checks."""

    def __init__(
        self,
        registry: ModelRegistry | None = None,
        *,
        config_path: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        trust: KeyStore | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        limits: PackageLimits = DEFAULT_LIMITS,
    ):
        self.registry = registry or ModelRegistry()
        self.trust = trust or KeyStore()
        self.timeout = timeout
        self.limits = limits
        self._config_path = Path(config_path) if config_path else None
        self._cache_dir = Path(cache_dir) if cache_dir else None
        self._lock = threading.Lock()

    @property
    def config_path(self) -> Path:
        return self._config_path or user_config_dir() / CATALOGS_FILE

    @property
    def cache_dir(self) -> Path:
        return self._cache_dir or user_cache_dir() / "catalogs"

    # -- the catalogs -----------------------------------------------------------------------------

    def catalogs(self) -> list[str]:
        return [c["url"] for c in self._load()["catalogs"]]

    def add(self, source: str) -> CatalogIndex:
        """Follow a catalog; it is read (and cached) first, so a broken one is never added."""
        url = source_url(source)
        index = self._fetch(url)
        config = self._load()
        if url not in [c["url"] for c in config["catalogs"]]:
            config["catalogs"].append({"url": url, "added": _now_iso()})
            self._save(config)
        return index

    def remove(self, source: str) -> str:
        url = self._known(source)
        config = self._load()
        config["catalogs"] = [c for c in config["catalogs"] if c["url"] != url]
        self._save(config)
        with contextlib.suppress(OSError):
            self._cache_file(url).unlink()
        return url

    def _known(self, source: str) -> str:
        urls = self.catalogs()
        if source in urls:
            return source
        with contextlib.suppress(CatalogError):
            if (url := source_url(source)) in urls:
                return url
        raise CatalogError(f"{source}: not one of your catalogs ({', '.join(urls) or 'none yet'})")

    # -- reading indexes ----------------------------------------------------------------------------

    def _fetch(self, url: str) -> CatalogIndex:
        data = fetch_bytes(url, timeout=self.timeout)
        index = parse_index(data, url)
        for problem in index.problems:
            log.warning("%s: %s", url, problem)
        self._write_cache(url, data)
        return index

    def status(self, url: str, *, refresh: bool = True) -> CatalogStatus:
        """One catalog: fetched when `refresh` (or not cached), else (or when that fails) the cached copy."""
        cached = self._read_cache(url)
        if refresh or cached is None:
            try:
                return CatalogStatus(url, self._fetch(url), time.time())
            except CatalogError as exc:
                if cached is None:
                    return CatalogStatus(url, None, error=str(exc).removeprefix(f"{url}: "))
                return CatalogStatus(url, cached[0], cached[1], True, str(exc).removeprefix(f"{url}: "))
        return CatalogStatus(url, cached[0], cached[1], True)

    def statuses(self, *, refresh: bool = False) -> list[CatalogStatus]:
        return [self.status(url, refresh=refresh) for url in self.catalogs()]

    @staticmethod
    def entries(statuses: list[CatalogStatus]) -> list[CatalogEntry]:
        return [e for s in statuses if s.index is not None for e in s.index.entries]

    def find(self, name: str, version: str | None = None, *, refresh: bool = False) -> CatalogEntry:
        """The catalog entry for NAME (newest installable version when none is given)."""
        statuses = self.statuses(refresh=refresh)
        if not statuses:
            raise CatalogError("you follow no catalogs yet; add one with: texture-sorter catalog add URL")
        matches = [e for e in self.entries(statuses) if e.slug == slugify(name)]
        if not matches:
            offline = [s.describe() for s in statuses if s.error]
            hint = f" ({'; '.join(offline)})" if offline else ""
            raise CatalogError(f"no catalog offers a model called {name!r}{hint}")
        if version is not None:
            exact = [e for e in matches if e.version == version]
            if not exact:
                have = ", ".join(sorted({e.version for e in matches}, key=version_key))
                raise CatalogError(f"{matches[0].name} {version} is not in your catalogs (versions: {have})")
            return exact[0]
        best = newest(matches).get(slugify(name))
        if best is None:
            need = min((e.min_app_version for e in matches), key=version_key)
            raise CatalogError(f"{matches[0].name} needs Texture Sorter {need} or newer")
        return best

    # -- what an entry is to this user ------------------------------------------------------------

    def claimed_signature(self, entry: CatalogEntry) -> SignatureCheck:
        """What the catalog says about the signature, against the trust store (checked for real on install)."""
        if entry.key_id is None:
            return SignatureCheck(UNSIGNED)
        trusted = self.trust.lookup(entry.key_id)
        if trusted is not None:
            return SignatureCheck(TRUSTED, entry.key_id, trusted.name, entry.signature)
        return SignatureCheck(UNKNOWN, entry.key_id, entry.publisher or "?", entry.signature)

    def installed_versions(self) -> dict[str, list[str]]:
        versions: dict[str, list[str]] = {}
        for record in self.registry.installed():
            versions.setdefault(record.slug, []).append(record.version)
        return versions

    def updates(self, statuses: list[CatalogStatus]) -> list[Update]:
        """Installed models with a newer installable version in the catalogs (one per model)."""
        newest_installed: dict[str, ModelRecord] = {}
        for record in self.registry.installed():
            known = newest_installed.get(record.slug)
            if known is None or version_key(record.version) > version_key(known.version):
                newest_installed[record.slug] = record
        offered = newest(self.entries(statuses))
        return [
            Update(record, offered[slug])
            for slug, record in sorted(newest_installed.items())
            if slug in offered and version_key(offered[slug].version) > version_key(record.version)
        ]

    # -- installing ----------------------------------------------------------------------------------

    def install(
        self,
        entry: CatalogEntry,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        activate: bool = False,
        replace: bool = False,
    ) -> dict[str, Any]:
        """Download, check and install one entry; returns ModelImporter's result. Nothing is installed on failure."""
        if not entry.compatible:
            raise CatalogError(f"{entry.name} {entry.version} needs Texture Sorter {entry.min_app_version} or newer")
        if entry.size > self.limits.max_total_bytes:
            raise CatalogError(
                f"{entry.url}: the catalog lists {entry.size} bytes; packages are at most {self.limits.max_total_bytes}"
            )
        path = download_package(entry.url, user_cache_dir() / "downloads", entry.size, entry.sha256,
                                progress=progress, cancel=cancel, timeout=self.timeout)  # fmt: skip
        try:
            where = f"{entry.name} {entry.version} from {entry.catalog_name or entry.catalog}"
            try:
                signature = check_package(path, self.trust, self.limits)
            except PackageError as exc:
                raise PackageError(f"{where}: {str(exc).removeprefix(f'{path}: ')}") from exc
            if (entry.key_id or None) != signature.key_id or (entry.signature and entry.signature != signature.signature):
                raise PackageError(
                    f"{where}: the catalog says it is signed by key {entry.key_id or '(none)'}, but the package is "
                    f"{signature.describe()}; nothing was installed"
                )
            try:
                return ModelImporter(self.registry, self.limits, self.trust).import_model(
                    path, replace=replace, activate=activate
                )
            except PackageError as exc:
                raise PackageError(f"{where}: {str(exc).removeprefix(f'{path}: ')}") from exc
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    # -- update checks ---------------------------------------------------------------------------------

    @property
    def auto_check(self) -> bool:
        return bool(self._load()["update_check"].get("enabled", True))

    def set_auto_check(self, enabled: bool) -> None:
        config = self._load()
        config["update_check"]["enabled"] = bool(enabled)
        self._save(config)

    def check_due(self, now: float | None = None) -> bool:
        """Whether the start-up check should run: enabled, catalogs followed, none in the last day."""
        config = self._load()
        check = config["update_check"]
        if not check.get("enabled", True) or not config["catalogs"]:
            return False
        last = check.get("last_checked", 0.0)
        now = time.time() if now is None else now
        return not isinstance(last, (int, float)) or not 0 <= now - last < CHECK_INTERVAL_S

    def check_for_updates(self, *, refresh: bool = True) -> tuple[list[Update], list[CatalogStatus]]:
        """Refresh the catalogs (the cached copies where offline) and list the updates; notes the time."""
        statuses = self.statuses(refresh=refresh)
        config = self._load()
        config["update_check"]["last_checked"] = time.time()
        self._save(config)
        return self.updates(statuses), statuses

    # -- files -------------------------------------------------------------------------------------------

    def _cache_file(self, url: str) -> Path:
        return self.cache_dir / f"{hashlib.sha256(url.encode('utf-8')).hexdigest()[:24]}.json"

    def _write_cache(self, url: str, data: bytes) -> None:
        record = {"url": url, "fetched_at": time.time(), "index": data.decode("utf-8-sig")}
        try:
            write_json(self._cache_file(url), record)
        except OSError as exc:  # a cache is a convenience: the catalog was read all the same
            log.warning("cannot cache the catalog %s: %s", url, exc)

    def _read_cache(self, url: str) -> tuple[CatalogIndex, float] | None:
        path = self._cache_file(url)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if record.get("url") != url:
                return None
            return parse_index(record["index"].encode("utf-8"), url), float(record["fetched_at"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, CatalogError) as exc:
            log.warning("ignoring the unreadable cached catalog %s (%s)", path, exc)
            return None

    def _load(self) -> dict[str, Any]:
        fresh: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "catalogs": [], "update_check": {"enabled": True}}
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return fresh
        except (OSError, ValueError) as exc:
            log.warning("%s is unreadable (%s); no catalogs are followed until it is fixed", self.config_path, exc)
            return fresh
        if not isinstance(data, dict):
            return fresh
        catalogs = [c for c in data.get("catalogs", []) if isinstance(c, dict) and isinstance(c.get("url"), str)]
        check = data.get("update_check") if isinstance(data.get("update_check"), dict) else {}
        return {**fresh, "catalogs": catalogs, "update_check": {"enabled": True, **check}}

    def _save(self, config: dict[str, Any]) -> None:
        with self._lock:
            write_json(self.config_path, {**config, "schema_version": SCHEMA_VERSION})


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


