"""`catalog publish`: turn a folder of `.ps2model` packages into a catalog (index.json) ready to upload.

Each package is validated and its signature checked before it is listed; it is copied into the
folder (unless it is there already) and listed with its size and sha256, its URL relative to the
index, so the folder can be served from anywhere. An existing index is updated: entries of other
packages are kept, a package of the same name and version replaces its entry. The index is
written atomically.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from ai.errors import CatalogError
from ai.offline_model import file_sha256
from ai.packages.catalog import INDEX_NAME, CatalogEntry, CatalogIndex, index_document, parse_index
from ai.packages.download import copy_into
from ai.packages.files import atomic_write
from ai.packages.keys import KeyStore
from ai.packages.schema import DEFAULT_LIMITS, PackageLimits
from ai.packages.signing import UNSIGNED, check_package, package_signer
from ai.packages.validation import open_archive, read_package

log = logging.getLogger(__name__)


def package_entry(package: Path, url: str, trust: KeyStore | None = None,
                  limits: PackageLimits = DEFAULT_LIMITS) -> CatalogEntry:  # fmt: skip
    """The catalog entry describing one package file (validated, signature checked)."""
    with open_archive(package, limits) as zf:
        contents = read_package(zf, package, limits)
    meta, categories = contents.metadata, contents.categories
    signature = check_package(package, trust, limits)  # raises when the signature does not verify
    publisher = "" if signature.state == UNSIGNED else package_signer(package, limits).name
    return CatalogEntry(
        name=meta["name"], version=meta["version"], url=url, size=package.stat().st_size,
        sha256=file_sha256(package), categories=tuple(categories), min_app_version=meta["min_app_version"],
        author=meta.get("author", ""), description=meta.get("description", ""),
        license=meta.get("license", ""), tags=tuple(meta.get("tags", [])),
        key_id=None if signature.state == UNSIGNED else signature.key_id, publisher=publisher,
        signature=signature.signature,
        published=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )  # fmt: skip


def publish(
    folder: str | os.PathLike[str],
    packages: list[str | os.PathLike[str]],
    *,
    name: str | None = None,
    description: str | None = None,
    trust: KeyStore | None = None,
    limits: PackageLimits = DEFAULT_LIMITS,
) -> tuple[CatalogIndex, list[CatalogEntry]]:
    """Add `packages` to the catalog in `folder`; returns the new index and the entries written."""
    folder = Path(folder).resolve()
    index_path = folder / INDEX_NAME
    url = index_path.as_uri()
    old = None
    if index_path.exists():
        try:
            old = parse_index(index_path.read_bytes(), url)
        except (OSError, CatalogError) as exc:
            raise CatalogError(f"{index_path}: cannot update it ({exc}); move it away to start a new catalog") from exc
    added = []
    for package in map(Path, packages):
        if not package.is_file():
            raise CatalogError(f"{package}: file not found")
        # Checked before it is copied, so a bad package never lands in the folder.
        package_entry(package, package.resolve().as_uri(), trust, limits)
        copied = copy_into(package.resolve(), folder)
        added.append(package_entry(copied, copied.as_uri(), trust, limits))
    keys = {e.key for e in added}
    entries = [e for e in (old.entries if old else []) if e.key not in keys] + added
    title = name or (old.name if old else folder.name)
    document = index_document(
        title, entries, url, description if description is not None else (old.description if old else ""),
        datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )  # fmt: skip
    data = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
    atomic_write(index_path, data)
    log.info("published %d packages to %s", len(added), index_path)
    return parse_index(data, url), added
