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

Recovery (ai.learning.store_open): a file that is not a database, fails `pragma quick_check`, carries
a newer schema than this program knows, or lacks the corrections table is renamed aside with a
timestamp suffix (never deleted, with its -wal/-shm files) and a fresh store is created — but
never while another Texture Sorter has it open, and never because it is locked: a locked file is
waited for, tried again, then left as it is, and the store keeps corrections in memory for this
session and says so (`persistent` is False, `recovered_from` has the message for the GUI and CLI).
Reading is defensive: a row whose bytes were damaged is skipped and counted (`damage_report`),
and a query that fails outright is answered with what `pragma integrity_check` finds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from ai.errors import StoreError
from ai.learning.records import (
    COLUMNS,
    NO_EMBEDDING_COLUMNS,
    ORIGIN_USER,
    CorrectionRecord,
    DamagedRow,
    encode_embedding,
    path_value,
    row_to_record,
)
from ai.learning.store_open import MEMORY, HolderLock, Unusable, connect, move_aside
from ai.paths import user_data_dir

log = logging.getLogger(__name__)

DB_FILE_NAME = "training.sqlite3"
_LOCK_TRIES = 2  # a locked file is waited for (busy timeout) this many times before we say so


class TrainingDataStore:
    """SQLite store of corrections; safe to share between threads (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, lock_timeout: float = 5.0):
        self.path: str = MEMORY if path == MEMORY else str(path or Path(user_data_dir()) / DB_FILE_NAME)
        self.lock_timeout = float(lock_timeout)
        self.recovered_from: str | None = None
        self.damaged: dict[int, str] = {}  # row id → what is wrong with it, for rows skipped so far
        self._lock = threading.RLock()
        self._changes = 0
        self._holder: HolderLock | None = None
        self._conn = self._open()

    @property
    def persistent(self) -> bool:
        """Whether corrections reach the file (False: kept in memory for this session, see recovered_from)."""
        return self.path != MEMORY

    # -- opening and recovery ----------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if self.path == MEMORY:
            return connect(MEMORY, self.lock_timeout)
        path = Path(self.path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._holder = HolderLock(path)
            return self._connect_waiting(path)
        except Unusable as exc:
            problem, locked = exc.reason, exc.locked
        except OSError as exc:
            problem, locked = f"cannot create its folder: {exc}", False
        if locked:
            return self._in_memory(
                f"training database {path} is {problem} for more than {_LOCK_TRIES * self.lock_timeout:g} s; "
                "it was left as it is, and corrections made now are kept for this session only"
            )
        aside = None
        with self._holder_alone() as alone:
            if not alone:
                return self._in_memory(
                    f"training database {path} is unusable ({problem}) and in use by another Texture Sorter, "
                    "so it was left as it is; corrections made now are kept for this session only"
                )
            if path.is_file():
                aside = move_aside(path, problem)
            try:
                conn = connect(self.path, self.lock_timeout)
            except (Unusable, OSError) as exc:
                reason = getattr(exc, "reason", str(exc))
                return self._in_memory(
                    f"training database {self.path} could not be opened ({problem}) and no fresh one could "
                    f"be created ({reason}); corrections are kept in memory for this session only"
                )
        where = f"moved it aside to {aside}" if aside else "could not move it aside; it was left in place"
        self.recovered_from = (
            f"training database {path} was unusable ({problem}); {where} and started a fresh one"
        )
        log.warning("%s", self.recovered_from)
        return conn

    def _connect_waiting(self, path: Path) -> sqlite3.Connection:
        for attempt in range(_LOCK_TRIES):
            try:
                return connect(str(path), self.lock_timeout)
            except Unusable as exc:
                if not exc.locked or attempt + 1 == _LOCK_TRIES:
                    raise
                log.info("%s is locked by another program; trying again", path)
        raise AssertionError("unreachable")

    def _holder_alone(self):
        return self._holder.alone() if self._holder is not None else contextlib.nullcontext(True)

    def _in_memory(self, message: str) -> sqlite3.Connection:
        self.recovered_from = message
        log.warning("%s", message)
        self.path = MEMORY
        if self._holder is not None:
            self._holder.release()
            self._holder = None
        return connect(MEMORY, self.lock_timeout)

    # -- plumbing ------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._holder is not None:
                self._holder.release()
                self._holder = None

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

    def _fetch(self, sql: str, params: Iterable = (), *, one: bool = False):
        """Rows of a query; a query that fails outright is reported with what integrity_check finds."""
        try:
            cursor = self._execute(sql, params)
            return cursor.fetchone() if one else cursor.fetchall()
        except (StoreError, sqlite3.DatabaseError) as exc:
            cause = exc.__cause__ if isinstance(exc, StoreError) else exc
            if not isinstance(cause, sqlite3.DatabaseError) or self._conn is None:
                raise
            try:
                check = [r[0] for r in self._conn.execute("PRAGMA integrity_check(5)").fetchall()]
            except sqlite3.Error as again:
                check = [str(again)]
            found = "ok" if check == ["ok"] else "; ".join(map(str, check))
            raise StoreError(
                f"{self.path}: cannot read the corrections ({cause}); integrity check: {found}"
            ) from exc

    def _records(self, rows) -> list[CorrectionRecord]:
        """Rows as records; a damaged row is skipped, remembered and logged once, never fatal."""
        records = []
        for row in rows:
            try:
                records.append(row_to_record(row))
            except DamagedRow as exc:
                if row[0] not in self.damaged:
                    self.damaged[row[0]] = str(exc)
                    log.warning("%s: %s; skipped", self.path, exc)
        if len(records) < len(rows):
            log.warning("%s", self.damage_report())
        return records

    def damage_report(self) -> str | None:
        """One line on the damaged rows skipped so far, or None."""
        if not self.damaged:
            return None
        ids = ", ".join(str(i) for i in sorted(self.damaged)[:10]) + (" …" if len(self.damaged) > 10 else "")
        return (
            f"training database {self.path}: {len(self.damaged)} damaged corrections were skipped "
            f"(rows {ids}); the others are used"
        )

    def _transaction(self, work: Callable[[], object]):
        with self._lock:
            for attempt in range(_LOCK_TRIES):
                try:
                    self._execute("BEGIN IMMEDIATE")
                    break
                except StoreError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise
                    if attempt + 1 == _LOCK_TRIES:
                        raise StoreError(
                            f"{self.path}: locked by another program for more than "
                            f"{_LOCK_TRIES * self.lock_timeout:g} s; nothing was saved"
                        ) from exc
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
                path_value(record.texture_path),
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
        rows = self._fetch(f"SELECT {COLUMNS} FROM corrections WHERE id = ?", (correction_id,))
        records = self._records(rows)
        return records[0] if records else None

    def get(self, correction_id: int) -> CorrectionRecord | None:
        with self._lock:
            return self._get(correction_id)

    def find(self, texture_hash: str) -> CorrectionRecord | None:
        """The current correction of a texture, if any (a damaged one is no answer)."""
        with self._lock:
            rows = self._fetch(
                f"SELECT {COLUMNS} FROM corrections WHERE texture_hash = ? AND is_current = 1 "
                "ORDER BY timestamp DESC, id DESC LIMIT 1",
                (texture_hash,),
            )
            records = self._records(rows)
        return records[0] if records else None

    def current(self, *, with_embeddings: bool = True) -> list[CorrectionRecord]:
        """The current correction of every corrected texture, oldest first."""
        columns = COLUMNS if with_embeddings else NO_EMBEDDING_COLUMNS
        with self._lock:
            rows = self._fetch(f"SELECT {columns} FROM corrections WHERE is_current = 1 ORDER BY id")
            return self._records(rows)

    def history(self, limit: int | None = None, *, with_embeddings: bool = False) -> list[CorrectionRecord]:
        """Every stored correction, newest first (including replaced ones)."""
        columns = COLUMNS if with_embeddings else NO_EMBEDDING_COLUMNS
        sql = f"SELECT {columns} FROM corrections ORDER BY id DESC"
        params: tuple = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (int(limit),)
        with self._lock:
            return self._records(self._fetch(sql, params))

    def last_user_correction(self) -> CorrectionRecord | None:
        """The newest correction the user made here (imports excluded): what `undo` takes back."""
        with self._lock:
            rows = self._fetch(
                f"SELECT {NO_EMBEDDING_COLUMNS} FROM corrections WHERE origin = ? ORDER BY id DESC LIMIT 1",
                (ORIGIN_USER,),
            )
            records = self._records(rows)
        return records[0] if records else None

    def count(self, *, current_only: bool = True) -> int:
        where = " WHERE is_current = 1" if current_only else ""
        with self._lock:
            return int(self._fetch(f"SELECT COUNT(*) FROM corrections{where}", one=True)[0])

    def confusion_counts(self) -> list[tuple[str | None, str, int]]:
        """(model's category, user's category, count) over current corrections, most frequent first."""
        # Counted from the rows as read, so damaged rows are left out here as everywhere.
        pairs = Counter(
            (r.original_category, r.corrected_category) for r in self.current(with_embeddings=False)
        )
        return [(original, corrected, n) for (original, corrected), n in pairs.most_common()]

    def schema_version(self) -> int:
        with self._lock:
            return int(self._fetch("SELECT MAX(version) FROM schema_version", one=True)[0])
