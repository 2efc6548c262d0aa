"""`TrainingDataStore`: the SQLite database of user corrections (opening, recovery, queries).

The record, its table schema and migrations are ai.learning.records.

Threading: one connection per store, shared by all threads and serialised by an RLock. The
learner keeps everything it predicts with in memory, so the database only sees short writes and
rare full reads; one connection means two threads of this process can never block each other on
SQLite's file locks (no "database is locked" inside the process), and WAL mode plus a busy
timeout covers a second process (the CLI while the GUI is open). Per-thread connections would
only add lock contention between them for no read throughput we need.

Identity: a texture is its `texture_hash` (`ai.textures.hashing.pixel_hash` of the decoded pixels). Every
correction is kept as a row, but only the latest per hash is *current* (`is_current = 1`); the
learner and the statistics read current rows only, so a texture corrected twice counts once, and
undoing the latest correction brings the previous answer back.

Recovery: a file that is not a database, fails `pragma quick_check`, carries a newer schema than
this program knows, or stays locked past the timeout is renamed aside with a timestamp suffix
(never deleted, with its -wal/-shm files), a warning names the file and the reason, and a fresh
store is created. `recovered_from` keeps that message for the GUI. Opening never fails because of
the file; if not even a fresh file can be created the store runs in memory and says so.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from ai.errors import StoreError
from ai.learning.records import (
    COLUMNS,
    MIGRATIONS,
    NO_EMBEDDING_COLUMNS,
    ORIGIN_USER,
    SCHEMA_VERSION,
    CorrectionRecord,
    encode_embedding,
    row_to_record,
)
from ai.paths import user_data_dir

log = logging.getLogger(__name__)

DB_FILE_NAME = "training.sqlite3"
MEMORY = ":memory:"
SQLITE_HEADER = b"SQLite format 3\x00"





class _Unusable(Exception):
    """The database file cannot be used as it is; `reason` says why (for the recovery message)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _check_header(path: Path) -> None:
    """Refuse a non-SQLite file before SQLite opens it: closing one deletes its -wal/-shm companions."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(16)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _Unusable(f"cannot read: {exc.strerror or exc}") from exc
    if header and header != SQLITE_HEADER:
        raise _Unusable("file is not a database (no SQLite header)")


class TrainingDataStore:
    """SQLite store of corrections; safe to share between threads (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, lock_timeout: float = 5.0):
        self.path: str = MEMORY if path == MEMORY else str(path or Path(user_data_dir()) / DB_FILE_NAME)
        self.lock_timeout = float(lock_timeout)
        self.recovered_from: str | None = None
        self._lock = threading.RLock()
        self._changes = 0
        self._conn = self._open()

    # -- opening and recovery ----------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if self.path == MEMORY:
            return self._connect(MEMORY)
        path = Path(self.path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return self._connect(self.path)
        except _Unusable as exc:
            problem = exc.reason
        except OSError as exc:
            problem = f"cannot create its folder: {exc}"
        aside = self._move_aside(path, problem) if path.is_file() else None
        try:
            conn = self._connect(self.path)
        except (_Unusable, OSError) as exc:
            reason = getattr(exc, "reason", str(exc))
            self.recovered_from = (
                f"training database {self.path} could not be opened ({problem}) and no fresh one could "
                f"be created ({reason}); corrections are kept in memory for this session only"
            )
            log.warning("%s", self.recovered_from)
            self.path = MEMORY
            return self._connect(MEMORY)
        where = f"moved it aside to {aside}" if aside else "could not move it aside; it was left in place"
        self.recovered_from = (
            f"training database {path} was unusable ({problem}); {where} and started a fresh one"
        )
        log.warning("%s", self.recovered_from)
        return conn

    def _connect(self, target: str) -> sqlite3.Connection:
        """Open, check and migrate; raise _Unusable with the reason when the file is not fit for use."""
        if target != MEMORY:
            _check_header(Path(target))
        try:
            conn = sqlite3.connect(
                target, timeout=self.lock_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise _Unusable(f"cannot open: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.lock_timeout * 1000)}")
            check = conn.execute("PRAGMA quick_check").fetchall()
            if [r[0] for r in check] != ["ok"]:
                raise _Unusable("integrity check failed: " + "; ".join(str(r[0]) for r in check[:3]))
            if target != MEMORY:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    # Some network file systems refuse WAL; the rollback journal still works.
                    log.info("%s: journal mode %s (WAL not available here)", target, mode)
                conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn, target)
            return conn
        except _Unusable:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            text = str(exc)
            if "locked" in text or "busy" in text:
                text = f"locked by another program for more than {self.lock_timeout:g} s ({exc})"
            raise _Unusable(text) from exc

    def _migrate(self, conn: sqlite3.Connection, target: str) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            version = row[0]
            if version is None:
                has_table = conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'corrections'"
                ).fetchone()
                # A corrections table without a version row is the seed application's database.
                version = 1 if has_table else 0
            if version > SCHEMA_VERSION:
                raise _Unusable(f"schema version {version} is newer than this program's {SCHEMA_VERSION}")
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

    @staticmethod
    def _move_aside(path: Path, reason: str) -> Path | None:
        """Rename the file and its WAL/SHM companions with a timestamp suffix; None if that failed."""
        if not path.exists():
            return None
        kind = "locked" if "locked" in reason else "newer" if "newer" in reason else "corrupt"
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

    # -- plumbing ------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> TrainingDataStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def changes(self) -> int:
        """Counts this store's writes, so caches built from it know when they are stale."""
        return self._changes

    def _execute(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        if self._conn is None:
            raise StoreError(f"{self.path}: the training database is closed")
        try:
            return self._conn.execute(sql, tuple(params))
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    def _transaction(self, work: Callable[[], object]):
        with self._lock:
            self._execute("BEGIN IMMEDIATE")
            try:
                result = work()
            except BaseException:
                # SQLite may have rolled back already (disk full); don't hide the real error.
                if self._conn is not None and self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._execute("COMMIT")
            self._changes += 1
            return result

    # -- writing -------------------------------------------------------------------------------

    def _current_for(self, texture_hash: str) -> tuple[int, float] | None:
        return self._execute(
            "SELECT id, timestamp FROM corrections WHERE texture_hash = ? AND is_current = 1 "
            "ORDER BY timestamp DESC, id DESC LIMIT 1",
            (texture_hash,),
        ).fetchone()

    def _insert(self, record: CorrectionRecord) -> int:
        current = self._current_for(record.texture_hash)
        if current is not None:
            self._execute(
                "UPDATE corrections SET is_current = 0 WHERE texture_hash = ?", (record.texture_hash,)
            )
        blob, dim = encode_embedding(record.embedding)
        cursor = self._execute(
            f"INSERT INTO corrections ({COLUMNS.removeprefix('id, ')}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
            (
                record.texture_path,
                record.texture_hash,
                record.original_category,
                record.corrected_category,
                record.confidence,
                float(record.timestamp),
                record.image_width,
                record.image_height,
                record.image_channels,
                json.dumps(record.metadata or {}, ensure_ascii=False, default=str),
                record.model_id,
                record.model_version,
                blob,
                dim,
                record.origin,
            ),
        )
        return int(cursor.lastrowid)

    def add(self, record: CorrectionRecord) -> CorrectionRecord:
        """Store a correction as the current answer for its texture; returns it with its id."""
        return replace(record, id=self._transaction(lambda: self._insert(record)), is_current=True)

    def merge(self, records: Iterable[CorrectionRecord]) -> tuple[list[CorrectionRecord], int]:
        """Add records whose texture is new or whose timestamp is newer than the stored answer.

        One transaction for all; returns (the records added, with ids; how many were skipped).
        """

        def work():
            added, skipped = [], 0
            for record in records:
                current = self._current_for(record.texture_hash)
                if current is not None and current[1] >= record.timestamp:
                    skipped += 1
                    continue
                added.append(replace(record, id=self._insert(record), is_current=True))
            return added, skipped

        return self._transaction(work)

    def remove(self, correction_id: int) -> tuple[CorrectionRecord | None, CorrectionRecord | None]:
        """Delete one correction; → (the removed record, the earlier one that became current or None)."""

        def work():
            removed = self._get(correction_id)
            if removed is None:
                return None, None
            self._execute("DELETE FROM corrections WHERE id = ?", (correction_id,))
            if not removed.is_current:
                return removed, None
            row = self._execute(
                "SELECT id FROM corrections WHERE texture_hash = ? ORDER BY timestamp DESC, id DESC LIMIT 1",
                (removed.texture_hash,),
            ).fetchone()
            if row is None:
                return removed, None
            self._execute("UPDATE corrections SET is_current = 1 WHERE id = ?", (row[0],))
            return removed, self._get(row[0])

        return self._transaction(work)

    def update_category(self, correction_id: int, category: str) -> CorrectionRecord | None:
        """Change a correction's answer; it becomes the latest, current answer for its texture."""

        def work():
            record = self._get(correction_id)
            if record is None:
                return None
            self._execute(
                "UPDATE corrections SET is_current = 0 WHERE texture_hash = ?", (record.texture_hash,)
            )
            self._execute(
                "UPDATE corrections SET corrected_category = ?, timestamp = ?, is_current = 1 WHERE id = ?",
                (category, max(time.time(), record.timestamp), correction_id),
            )
            return self._get(correction_id)

        return self._transaction(work)

    # -- reading -------------------------------------------------------------------------------

    def _get(self, correction_id: int) -> CorrectionRecord | None:
        row = self._execute(f"SELECT {COLUMNS} FROM corrections WHERE id = ?", (correction_id,)).fetchone()
        return row_to_record(row) if row else None

    def get(self, correction_id: int) -> CorrectionRecord | None:
        with self._lock:
            return self._get(correction_id)

    def find(self, texture_hash: str) -> CorrectionRecord | None:
        """The current correction of a texture, if any."""
        with self._lock:
            row = self._execute(
                f"SELECT {COLUMNS} FROM corrections WHERE texture_hash = ? AND is_current = 1 "
                "ORDER BY timestamp DESC, id DESC LIMIT 1",
                (texture_hash,),
            ).fetchone()
        return row_to_record(row) if row else None

    def current(self, *, with_embeddings: bool = True) -> list[CorrectionRecord]:
        """The current correction of every corrected texture, oldest first."""
        columns = COLUMNS if with_embeddings else NO_EMBEDDING_COLUMNS
        with self._lock:
            rows = self._execute(
                f"SELECT {columns} FROM corrections WHERE is_current = 1 ORDER BY id"
            ).fetchall()
        return [row_to_record(r) for r in rows]

    def history(self, limit: int | None = None, *, with_embeddings: bool = False) -> list[CorrectionRecord]:
        """Every stored correction, newest first (including replaced ones)."""
        columns = COLUMNS if with_embeddings else NO_EMBEDDING_COLUMNS
        sql = f"SELECT {columns} FROM corrections ORDER BY id DESC"
        params: tuple = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (int(limit),)
        with self._lock:
            rows = self._execute(sql, params).fetchall()
        return [row_to_record(r) for r in rows]

    def last_user_correction(self) -> CorrectionRecord | None:
        """The newest correction the user made here (imports excluded): what `undo` takes back."""
        with self._lock:
            row = self._execute(
                f"SELECT {NO_EMBEDDING_COLUMNS} FROM corrections WHERE origin = ? ORDER BY id DESC LIMIT 1",
                (ORIGIN_USER,),
            ).fetchone()
        return row_to_record(row) if row else None

    def count(self, *, current_only: bool = True) -> int:
        where = " WHERE is_current = 1" if current_only else ""
        with self._lock:
            return int(self._execute(f"SELECT COUNT(*) FROM corrections{where}").fetchone()[0])

    def confusion_counts(self) -> list[tuple[str | None, str, int]]:
        """(model's category, user's category, count) over current corrections, most frequent first."""
        with self._lock:
            rows = self._execute(
                "SELECT original_category, corrected_category, COUNT(*) AS n FROM corrections "
                "WHERE is_current = 1 GROUP BY original_category, corrected_category ORDER BY n DESC"
            ).fetchall()
        return [(r[0], r[1], int(r[2])) for r in rows]

    def schema_version(self) -> int:
        with self._lock:
            return int(self._execute("SELECT MAX(version) FROM schema_version").fetchone()[0])
