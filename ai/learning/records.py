"""The correction record and how it is stored: table schema and migrations, columns, embedding blobs."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

SCHEMA_VERSION = 2
ORIGIN_USER = "user"
ORIGIN_IMPORT = "import"


@dataclass
class CorrectionRecord:
    """One user correction: the seed's record plus the model that guessed and its embedding."""

    texture_path: str
    texture_hash: str
    corrected_category: str
    original_category: str | None = None
    confidence: float | None = None
    timestamp: float = field(default_factory=time.time)
    image_width: int | None = None
    image_height: int | None = None
    image_channels: int | None = None
    metadata: dict = field(default_factory=dict)
    model_id: str | None = None
    model_version: str | None = None
    embedding: np.ndarray | None = None  # float32 [D]; stored as float16
    origin: str = ORIGIN_USER
    id: int | None = None
    is_current: bool = True

    @property
    def embedding_dim(self) -> int | None:
        return None if self.embedding is None else int(self.embedding.shape[-1])

    @property
    def is_confirmation(self) -> bool:
        """The user accepted the model's own guess."""
        return self.original_category == self.corrected_category


def _migrate_1(conn: sqlite3.Connection) -> None:
    # The seed application's correction record.
    conn.execute(
        """CREATE TABLE IF NOT EXISTS corrections (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            texture_path TEXT NOT NULL,
            texture_hash TEXT NOT NULL,
            original_category TEXT,
            corrected_category TEXT NOT NULL,
            confidence REAL,
            timestamp REAL NOT NULL,
            image_width INTEGER,
            image_height INTEGER,
            image_channels INTEGER,
            metadata TEXT NOT NULL DEFAULT '{}'
        )"""
    )


def _migrate_2(conn: sqlite3.Connection) -> None:
    # Which model guessed (embeddings are only comparable within one model), its embedding,
    # whether the row is the current answer for its texture, and user vs imported rows.
    for column in (
        "model_id TEXT",
        "model_version TEXT",
        "embedding BLOB",
        "embedding_dim INTEGER",
        "is_current INTEGER NOT NULL DEFAULT 1",
        f"origin TEXT NOT NULL DEFAULT '{ORIGIN_USER}'",
    ):
        conn.execute(f"ALTER TABLE corrections ADD COLUMN {column}")
    # Rows written by version 1 may repeat a texture: keep only the latest one current.
    conn.execute(
        """UPDATE corrections SET is_current = (id = (
               SELECT c2.id FROM corrections AS c2 WHERE c2.texture_hash = corrections.texture_hash
               ORDER BY c2.timestamp DESC, c2.id DESC LIMIT 1))"""
    )
    conn.execute("CREATE INDEX IF NOT EXISTS corrections_hash ON corrections (texture_hash, is_current)")


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_1, 2: _migrate_2}
COLUMNS = (
    "id, texture_path, texture_hash, original_category, corrected_category, confidence, timestamp, "
    "image_width, image_height, image_channels, metadata, model_id, model_version, embedding, "
    "embedding_dim, is_current, origin"
)


NO_EMBEDDING_COLUMNS = COLUMNS.replace("embedding, embedding_dim", "NULL, NULL")


def encode_embedding(embedding: np.ndarray | None) -> tuple[bytes | None, int | None]:
    if embedding is None:
        return None, None
    vector = np.asarray(embedding, dtype="<f2").reshape(-1)
    return vector.tobytes(), int(vector.shape[0])


def decode_embedding(blob: bytes | None, dim: int | None) -> np.ndarray | None:
    if blob is None or not dim:
        return None
    vector = np.frombuffer(blob, dtype="<f2")
    return vector.astype(np.float32) if vector.shape[0] == dim else None


class DamagedRow(ValueError):
    """A stored row whose bytes were damaged (not UTF-8 where text belongs, wrong types)."""


class _Undecodable(str):
    """Text SQLite holds that is not valid UTF-8: kept readable, but marked."""


def decode_text(raw: bytes) -> str:
    """The connection's text factory: damaged text is marked instead of failing the whole query."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _Undecodable(raw.decode("utf-8", "replace"))


def path_value(path: str) -> str | bytes:
    """How a texture path is stored: text, or its bytes (a BLOB) for a name that is not UTF-8."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path)


_TEXT = {1: "texture_path", 2: "texture_hash", 3: "original_category", 4: "corrected_category",
         10: "metadata", 11: "model_id", 12: "model_version", 16: "origin"}  # fmt: skip
_NUMBERS = {5: "confidence", 6: "timestamp", 7: "image_width", 8: "image_height", 9: "image_channels",
            14: "embedding_dim", 15: "is_current"}  # fmt: skip


def row_to_record(row: tuple) -> CorrectionRecord:
    """A stored row as a record; DamagedRow when its bytes cannot be what this program wrote."""
    for i, name in _TEXT.items():
        if isinstance(row[i], _Undecodable):
            raise DamagedRow(f"row {row[0]}: {name} is not UTF-8 text")
    for i, name in _NUMBERS.items():
        if row[i] is not None and (isinstance(row[i], bool) or not isinstance(row[i], (int, float))):
            raise DamagedRow(f"row {row[0]}: {name} is not a number")
    if not (isinstance(row[2], str) and row[2] and isinstance(row[4], str) and row[4]):
        raise DamagedRow(f"row {row[0]}: no texture hash or category")
    path = os.fsdecode(row[1]) if isinstance(row[1], bytes) else row[1]
    if not isinstance(path, str) or row[13] is not None and not isinstance(row[13], bytes):
        raise DamagedRow(f"row {row[0]}: the path or the embedding has the wrong type")
    try:
        metadata = json.loads(row[10] or "{}")
    except ValueError:
        metadata = {}  # a hand-edited row must not make the whole history unreadable
    return CorrectionRecord(
        id=row[0],
        texture_path=path,
        texture_hash=row[2],
        original_category=row[3],
        corrected_category=row[4],
        confidence=row[5],
        timestamp=row[6],
        image_width=row[7],
        image_height=row[8],
        image_channels=row[9],
        metadata=metadata if isinstance(metadata, dict) else {},
        model_id=row[11],
        model_version=row[12],
        embedding=decode_embedding(row[13], row[14]),
        is_current=bool(row[15]),
        origin=row[16],
    )
