"""Opening the corrections database: checks, schema migration, and moving an unusable file aside.

`connect` opens one file and raises `Unusable` with the reason when it cannot serve as the
store: not SQLite, failing `quick_check`, a newer schema, a missing or incomplete corrections
table, or locked by another program. Opening only reads, unless the schema must be created or
migrated, so another program writing (WAL) does not keep us out. Text comes back through
`records.decode_text`, so a damaged row is found when it is read, not fatal to the connection.

`HolderLock` tells whether another Texture Sorter has the file open (a shared `flock` on
`<db>-holders` for as long as a store is open, POSIX): a file someone holds is never renamed, as
their later writes would land in the renamed file and be lost from sight.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
import weakref
from pathlib import Path

from ai.learning.records import COLUMNS, MIGRATIONS, SCHEMA_VERSION, decode_text

log = logging.getLogger(__name__)

MEMORY = ":memory:"
SQLITE_HEADER = b"SQLite format 3\x00"
_REQUIRED = [c.strip() for c in COLUMNS.split(",")]


class Unusable(Exception):
    """The database file cannot be used as it is; `reason` says why (for the recovery message)."""

    def __init__(self, reason: str, *, locked: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.locked = locked


def check_header(path: Path) -> None:
    """Refuse a non-SQLite file before SQLite opens it: closing one deletes its -wal/-shm companions."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(16)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise Unusable(f"cannot read: {exc.strerror or exc}") from exc
    if header and header != SQLITE_HEADER:
        raise Unusable("file is not a database (no SQLite header)")


def connect(target: str, lock_timeout: float) -> sqlite3.Connection:
    """Open, check and (if needed) migrate; raise Unusable with the reason when the file is not fit."""
    if target != MEMORY:
        check_header(Path(target))
    try:
        conn = sqlite3.connect(target, timeout=lock_timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise Unusable(f"cannot open: {exc}") from exc
    conn.text_factory = decode_text
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(lock_timeout * 1000)}")
        check = conn.execute("PRAGMA quick_check").fetchall()
        if [r[0] for r in check] != ["ok"]:
            raise Unusable("integrity check failed: " + "; ".join(str(r[0]) for r in check[:3]))
        if target != MEMORY:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":  # switching needs the file to ourselves: only when needed
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                # Some network file systems refuse WAL; the rollback journal still works.
                log.info("%s: journal mode %s (WAL not available here)", target, mode)
            conn.execute("PRAGMA synchronous = NORMAL")
        version = _version(conn)
        if version > SCHEMA_VERSION:
            raise Unusable(f"schema version {version} is newer than this program's {SCHEMA_VERSION}")
        if version < SCHEMA_VERSION or not _has_version_row(conn):
            _migrate(conn, target)
        _check_tables(conn)
        return conn
    except Unusable:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise Unusable(f"locked by another program ({exc})", locked=True) from exc
        raise Unusable(text) from exc


def _version(conn: sqlite3.Connection) -> int:
    if conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone():
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        if row[0] is not None:
            return int(row[0])
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'corrections'"
    ).fetchone()
    return 1 if has_table else 0  # a corrections table without a version row: the seed application's


def _has_version_row(conn: sqlite3.Connection) -> bool:
    with contextlib.suppress(sqlite3.Error):
        return conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] is not None
    return False


def _migrate(conn: sqlite3.Connection, target: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = _version(conn)
        for step in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[step](conn)
            log.info("%s: migrated training database to schema %d", target, step)
        conn.execute("DELETE FROM schema_version")
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _check_tables(conn: sqlite3.Connection) -> None:
    """A database at our schema version must hold the corrections table with all its columns."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(corrections)").fetchall()}
    if not have:
        raise Unusable("the corrections table is missing (dropped by another program?)")
    missing = [c for c in _REQUIRED if c not in have]
    if missing:
        raise Unusable(f"the corrections table lacks the columns {', '.join(missing)}")


def move_aside(path: Path, reason: str) -> Path | None:
    """Rename the file and its WAL/SHM companions with a timestamp suffix; None if that failed."""
    if not path.exists():
        return None
    kind = "newer" if "newer" in reason else "corrupt"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.{kind}-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.{kind}-{stamp}-{n}")
    try:
        os.replace(path, aside)
    except OSError as exc:  # Windows refuses to rename a file another process holds open
        log.warning("cannot move %s aside: %s", path, exc)
        return None
    for suffix in ("-wal", "-shm", "-journal"):
        companion = Path(str(path) + suffix)
        if companion.exists():
            try:
                # The WAL can hold committed rows: it must travel with its database.
                os.replace(companion, Path(str(aside) + suffix))
            except OSError as exc:
                log.warning("cannot move %s aside: %s", companion, exc)
    return aside


class HolderLock:
    """A shared lock on `<db>-holders` while a store has the database open (POSIX; a no-op elsewhere)."""

    def __init__(self, path: Path):
        self._fd: int | None = None
        try:
            import fcntl
        except ImportError:  # Windows: an open file cannot be renamed there anyway
            return
        self._fcntl = fcntl
        try:
            fd = os.open(str(path) + "-holders", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return  # no lock file (read-only folder): nothing to protect against, nothing renamed
        # A store that is never closed still lets go of the lock when it is collected.
        self._closer = weakref.finalize(self, os.close, fd)
        self._fd = fd
        fcntl.flock(fd, fcntl.LOCK_SH)

    @contextlib.contextmanager
    def alone(self):
        """Yields whether no other process has the database open; while True, none can open it."""
        if self._fd is None:
            yield True
            return
        fd, fcntl = self._fd, self._fcntl
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fcntl.flock(fd, fcntl.LOCK_SH)  # a failed conversion may have dropped our shared lock
            yield False
            return
        try:
            yield True
        finally:
            if self._fd is not None:  # not released meanwhile (the store gave up on the file)
                fcntl.flock(fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            self._closer()
            self._fd = None
