"""Find texture files under folders: one scandir walk, one stat per file, no symlinks out of the tree."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ai.textures import SUPPORTED_EXTENSIONS

log = logging.getLogger(__name__)

# The program's own bookkeeping folder inside a sort output (journal, plans).
STATE_DIR_NAME = ".texture-sorter"
_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True, slots=True)
class ScannedFile:
    path: str
    size: int
    mtime: float


def _is_inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def scan_textures(
    paths: Iterable[str | os.PathLike[str]],
    exclude: Iterable[str | os.PathLike[str]] = (),
    extensions: frozenset[str] = SUPPORTED_EXTENSIONS,
) -> tuple[list[ScannedFile], list[tuple[str, str]]]:
    """Return (texture files in natural order, [(path, reason)] for inputs that could not be read).

    Symlinked folders are not entered and symlinked files are kept only when they point inside
    the folder being scanned, so a scan never wanders out of what the user chose. Folders in
    `exclude` (a sort output inside the source, say) and `.texture-sorter` state folders are skipped.
    """
    excluded = {os.path.realpath(p) for p in exclude}
    found: list[ScannedFile] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in paths:
        top = os.path.abspath(os.fspath(raw))
        if os.path.isfile(top):
            _add_file(top, None, found, problems, seen, extensions, explicit=True)
            continue
        if not os.path.isdir(top):
            problems.append((top, "no such file or folder"))
            continue
        root_real = os.path.realpath(top)
        stack = [top]
        while stack:
            folder = stack.pop()
            if os.path.realpath(folder) in excluded:
                continue
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: _natural_key(e.name))
            except OSError as exc:
                problems.append((folder, f"cannot read folder: {exc.strerror or exc}"))
                continue
            subdirs = []
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name != STATE_DIR_NAME:
                            subdirs.append(entry.path)
                    elif entry.is_file(follow_symlinks=True):
                        _add_file(entry.path, root_real, found, problems, seen, extensions, entry=entry)
                except OSError as exc:
                    problems.append((entry.path, f"cannot read: {exc.strerror or exc}"))
            stack.extend(reversed(subdirs))
    return found, problems


def _add_file(path, root_real, found, problems, seen, extensions, entry=None, explicit=False):
    if os.path.splitext(path)[1].lower() not in extensions:
        if explicit:
            problems.append((path, "not a supported texture type"))
        return
    if entry is not None and entry.is_symlink():
        target = os.path.realpath(path)
        if root_real is None or not _is_inside(target, root_real):
            log.info("skipping symlink that leaves the folder: %s", path)
            return
    key = os.path.realpath(path) if (entry is None or entry.is_symlink()) else path
    if key in seen:
        return
    seen.add(key)
    try:
        st = entry.stat(follow_symlinks=True) if entry is not None else os.stat(path)
    except OSError as exc:
        problems.append((path, f"cannot read: {exc.strerror or exc}"))
        return
    found.append(ScannedFile(path, st.st_size, st.st_mtime))


def _natural_key(name: str):
    """'tex2' before 'tex10': the order users see in their file manager."""
    return [(0, int(c), "") if c.isdigit() else (1, 0, c) for c in _DIGITS.split(name.lower()) if c]
