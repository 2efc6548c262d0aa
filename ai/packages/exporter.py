"""`.ps2model` packages: `ModelExporter` writes them, `ModelImporter` validates and installs them.

The package layout and metadata.json schema are documented in `ai.packages.validation`.

Import order, so that a bad package never touches the installation:
1. `read_package`: ZIP structure, member names, declared sizes and ratios, metadata schema and
   categories, all from memory; nothing is written.
2. Stream the members (hard size cap, CRC checked) into a temp folder inside the models folder,
   then check the extracted files again: size and sha256 of model.onnx, then the model is loaded
   and run once in a child process under a time and memory limit (ai.packages.model_check), as
   onnxruntime sees it and as classification loads it; its output width equals the number of
   categories.
3. `os.rename` the temp folder to `models/<name-slug>/<version>/` (same filesystem: atomic), and
   only then tell the registry, which may switch the active model for an upgrade.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ai import __version__ as APP_VERSION
from ai.errors import PackageError
from ai.packages.keys import KeyStore
from ai.packages.model_check import ModelFacts, check_model
from ai.packages.registry import INSTALL_INFO, STAGING_PREFIX, ModelRegistry
from ai.packages.schema import (
    CATEGORIES_MEMBER,
    DEFAULT_LIMITS,
    KNOWN_MEMBERS,
    METADATA_MEMBER,
    MIN_APP_VERSION,
    MODEL_MEMBER,
    PACKAGE_VERSION,
    README_MEMBER,
    TRAINING_MEMBER,
    PackageLimits,
    categories_problems,
    fail,
    parse_json,
    slugify,
    validate_metadata,
)
from ai.packages.signing import check_staged
from ai.packages.validation import PackageContents, open_archive, read_package, stream_member

log = logging.getLogger(__name__)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_runtime(facts: ModelFacts, categories: list[str], where, label: str = MODEL_MEMBER) -> None:
    """Classification loads the model with OfflineModel (metadata categories, preprocessing): it must work."""
    if facts.runtime_error is not None:
        raise fail(where, f"{label} cannot be used by Texture Sorter ({facts.runtime_error})")
    if facts.runtime_categories != list(categories):
        raise fail(
            where, f"{label} cannot be used by Texture Sorter (it reads other categories from its metadata)"
        )


def _check_categories(facts: ModelFacts, categories: list[str], where, label: str = MODEL_MEMBER) -> None:
    if facts.width != len(categories):
        raise fail(where, f"{label} outputs {facts.width} scores but there are {len(categories)} categories")
    if facts.embedded_categories is not None and facts.embedded_categories != categories:
        # The app labels predictions with the names embedded in the model; they must agree.
        raise fail(where, f"the categories differ from those embedded in {label}'s metadata")


def _create_beside(path: Path) -> tuple[int, Path]:
    """A new, exclusive temporary file next to `path`, with a normal file's permissions.

    mkstemp would make it 0600, and the renamed package would stay unreadable to other users;
    a shared model file gets what any new file gets: 0666 less the umask (0644 by default).
    """
    while True:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue  # another export picked the same name: draw again


class ModelExporter:
    """Writes a trained ONNX classifier and its description as a `.ps2model` package."""

    def __init__(self, limits: PackageLimits = DEFAULT_LIMITS):
        self.limits = limits

    def export_model(
        self,
        model_path: str | os.PathLike[str],
        output_path: str | os.PathLike[str],
        name: str,
        version: str,
        author: str = "",
        categories: list[str] | None = None,
        description: str = "",
        license: str = "",
        tags: list[str] | tuple[str, ...] = (),
        training_data: Any = None,
        readme: str | None = None,
        *,
        min_app_version: str = MIN_APP_VERSION,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Write the package atomically and return its metadata; categories default to the model's own."""
        model_path, output_path = Path(model_path), Path(output_path)
        if not model_path.is_file():
            raise PackageError(f"{model_path}: model file not found")
        if output_path.exists() and not overwrite:
            raise PackageError(f"{output_path}: already exists; choose another name or overwrite it")
        model_size = model_path.stat().st_size
        if model_size > self.limits.max_model_bytes:
            raise PackageError(
                f"{model_path}: {model_size} bytes; packages hold models up to {self.limits.max_model_bytes}"
            )
        facts = check_model(model_path, model_path, "the model", self.limits)
        if categories is None:
            categories = facts.embedded_categories
            if categories is None:
                raise PackageError(
                    f"{model_path}: the model names no categories in its metadata; give them explicitly"
                )
        categories = list(categories)
        if problems := categories_problems(categories, self.limits):
            raise fail(model_path, "invalid categories", problems)
        _check_categories(facts, categories, model_path, label="the model")
        _check_runtime(facts, categories, model_path, label="the model")
        metadata, problems = validate_metadata(
            {
                "package_version": PACKAGE_VERSION,
                "name": name,
                "version": version,
                "author": author,
                "description": description,
                "license": license,
                "tags": list(tags),
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "categories": len(categories),
                "input_size": facts.input_size,
                "model_hash": file_sha256(model_path),
                "model_size": model_size,
                "min_app_version": min_app_version,
                "app_version": APP_VERSION,
            },
            self.limits,
        )
        if problems:
            raise fail(output_path, "cannot export", problems)
        extra = {METADATA_MEMBER: _json_bytes(metadata), CATEGORIES_MEMBER: _json_bytes(categories)}
        if training_data is not None:
            try:
                extra[TRAINING_MEMBER] = _json_bytes(training_data)
            except (TypeError, ValueError) as exc:
                raise PackageError(
                    f"{output_path}: the training data is not JSON-serialisable ({exc})"
                ) from exc
        if readme is not None:
            extra[README_MEMBER] = readme.encode("utf-8")
        for member, data in extra.items():
            if len(data) > self.limits.member_cap(member):
                raise PackageError(
                    f"{output_path}: {member} would be {len(data)} bytes; the limit is "
                    f"{self.limits.member_cap(member)}"
                )
        self._write(model_path, output_path, extra, metadata)
        log.info("exported %s %s (%d categories) to %s", name, version, len(categories), output_path)
        return metadata

    def _write(self, model_path: Path, output_path: Path, extra: dict[str, bytes], metadata: dict) -> None:
        output_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_beside(output_path)
        try:
            with os.fdopen(fd, "wb") as fh:
                with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
                    # Trained weights barely compress; level 1 keeps most of the gain at a third of the time.
                    zf.write(model_path, MODEL_MEMBER, compresslevel=1)
                    for member, data in extra.items():
                        zf.writestr(_member_info(member), data)
                fh.flush()
                os.fsync(fh.fileno())
            self._verify(tmp, metadata)
            os.replace(tmp, output_path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def _verify(self, package: Path, metadata: dict) -> None:
        # Read the result back the way an importer will, so an export never produces a package we refuse.
        with open_archive(package, self.limits) as zf:
            contents = read_package(zf, package, self.limits)
            digest = hashlib.sha256()
            stream_member(
                zf, contents.members[MODEL_MEMBER], self.limits.max_model_bytes, digest.update, package
            )
        if digest.hexdigest() != metadata["model_hash"]:
            raise PackageError(f"{package}: the model changed while it was being exported; try again")


def _member_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=datetime.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
    return info


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False).encode("utf-8")


