"""Model catalogs: the versioned JSON index of shareable `.ps2model` packages, reading it and writing it.

A catalog is one static file (`index.json`) that any web server, a shared folder or a `file://`
URL can serve; `catalog_version` 1 (the README shows an example):

    catalog_version  int    required  this build reads 1; a newer one is refused with a clear message
    name             str    required  what the catalog is called in lists
    description      str    optional
    updated          str    optional  ISO 8601 time the index was written
    packages         list   required  the entries below; an invalid entry is skipped with a warning

each entry (unknown keys are ignored, so later minor versions can add fields):

    name, version    str    required  as in the package's metadata.json
    url              str    required  the package file, relative to the index or absolute
                                      (http/https; file only in a file catalog)
    size             int    required  bytes of the package file: the download is capped at it
    sha256           str    required  of the package file: checked before anything is installed
    categories       [str]  required  the category ids the model sorts into
    min_app_version  str    required  oldest Texture Sorter that can use the package
    author, description, license  str    optional
    tags             [str]  optional
    key_id           str    optional  id of the publisher key that signed the package (null: unsigned)
    publisher        str    optional  the name that key's owner gave it (shown until you trust the key)
    signature        str    optional  the package's Ed25519 signature (from its signature.json)
    published        str    optional  ISO 8601
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlparse

from ai.errors import CatalogError
from ai.packages.schema import (
    CONTROL_CHARS,
    category_problem,
    is_app_compatible,
    slugify,
    version_key,
    version_problem,
)

CATALOG_VERSION = 1
SUPPORTED_CATALOG_VERSIONS = (1,)
INDEX_NAME = "index.json"
MAX_INDEX_BYTES = 4 << 20
MAX_ENTRIES = 5000
_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class CatalogEntry:
    """One package a catalog offers."""

    name: str
    version: str
    url: str  # resolved against the index: absolute
    size: int
    sha256: str
    categories: tuple[str, ...]
    min_app_version: str
    author: str = ""
    description: str = ""
    license: str = ""
    tags: tuple[str, ...] = ()
    key_id: str | None = None
    publisher: str = ""
    signature: str | None = None
    published: str = ""
    catalog: str = ""  # the index URL it came from
    catalog_name: str = ""

    @property
    def slug(self) -> str:
        return slugify(self.name)

    @property
    def key(self) -> str:
        return f"{self.slug}@{self.version}"

    @property
    def compatible(self) -> bool:
        return is_app_compatible(self.min_app_version)

    def to_json(self) -> dict[str, Any]:
        """The entry as an index stores it (`url` made relative to `base` by `write_index`)."""
        return {
            "name": self.name, "version": self.version, "url": self.url, "size": self.size,
            "sha256": self.sha256, "categories": list(self.categories),
            "min_app_version": self.min_app_version, "author": self.author,
            "description": self.description, "license": self.license, "tags": list(self.tags),
            "key_id": self.key_id, "publisher": self.publisher, "signature": self.signature,
            "published": self.published,
        }  # fmt: skip


@dataclass
class CatalogIndex:
    """A parsed index: its entries and what was wrong with the ones that were skipped."""

    url: str
    name: str
    description: str = ""
    updated: str = ""
    entries: list[CatalogEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def source_url(source: str) -> str:
    """A catalog as the user gave it (URL, `file://` URL, folder or file path) → the index's URL."""
    text = source.strip()
    scheme = urlparse(text).scheme.lower()
    if scheme in ("http", "https"):
        return text
    if scheme == "file":
        path = Path(unquote(urlparse(text).path))
    elif scheme and len(scheme) > 1:  # "c:" is a Windows drive, not a scheme
        raise CatalogError(f"{source}: a catalog is an http(s):// or file:// URL, or a folder or file path")
    else:
        path = Path(os.path.expanduser(text))
    path = path.resolve()
    if path.is_dir() or not path.suffix:
        path = path / INDEX_NAME
    return path.as_uri()


def local_path(url: str) -> Path | None:
    """The file a `file://` URL names, None for other URLs."""
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def _text(raw: dict, key: str, problems: list[str], *, required=False, limit=200, where="") -> str:
    value = raw.get(key)
    if value is None:
        if required:
            problems.append(f"{where}'{key}' is required")
        return ""
    if not isinstance(value, str):
        problems.append(f"{where}'{key}' must be a string")
        return ""
    if len(value) > limit:
        problems.append(f"{where}'{key}' is longer than {limit} characters")
        return ""
    if key != "description" and CONTROL_CHARS.search(value):
        problems.append(f"{where}'{key}' contains control characters")
        return ""
    return value


