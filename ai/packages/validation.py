"""Checks on untrusted `.ps2model` packages: ZIP structure, member names, sizes, and reading the members safely.

Nothing here writes to disk: `read_package` looks at the central directory and reads the small
JSON members into memory (through the same capped, CRC-checked stream that extraction uses), so a
hostile package is refused before the importer creates its temp folder. The model itself is
checked by `ai.packages.exporter` once it has been streamed into that temp folder.
The format itself (members, metadata schema, limits) is ai.packages.schema.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai import __version__ as APP_VERSION
from ai.packages.schema import (
    CATEGORIES_MEMBER,
    CONTROL_CHARS,
    DEFAULT_LIMITS,
    KNOWN_MEMBERS,
    METADATA_MEMBER,
    MODEL_MEMBER,
    README_MEMBER,
    REQUIRED_MEMBERS,
    TRAINING_MEMBER,
    PackageLimits,
    categories_problems,
    consistency_problems,
    fail,
    is_app_compatible,
    parse_json,
    validate_metadata,
)

log = logging.getLogger(__name__)


ALLOWED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
CHUNK = 1 << 20


@dataclass
class PackageContents:
    """What `read_package` vouches for; the model member is only located, not read."""

    path: Path
    metadata: dict[str, Any]
    categories: list[str]
    members: dict[str, zipfile.ZipInfo]
    training_data: Any = None
    readme: str | None = None


# -- ZIP structure -------------------------------------------------------------------------------


def member_name_problem(info: zipfile.ZipInfo) -> str | None:
    """Why this member may not be in a package (zip-slip, links, special files …), or None."""
    raw, name = info.orig_filename, info.filename
    if "\x00" in raw:
        return f"member {raw!r} has a NUL character in its name"
    if not name:
        return "a member has an empty name"
    if CONTROL_CHARS.search(name):
        return f"member {name!r} has control characters in its name"
    if name.startswith(("/", "\\")):
        return f"member {name!r} is an absolute path"
    if re.match(r"[A-Za-z]:", name):
        return f"member {name!r} starts with a drive letter"
    if "\\" in name:
        return f"member {name!r} uses backslashes in its path"
    if ".." in name.split("/"):
        return f"member {name!r} climbs out of the package with '..'"
    mode = info.external_attr >> 16
    kind = mode & 0o170000
    if kind == 0o120000:
        return f"member {name!r} is a symbolic link"
    if info.is_dir() or kind == 0o040000 or info.external_attr & 0x10:
        return f"member {name!r} is a folder; a package holds only files"
    if kind not in (0, 0o100000):
        return f"member {name!r} is a special file (mode {oct(kind)})"
    if info.flag_bits & 0x1:
        return f"member {name!r} is encrypted"
    if info.compress_type not in ALLOWED_COMPRESSION:
        return f"member {name!r} uses an unsupported compression method ({info.compress_type})"
    if name not in KNOWN_MEMBERS:
        return f"unexpected member {name!r} (a package holds only {', '.join(KNOWN_MEMBERS)})"
    return None


def structure_problems(infos: list[zipfile.ZipInfo], archive_size: int, limits: PackageLimits) -> list[str]:
    if len(infos) > limits.max_members:
        return [f"the archive has {len(infos)} members; a package has at most {len(KNOWN_MEMBERS)}"]
    problems = [p for p in map(member_name_problem, infos) if p]
    names = Counter(info.filename for info in infos)
    problems += [f"duplicate member {n!r}" for n, count in names.items() if count > 1]
    if problems:
        return problems
    total = 0
    for info in infos:
        cap = limits.member_cap(info.filename)
        total += info.file_size
        if info.file_size > cap:
            problems.append(f"{info.filename} is {info.file_size} bytes uncompressed; the limit is {cap}")
        elif info.file_size > limits.ratio_min_bytes:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                problems.append(
                    f"{info.filename} has a compression ratio of {ratio:.0f}:1 (limit {limits.max_ratio:.0f}:1); "
                    "this looks like a zip bomb"
                )
    if total > limits.max_total_bytes:
        problems.append(f"the package unpacks to {total} bytes; the limit is {limits.max_total_bytes}")
    problems += _overlap_problems(infos, archive_size)
    missing = [name for name in REQUIRED_MEMBERS if name not in names]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    return problems


def _overlap_problems(infos: list[zipfile.ZipInfo], archive_size: int) -> list[str]:
    # Overlapping entries let a few KB of deflate data be counted many times (Fifield's zip bomb).
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for info, following in zip(ordered, [*ordered[1:], None], strict=True):
        encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
        try:
            name_len = len(info.orig_filename.encode(encoding))
        except UnicodeEncodeError:
            name_len = len(info.orig_filename.encode("utf-8"))
        end = info.header_offset + 30 + name_len + info.compress_size
        limit = following.header_offset if following is not None else archive_size
        if end > limit:
            what = "overlaps the next member" if following is not None else "runs past the end of the file"
            return [f"{info.filename}'s data {what} (damaged archive or a zip-bomb trick)"]
    return []


# -- streaming a member with a hard cap ----------------------------------------------------------


def stream_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    cap: int,
    sink: Callable[[bytes], None],
    path: str | os.PathLike[str],
) -> int:
    """Feed a member's bytes to `sink`, refusing more than its declared size and more than `cap`.

    Headers can lie: the stream is opened with a declared size of cap + 1, so a member that
    inflates past what its header says is caught here instead of being silently cut short.
    The CRC is still checked by zipfile when the stream ends.
    """
    probe = copy.copy(info)
    probe.file_size = cap + 1
    total = 0
    try:
        handle = zf.open(probe)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise fail(path, f"{info.filename} cannot be read ({_reason(exc)})") from exc
    with handle:
        while True:
            try:
                chunk = handle.read(CHUNK)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
                raise fail(path, f"{info.filename} is damaged ({_reason(exc)})") from exc
            if not chunk:
                break
            total += len(chunk)
            if total > info.file_size or total > cap:
                raise fail(
                    path,
                    f"{info.filename} inflates past its declared size of {info.file_size} bytes "
                    "(lying header: a zip bomb)",
                )
            sink(chunk)
    if total != info.file_size:
        raise fail(path, f"{info.filename} holds {total} bytes but its header says {info.file_size}")
    return total


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "CRC" in text:
        return "CRC check failed: the data is corrupt or was altered"
    return text or type(exc).__name__


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: PackageLimits, path) -> bytes:
    parts: list[bytes] = []
    stream_member(zf, info, limits.member_cap(info.filename), parts.append, path)
    return b"".join(parts)


# -- the whole package ---------------------------------------------------------------------------


def open_archive(path: Path, limits: PackageLimits) -> zipfile.ZipFile:
    if not path.exists():
        raise fail(path, "file not found")
    if not path.is_file():
        raise fail(path, "not a file")
    size = path.stat().st_size
    if size > limits.max_total_bytes:
        raise fail(path, f"the package is {size} bytes; the limit is {limits.max_total_bytes}")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head == b"PK\x03\x04":
            raise fail(path, f"the ZIP archive is truncated or damaged ({exc})") from exc
        raise fail(path, "not a ZIP archive (a .ps2model package is a ZIP file)") from exc


def read_package(zf: zipfile.ZipFile, path: Path, limits: PackageLimits = DEFAULT_LIMITS) -> PackageContents:
    """Validate everything except the model's bytes; raises one PackageError listing the problems."""
    infos = zf.infolist()
    problems = structure_problems(infos, path.stat().st_size, limits)
    if problems:
        raise fail(path, "unsafe or incomplete package", problems)
    members = {info.filename: info for info in infos}
    raw_meta = parse_json(read_member(zf, members[METADATA_MEMBER], limits, path), METADATA_MEMBER, path)
    metadata, problems = validate_metadata(raw_meta, limits)
    categories = parse_json(
        read_member(zf, members[CATEGORIES_MEMBER], limits, path), CATEGORIES_MEMBER, path
    )
    problems += categories_problems(categories, limits)
    if not problems:
        problems += consistency_problems(metadata, categories, members[MODEL_MEMBER].file_size)
    if problems:
        raise fail(path, "invalid package metadata", problems)
    if not is_app_compatible(metadata["min_app_version"]):
        raise fail(
            path,
            f"the package needs Texture Sorter {metadata['min_app_version']} or newer (this is {APP_VERSION})",
        )
    training = None
    if TRAINING_MEMBER in members:
        training = parse_json(read_member(zf, members[TRAINING_MEMBER], limits, path), TRAINING_MEMBER, path)
    readme = None
    if README_MEMBER in members:
        try:
            readme = read_member(zf, members[README_MEMBER], limits, path).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise fail(path, f"{README_MEMBER} is not UTF-8 text") from exc
    return PackageContents(path, metadata, categories, members, training, readme)