class ModelImporter:
    """Validates a `.ps2model` package and installs it into the user's models folder."""

    def __init__(
        self,
        registry: ModelRegistry | None = None,
        limits: PackageLimits = DEFAULT_LIMITS,
        trust: KeyStore | None = None,
    ):
        self.registry = registry or ModelRegistry()
        self.limits = limits
        self.trust = trust  # whose signatures count as trusted (ai.packages.signing); default: the user's

    @property
    def models_dir(self) -> Path:
        return self.registry.models_dir

    def inspect(self, path: str | os.PathLike[str]) -> PackageContents:
        """Check a package without installing it (for a preview); writes nothing, loads no model."""
        path = Path(path)
        with open_archive(path, self.limits) as zf:
            return read_package(zf, path, self.limits)

    def import_model(
        self, path: str | os.PathLike[str], *, replace: bool = False, activate: bool = False
    ) -> dict[str, Any]:
        """Install a package; returns install_dir, metadata, categories and what the registry did.

        `replace` swaps an installed copy of the same name and version (the old one is removed
        only once the new one is in place); `activate` makes the model the active one.
        Raises PackageError, leaving installed models and the registry as they were.
        """
        path = Path(path)
        with open_archive(path, self.limits) as zf:
            contents = read_package(zf, path, self.limits)
            meta = contents.metadata
            slug, version = slugify(meta["name"]), meta["version"]
            self._check_name_is_free(slug, meta["name"], path)
            dest = self.models_dir / slug / version
            if dest.exists() and not replace:
                raise fail(
                    path,
                    f"{meta['name']} {version} is already installed in {dest} (choose replace to reinstall it)",
                )
            if dest.resolve().parent.parent != self.models_dir.resolve():
                raise fail(path, f"refusing to install outside {self.models_dir} ({dest})")
            created = [d for d in (self.models_dir, dest.parent) if not d.exists()]
            self.models_dir.mkdir(parents=True, exist_ok=True)
            self.registry.remove_stale_work()
            # Named after this process, so that a later start can tell a killed import's folder
            # from one another process is still filling.
            staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=self.models_dir))
            installed = False
            try:
                self._extract(zf, contents, staging)
                self._verify_extracted(staging, contents)
                signature = check_staged(staging, contents, self.trust)  # a bad signature is refused here
                _write_json(staging / INSTALL_INFO, {**_install_info(path), "signature": signature.to_json()})
                replaced = self._move_into_place(staging, dest, replace, path)
                installed = True
            finally:
                shutil.rmtree(staging, ignore_errors=True)
                if not installed:
                    for folder in reversed(created):  # folders this import made, if still empty
                        with contextlib.suppress(OSError):
                            folder.rmdir()
        change = self.registry.note_installed(slug, version, activate=activate)
        log.info("installed %s %s from %s into %s", meta["name"], version, path, dest)
        return {
            "install_dir": dest,
            "model_path": dest / MODEL_MEMBER,
            "metadata": meta,
            "categories": contents.categories,
            "name": meta["name"],
            "version": version,
            "slug": slug,
            "replaced": replaced,
            "signature": signature,
            **change,
        }

    def _check_name_is_free(self, slug: str, name: str, where: Path) -> None:
        """A different display name that maps to an installed model's folder is another model, not a version."""
        for record in self.registry.installed():
            if record.slug == slug and record.name != name:
                raise fail(
                    where,
                    f"another model, {record.name!r}, is installed as {slug}; {name!r} would share its folder "
                    f"and pass for a version of it. Rename the package or remove {record.name!r} first",
                )

    def _extract(self, zf: zipfile.ZipFile, contents: PackageContents, staging: Path) -> None:
        # Files are named by us, never by the archive: a member can only land on a known name.
        for name in KNOWN_MEMBERS:
            info = contents.members.get(name)
            if info is None:
                continue
            with open(staging / name, "xb") as out:
                stream_member(zf, info, self.limits.member_cap(name), out.write, contents.path)
                out.flush()
                os.fsync(out.fileno())

    def _verify_extracted(self, staging: Path, contents: PackageContents) -> None:
        where, meta = contents.path, contents.metadata
        model = staging / MODEL_MEMBER
        size = model.stat().st_size
        if size != meta["model_size"]:
            raise fail(
                where,
                f"{MODEL_MEMBER} unpacked to {size} bytes but {METADATA_MEMBER} says {meta['model_size']}",
            )
        digest = file_sha256(model)
        if digest != meta["model_hash"]:
            raise fail(
                where,
                f"{MODEL_MEMBER} has sha256 {digest} but {METADATA_MEMBER} says {meta['model_hash']} "
                "(the model was altered or damaged)",
            )
        on_disk, problems = validate_metadata(
            parse_json((staging / METADATA_MEMBER).read_bytes(), METADATA_MEMBER, where), self.limits
        )
        categories = parse_json((staging / CATEGORIES_MEMBER).read_bytes(), CATEGORIES_MEMBER, where)
        if problems or on_disk != meta or categories != contents.categories:
            raise fail(where, "the extracted metadata differs from the archive's (disk or archive fault)")
        facts = check_model(model, where, MODEL_MEMBER, self.limits)
        _check_categories(facts, contents.categories, where)
        if facts.input_size != meta["input_size"]:
            raise fail(
                where,
                f"{MODEL_MEMBER} takes {facts.input_size}-pixel input but {METADATA_MEMBER} says {meta['input_size']}",
            )
        _check_runtime(facts, contents.categories, where)

    def _move_into_place(self, staging: Path, dest: Path, replace: bool, where: Path) -> bool:
        dest.parent.mkdir(exist_ok=True)
        if not dest.exists():
            try:
                os.rename(staging, dest)
            except OSError as exc:  # another import won the race, or the disk refused
                raise fail(where, f"cannot install into {dest} ({exc})") from exc
            return False
        if not replace:
            raise fail(where, f"{dest} appeared while importing; replace it to reinstall")
        old = self.models_dir / f".replaced-{uuid.uuid4().hex}"
        os.rename(dest, old)
        try:
            os.rename(staging, dest)
        except OSError as exc:
            os.rename(old, dest)
            raise fail(where, f"cannot install into {dest} ({exc})") from exc
        shutil.rmtree(old, ignore_errors=True)
        return True


def _install_info(source: Path) -> dict[str, str]:
    return {
        "source": source.name,
        "source_path": str(source.resolve()),
        "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "app_version": APP_VERSION,
    }


def _write_json(path: Path, value: Any) -> None:
    with open(path, "xb") as fh:
        fh.write(_json_bytes(value))
        fh.flush()
        os.fsync(fh.fileno())
