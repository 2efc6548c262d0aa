"""The .ps2model format: its members, metadata.json schema, limits, versions and names, and their checks.

Package layout (package_version "1.0"), a ZIP with exactly these regular-file members:

    model.onnx           the classifier (ONNX), required
    metadata.json        the object described below, required
    categories.json      JSON list of category ids, in the model's output order, required
    training_data.json   any JSON value (corrections exported by the learner), optional
    README.md            UTF-8 text shown to the user, optional
    signature.json       Ed25519 signature over the other members' sha256 (ai.packages.signing), optional

metadata.json (unknown keys are ignored, so later minor versions can add fields):

    package_version  str   required  format version; "1.0" is the one this build reads
    name             str   required  display name, 1–100 chars; its slug names the install folder
    version          str   required  model version ("1.2", "2024.05", "2.0rc1"): letters, digits, . + _ -
    created          str   required  ISO 8601 timestamp of the export
    categories       int   required  number of categories (= len(categories.json) = model output width)
    input_size       int   required  side of the square input the model expects
    model_hash       str   required  sha256 hex digest of model.onnx
    model_size       int   required  size of model.onnx in bytes
    min_app_version  str   required  oldest Texture Sorter that can use the package
    author           str   optional  default ""
    description      str   optional  default ""
    license          str   optional  default "" (e.g. "CC-BY-4.0")
    tags             [str] optional  default []
    app_version      str   optional  Texture Sorter version that exported the package
"""

from __future__ import annotations

import copy
import json
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ai import __version__ as APP_VERSION
from ai.errors import PackageError

try:
    from packaging.version import InvalidVersion, Version
except ImportError:  # packaging ships with onnxruntime, but the parser below is enough without it
    Version = None
    InvalidVersion = ValueError

MiB = 1 << 20

PACKAGE_VERSION = "1.0"
SUPPORTED_PACKAGE_VERSIONS = ("1.0",)
# The first release that reads package_version 1.0; exports default to it so they stay portable.
MIN_APP_VERSION = "0.1.0"
MODEL_MEMBER = "model.onnx"
METADATA_MEMBER = "metadata.json"
CATEGORIES_MEMBER = "categories.json"
TRAINING_MEMBER = "training_data.json"
README_MEMBER = "README.md"
SIGNATURE_MEMBER = "signature.json"
REQUIRED_MEMBERS = (MODEL_MEMBER, METADATA_MEMBER, CATEGORIES_MEMBER)
OPTIONAL_MEMBERS = (TRAINING_MEMBER, README_MEMBER, SIGNATURE_MEMBER)
KNOWN_MEMBERS = REQUIRED_MEMBERS + OPTIONAL_MEMBERS
RESERVED_NAMES = ("default", "built-in", "builtin")


@dataclass(frozen=True)
class PackageLimits:
    """Caps that keep a hostile package from filling the disk or the memory."""

    max_model_bytes: int = 1024 * MiB
    max_metadata_bytes: int = 64 * 1024
    max_categories_bytes: int = 1 * MiB
    max_training_bytes: int = 64 * MiB
    max_readme_bytes: int = 1 * MiB
    max_signature_bytes: int = 64 * 1024
    max_total_bytes: int = 1100 * MiB
    max_members: int = 16
    # Real ONNX weights compress ~1.1:1; 100:1 on a big member is a bomb, not a model.
    max_ratio: float = 100.0
    ratio_min_bytes: int = 1 * MiB
    max_categories: int = 10_000
    # The model is loaded and run once in a child process (ai.packages.model_check), stopped
    # after this long and given this much memory plus four times the model's size.
    check_seconds: float = 120.0
    check_memory_bytes: int = 1024 * MiB

    def member_cap(self, name: str) -> int:
        return {
            MODEL_MEMBER: self.max_model_bytes,
            METADATA_MEMBER: self.max_metadata_bytes,
            CATEGORIES_MEMBER: self.max_categories_bytes,
            TRAINING_MEMBER: self.max_training_bytes,
            README_MEMBER: self.max_readme_bytes,
            SIGNATURE_MEMBER: self.max_signature_bytes,
        }[name]


DEFAULT_LIMITS = PackageLimits()


