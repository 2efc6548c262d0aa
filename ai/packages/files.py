"""Replacing a small file atomically (catalog indexes, their cache, settings, keys), optionally owner-only."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write `data` to a temp file beside `path` (chmod `mode` before any byte), fsync, then replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None and hasattr(os, "fchmod"):  # Windows has none: the profile folder is the guard
            with contextlib.suppress(OSError):  # not enforced on every file system (FAT)
                os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: Path, value: Any, *, mode: int | None = None) -> None:
    atomic_write(path, json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8"), mode=mode)