def parse_entry(raw: Any, index_url: str, catalog_name: str = "") -> CatalogEntry:
    """One entry, checked; raises ValueError listing every problem."""
    if not isinstance(raw, dict):
        raise ValueError("an entry must be a JSON object")
    problems: list[str] = []
    name = _text(raw, "name", problems, required=True, limit=100)
    version = _text(raw, "version", problems, required=True, limit=32)
    if name and not slugify(name):
        problems.append(f"'name' {name!r} has no letters or digits")
    if version and (why := version_problem(version)):
        problems.append(f"'version': {why}")
    url = _text(raw, "url", problems, required=True, limit=2000)
    resolved = ""
    if url:
        resolved = urljoin(index_url, url)
        scheme = urlparse(resolved).scheme
        if scheme not in ("http", "https", "file"):
            problems.append(f"'url' {url!r} is not an http(s) or file URL")
        elif scheme == "file" and urlparse(index_url).scheme != "file":
            problems.append(f"'url' {url!r} points at a local file, but the catalog is on the web")
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        problems.append("'size' must be a positive integer (bytes)")
    sha256 = raw.get("sha256")
    if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256.lower()):
        problems.append("'sha256' must be the 64-digit hex digest of the package file")
    categories = raw.get("categories")
    if not isinstance(categories, list) or not categories or len(categories) > 10_000:
        problems.append("'categories' must be a non-empty list of category ids")
        categories = []
    else:
        problems += [p for p in map(category_problem, categories) if p][:5]
    min_app = _text(raw, "min_app_version", problems, required=True, limit=32)
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 50 for t in tags):
        problems.append("'tags' must be a list of short strings")
        tags = []
    key_id = raw.get("key_id")
    if key_id is not None and not (isinstance(key_id, str) and _KEY_ID.fullmatch(key_id)):
        problems.append("'key_id' must be 16 hex digits or null")
    signature = raw.get("signature")
    if signature is not None and not isinstance(signature, str):
        problems.append("'signature' must be a string or null")
    if problems:
        raise ValueError("; ".join(problems))
    return CatalogEntry(
        name=name, version=version, url=resolved, size=size, sha256=sha256.lower(),
        categories=tuple(categories), min_app_version=min_app,
        author=_text(raw, "author", problems), description=_text(raw, "description", problems, limit=10_000),
        license=_text(raw, "license", problems), tags=tuple(tags), key_id=key_id,
        publisher=_text(raw, "publisher", problems, limit=100), signature=signature,
        published=_text(raw, "published", problems, limit=64), catalog=index_url, catalog_name=catalog_name,
    )  # fmt: skip


def parse_index(data: bytes, url: str) -> CatalogIndex:
    """Bytes of an index.json → CatalogIndex; raises CatalogError naming the catalog when it is unusable."""
    if len(data) > MAX_INDEX_BYTES:
        raise CatalogError(f"{url}: the catalog index is {len(data)} bytes; the limit is {MAX_INDEX_BYTES}")
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CatalogError(f"{url}: not a catalog index (invalid JSON: {exc})") from exc
    if not isinstance(raw, dict) or "catalog_version" not in raw:
        raise CatalogError(f"{url}: not a catalog index (no 'catalog_version')")
    version = raw["catalog_version"]
    if version not in SUPPORTED_CATALOG_VERSIONS:
        raise CatalogError(
            f"{url}: catalog_version {version!r} is not supported by this Texture Sorter (reads "
            f"{', '.join(map(str, SUPPORTED_CATALOG_VERSIONS))}); a newer Texture Sorter may read it"
        )
    problems: list[str] = []
    name = _text(raw, "name", problems, required=True, limit=200)
    packages = raw.get("packages")
    if not isinstance(packages, list):
        problems.append("'packages' must be a list")
    if problems:
        raise CatalogError(f"{url}: invalid catalog index: " + "; ".join(problems))
    index = CatalogIndex(url, name, _text(raw, "description", [], limit=10_000), _text(raw, "updated", [], limit=64))
    seen: set[str] = set()
    for number, item in enumerate(packages[:MAX_ENTRIES], start=1):
        try:
            entry = parse_entry(item, url, name)
        except ValueError as exc:
            index.problems.append(f"entry {number} skipped: {exc}")
            continue
        if entry.key in seen:
            index.problems.append(f"entry {number} skipped: {entry.name} {entry.version} is listed twice")
            continue
        seen.add(entry.key)
        index.entries.append(entry)
    if len(packages) > MAX_ENTRIES:
        index.problems.append(f"only the first {MAX_ENTRIES} of {len(packages)} entries were read")
    return index


def index_document(name: str, entries: list[CatalogEntry], base_url: str, description: str = "",
                   updated: str = "") -> dict[str, Any]:  # fmt: skip
    """The JSON object of an index; entry URLs below `base_url`'s folder are written relative to it."""
    folder = base_url.rsplit("/", 1)[0] + "/"
    packages = []
    for entry in sorted(entries, key=lambda e: (e.slug, version_key(e.version))):
        data = entry.to_json()
        if data["url"].startswith(folder):
            data["url"] = data["url"][len(folder) :]
        packages.append(data)
    return {"catalog_version": CATALOG_VERSION, "name": name, "description": description, "updated": updated,
            "packages": packages}  # fmt: skip


def newest(entries: list[CatalogEntry], *, compatible_only: bool = True) -> dict[str, CatalogEntry]:
    """slug → the newest entry of that model across catalogs (installable ones only, by default)."""
    best: dict[str, CatalogEntry] = {}
    for entry in entries:
        if compatible_only and not entry.compatible:
            continue
        known = best.get(entry.slug)
        if known is None or version_key(entry.version) > version_key(known.version):
            best[entry.slug] = entry
    return best