def fail(path: str | os.PathLike[str], reason: str, details: list[str] | None = None) -> PackageError:
    """A PackageError naming the package file, with every problem found listed under it."""
    text = f"{os.fspath(path)}: {reason}"
    if details:
        text += ":\n" + "\n".join(f"  - {d}" for d in details)
    return PackageError(text)


def version_key(text: str) -> tuple:
    """Sort key for version strings: PEP 440 order when possible, else numeric-aware tuples."""
    if Version is not None:
        try:
            return (1, Version(text))
        except InvalidVersion:
            pass
    parts = re.findall(r"\d+|[A-Za-z]+", text)
    return (0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts))


def is_app_compatible(min_app_version: str, app_version: str = APP_VERSION) -> bool:
    return version_key(min_app_version) <= version_key(app_version)


_VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}")
_WINDOWS_DEVICES = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}


CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def version_problem(version: str) -> str | None:
    """Why `version` cannot name an install folder, or None."""
    if not _VERSION_RE.fullmatch(version) or ".." in version or version.endswith("."):
        return f"version {version!r} must be 1–32 letters, digits, '.', '+', '_' or '-' (like 1.2.0)"
    return None


def slugify(name: str) -> str:
    """Folder name for a model name: lower-case letters/digits of any script joined by '-'."""
    text = unicodedata.normalize("NFKC", name).casefold()
    slug = re.sub(r"[\W_]+", "-", text).strip("-")[:64].strip("-")
    if slug in _WINDOWS_DEVICES:
        slug += "-model"  # CON, NUL … cannot be folder names on Windows
    return slug


def category_problem(category: Any) -> str | None:
    """Why a category id cannot be used (it becomes a sort folder path), or None."""
    if not isinstance(category, str):
        return f"category {category!r} is not a string"
    if not category.strip():
        return "a category id is empty"
    if len(category) > 100:
        return f"category {category[:40]!r}… is longer than 100 characters"
    if CONTROL_CHARS.search(category) or any(ch in '<>:"|?*\\' for ch in category):
        return f"category {category!r} contains a character that folder names cannot hold"
    for part in category.split("/"):
        if part in ("", ".", "..") or part != part.strip() or part.endswith("."):
            return f"category {category!r} is not a safe folder path (empty, '.' or '..' part)"
        if part.casefold() in _WINDOWS_DEVICES:
            return f"category {category!r} uses a reserved Windows device name"
    return None


