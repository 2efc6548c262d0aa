"""Cache of raw model outputs per file and model, so re-opening a classified folder is instant.

Rows are keyed by (model id, path) and valid while size and mtime match; a file that moved or was
copied is found again by (model id, size, content hash). What is stored is the model stage only
(probabilities before the learner, embedding, source), so corrections apply on top without
recomputing, and a different model never sees another model's rows. Reads may come from any
thread (one connection per thread, WAL); writes are batched by the pipeline's consuming thread.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ai.paths import user_cache_dir

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DEFAULT_MAX_ENTRIES = 100_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS predictions (
    model_id TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_us INTEGER NOT NULL,
    content_hash TEXT,
    probs BLOB NOT NULL,
    embedding BLOB,
    source TEXT NOT NULL,
    info TEXT,
    pixel_hash TEXT,
    perceptual_hash INTEGER,
    last_used REAL NOT NULL,
    PRIMARY KEY (model_id, path)
);
CREATE INDEX IF NOT EXISTS predictions_content ON predictions (model_id, size, content_hash);
CREATE INDEX IF NOT EXISTS predictions_lru ON predictions (last_used);
"""


@dataclass
class CachedPrediction:
    probabilities: np.ndarray
    embedding: np.ndarray | None
    source: str
    info: dict | None
    pixel_hash: str | None
    perceptual_hash: int | None


def file_content_hash(path: str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mtime_key(mtime: float) -> int:
    return int(round(mtime * 1_000_000))


def info_to_json(info) -> str | None:
    return None if info is None else json.dumps(dataclasses.asdict(info))


class PredictionCache:
    """SQLite store of model outputs, LRU-capped at `max_entries` rows."""

    def __init__(self, path: str | os.PathLike[str] | None = None, max_entries: int = DEFAULT_MAX_ENTRIES):
        self.path = Path(path) if path else user_cache_dir() / "predictions.sqlite3"
        self.max_entries = max_entries
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self.hits = 0
        self.misses = 0
        try:
            self._open_checked()
        except sqlite3.DatabaseError as exc:
            # A cache can always be rebuilt: move the bad file aside instead of failing.
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            log.warning("prediction cache %s is unusable (%s); moved to %s", self.path, exc, aside)
            self.close()
            os.replace(self.path, aside)
            self._open_checked()

    def _open_checked(self) -> None:
        conn = self._conn()
        if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("integrity check failed")
        conn.executescript(_SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        conn.commit()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One connection per thread; check_same_thread=False only so close() can close them all.
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._write_lock:
                self._connections.append(conn)
        return conn

    def get_many(self, model_id: str, files) -> dict[str, CachedPrediction]:
        """Rows for files (objects with path, size, mtime) whose size and mtime still match."""
        found: dict[str, CachedPrediction] = {}
        conn = self._conn()
        wanted = {f.path: f for f in files}
        paths = list(wanted)
        for start in range(0, len(paths), 500):
            chunk = paths[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT path, size, mtime_us, probs, embedding, source, info, pixel_hash, perceptual_hash "
                f"FROM predictions WHERE model_id = ? AND path IN ({marks})",
                [model_id, *chunk],
            ).fetchall()
            for row in rows:
                f = wanted[row[0]]
                if row[1] == f.size and row[2] == mtime_key(f.mtime):
                    found[row[0]] = _decode_row(row[3:])
        self.hits += len(found)
        self.misses += len(paths) - len(found)
        if found:
            self._touch(model_id, list(found))
        return found

    def get_by_content(self, model_id: str, size: int, content_hash: str) -> CachedPrediction | None:
        row = (
            self._conn()
            .execute(
                "SELECT probs, embedding, source, info, pixel_hash, perceptual_hash FROM predictions "
                "WHERE model_id = ? AND size = ? AND content_hash = ? LIMIT 1",
                (model_id, size, content_hash),
            )
            .fetchone()
        )
        return _decode_row(row) if row else None

    def model_probabilities(self, model_id: str, paths: list[str]) -> dict[str, np.ndarray]:
        """The model-stage probabilities last stored for these paths, whatever the files are now.

        For looking back (what did the model alone say about a texture the user corrected?), not
        for classifying: rows are not checked against the file's size and mtime.
        """
        found: dict[str, np.ndarray] = {}
        conn = self._conn()
        for start in range(0, len(paths), 500):
            chunk = paths[start : start + 500]
            rows = conn.execute(
                f"SELECT path, probs FROM predictions WHERE model_id = ? AND path IN ({','.join('?' * len(chunk))})",
                [model_id, *chunk],
            ).fetchall()
            found.update((path, np.frombuffer(probs, np.float32).copy()) for path, probs in rows)
        return found

    def put_many(self, model_id: str, rows) -> None:
        """rows: (file, content_hash, probs, embedding, source, info, pixel_hash, perceptual_hash)."""
        now = time.time()
        values = [
            (
                model_id,
                f.path,
                f.size,
                mtime_key(f.mtime),
                content_hash,
                np.asarray(probs, np.float32).tobytes(),
                None if emb is None else np.asarray(emb, np.float16).tobytes(),
                source,
                info_to_json(info),
                pixel_hash,
                perceptual_hash,
                now,
            )
            for f, content_hash, probs, emb, source, info, pixel_hash, perceptual_hash in rows
        ]
        if not values:
            return
        with self._write_lock:
            conn = self._conn()
            conn.executemany("INSERT OR REPLACE INTO predictions VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", values)
            conn.commit()
            self._evict(conn)

    def _touch(self, model_id: str, paths: list[str]) -> None:
        now = time.time()
        with self._write_lock:
            conn = self._conn()
            conn.executemany(
                "UPDATE predictions SET last_used = ? WHERE model_id = ? AND path = ?",
                [(now, model_id, p) for p in paths],
            )
            conn.commit()

    def _evict(self, conn: sqlite3.Connection) -> None:
        count = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
        if count <= self.max_entries:
            return
        drop = count - int(self.max_entries * 0.9)
        conn.execute(
            "DELETE FROM predictions WHERE rowid IN "
            "(SELECT rowid FROM predictions ORDER BY last_used LIMIT ?)",
            (drop,),
        )
        conn.commit()
        log.info("prediction cache: evicted %d least recently used rows", drop)

    def count(self, model_id: str | None = None) -> int:
        if model_id is None:
            return self._conn().execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
        return (
            self._conn()
            .execute("SELECT COUNT(*) FROM predictions WHERE model_id = ?", (model_id,))
            .fetchone()[0]
        )

    def clear(self, model_id: str | None = None) -> None:
        with self._write_lock:
            conn = self._conn()
            if model_id is None:
                conn.execute("DELETE FROM predictions")
            else:
                conn.execute("DELETE FROM predictions WHERE model_id = ?", (model_id,))
            conn.commit()

    def close(self) -> None:
        with self._write_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


def _decode_row(row) -> CachedPrediction:
    probs, emb, source, info, pixel_hash, phash = row
    return CachedPrediction(
        probabilities=np.frombuffer(probs, np.float32).copy(),
        embedding=None if emb is None else np.frombuffer(emb, np.float16).astype(np.float32),
        source=source,
        info=json.loads(info) if info else None,
        pixel_hash=pixel_hash,
        perceptual_hash=phash,
    )