def categories_problems(categories: Any, limits: PackageLimits = DEFAULT_LIMITS) -> list[str]:
    if not isinstance(categories, list):
        return [f"{CATEGORIES_MEMBER} must hold a JSON list of category ids, not {type(categories).__name__}"]
    if not categories:
        return [f"{CATEGORIES_MEMBER} lists no categories"]
    if len(categories) > limits.max_categories:
        return [
            f"{CATEGORIES_MEMBER} lists {len(categories)} categories; the limit is {limits.max_categories}"
        ]
    problems = [p for p in map(category_problem, categories) if p]
    counts = Counter(c for c in categories if isinstance(c, str))
    problems += [f"category {c!r} is listed twice" for c, n in counts.items() if n > 1]
    return problems[:20]


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice")
        result[key] = value
    return result


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(data: bytes, member: str, path: str | os.PathLike[str]) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity, bounded nesting."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(path, f"{member} is not UTF-8 text (byte {exc.start})") from exc
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise fail(
            path, f"{member} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    except RecursionError as exc:
        raise fail(path, f"{member} is not valid JSON (nested too deeply)") from exc
    except ValueError as exc:
        raise fail(path, f"{member} is not valid JSON ({exc})") from exc


# field: (type, required, default, max length for strings)
_SCHEMA: dict[str, tuple[type, bool, Any, int]] = {
    "package_version": (str, True, None, 16),
    "name": (str, True, None, 100),
    "version": (str, True, None, 32),
    "created": (str, True, None, 64),
    "categories": (int, True, None, 0),
    "input_size": (int, True, None, 0),
    "model_hash": (str, True, None, 64),
    "model_size": (int, True, None, 0),
    "min_app_version": (str, True, None, 32),
    "author": (str, False, "", 200),
    "description": (str, False, "", 10_000),
    "license": (str, False, "", 200),
    "tags": (list, False, [], 0),
    "app_version": (str, False, "", 32),
}


_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list"}
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _type_ok(value: Any, expected: type) -> bool:
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def validate_metadata(raw: Any, limits: PackageLimits = DEFAULT_LIMITS) -> tuple[dict[str, Any], list[str]]:
    """Normalised metadata and every problem found (empty when valid), Picard-manifest style."""
    if not isinstance(raw, dict):
        return {}, [f"{METADATA_MEMBER} must hold a JSON object, not {type(raw).__name__}"]
    package_version = raw.get("package_version")
    if isinstance(package_version, str) and package_version not in SUPPORTED_PACKAGE_VERSIONS:
        # Another format version may mean another schema: report only this.
        supported = ", ".join(SUPPORTED_PACKAGE_VERSIONS)
        return {}, [
            f"package_version {package_version!r} is not supported by this Texture Sorter (reads {supported})"
        ]
    meta: dict[str, Any] = {}
    problems: list[str] = []
    for key, (expected, required, default, max_len) in _SCHEMA.items():
        if key not in raw:
            if required:
                problems.append(f"'{key}' is required")
            else:
                meta[key] = copy.copy(default)
            continue
        value = raw[key]
        if not _type_ok(value, expected):
            problems.append(f"'{key}' must be {_TYPE_NAMES[expected]}, not {type(value).__name__}")
        elif isinstance(value, str) and max_len and len(value) > max_len:
            problems.append(f"'{key}' is longer than {max_len} characters")
        elif isinstance(value, str) and key != "description" and CONTROL_CHARS.search(value):
            problems.append(f"'{key}' contains control characters")
        else:
            meta[key] = value
    problems += _value_problems(meta, limits)
    extra = {k: v for k, v in raw.items() if k not in _SCHEMA}
    return {**extra, **meta}, problems


def _value_problems(meta: dict[str, Any], limits: PackageLimits) -> list[str]:
    problems = []
    name = meta.get("name")
    if isinstance(name, str):
        slug = slugify(name)
        if not name.strip() or not slug:
            problems.append(f"'name' {name!r} has no letters or digits to name its folder")
        elif slug in RESERVED_NAMES:
            problems.append(f"'name' {name!r} is reserved for the built-in model")
    if isinstance(meta.get("version"), str) and (why := version_problem(meta["version"])):
        problems.append(f"'version': {why}")
    if isinstance(meta.get("created"), str):
        try:
            datetime.fromisoformat(meta["created"].replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"'created' {meta['created']!r} is not an ISO 8601 timestamp")
    if isinstance(meta.get("model_hash"), str):
        meta["model_hash"] = meta["model_hash"].lower()
        if not _HEX64.fullmatch(meta["model_hash"]):
            problems.append("'model_hash' must be the 64-digit sha256 hex digest of model.onnx")
    for key, low, high in (
        ("categories", 1, limits.max_categories),
        ("input_size", 8, 4096),
        ("model_size", 1, limits.max_model_bytes),
    ):
        if isinstance(meta.get(key), int) and not low <= meta[key] <= high:
            problems.append(f"'{key}' is {meta[key]}; it must be between {low} and {high}")
    for key in ("min_app_version", "app_version"):
        value = meta.get(key)
        if isinstance(value, str) and value and Version is not None:
            try:
                Version(value)
            except InvalidVersion:
                problems.append(f"'{key}' {value!r} is not a version number")
    tags = meta.get("tags")
    if isinstance(tags, list) and (
        len(tags) > 50
        or not all(isinstance(t, str) and 0 < len(t) <= 50 and not CONTROL_CHARS.search(t) for t in tags)
    ):
        problems.append("'tags' must be at most 50 non-empty strings of up to 50 characters")
    return problems


def consistency_problems(metadata: dict[str, Any], categories: list[str], model_size: int) -> list[str]:
    problems = []
    if metadata["categories"] != len(categories):
        problems.append(
            f"{CATEGORIES_MEMBER} lists {len(categories)} categories but {METADATA_MEMBER} says {metadata['categories']}"
        )
    if metadata["model_size"] != model_size:
        problems.append(
            f"{MODEL_MEMBER} is {model_size} bytes but {METADATA_MEMBER} says {metadata['model_size']}"
        )
    return problems
