"""TrainingDataStore: the correction record, latest-wins per texture, migrations, and recovery from bad files."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from ai.errors import StoreError
from ai.learning.records import SCHEMA_VERSION, CorrectionRecord
from ai.learning.store import DB_FILE_NAME, TrainingDataStore


def record(texture_hash: str, category: str, timestamp: float, **extra) -> CorrectionRecord:
    return CorrectionRecord(
        texture_path=f"/game/{texture_hash}.dds",
        texture_hash=texture_hash,
        corrected_category=category,
        original_category=extra.pop("original", "surface/rock"),
        confidence=0.7,
        timestamp=timestamp,
        **extra,
    )


def fill(path: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    with TrainingDataStore(path) as store:
        store.merge(
            record(f"h{i}", "sky", float(i), embedding=rng.standard_normal(64).astype(np.float32))
            for i in range(count)
        )


def aside_files(folder: Path, name: str) -> list[Path]:
    """Moved-aside databases (their -wal/-shm companions not counted)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.name.startswith(name + ".") and not p.name.endswith(("-wal", "-shm", "-journal"))
    )


def test_default_location_is_the_user_data_folder_in_wal_mode(_isolated_user_dirs):
    with TrainingDataStore() as store:
        assert Path(store.path) == _isolated_user_dirs / "data" / DB_FILE_NAME
        store.add(record("a", "sky", 1.0))
        mode = store._conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        assert store.schema_version() == SCHEMA_VERSION


def test_every_field_of_a_correction_round_trips(tmp_path):
    embedding = np.linspace(-1, 1, 1280, dtype=np.float32)
    original = CorrectionRecord(
        texture_path="C:/dump/ünïcode/0xDEAD.tm2",
        texture_hash="abc",
        corrected_category="ui/font",
        original_category="ui/hud",
        confidence=0.61,
        timestamp=1234.5,
        image_width=256,
        image_height=128,
        image_channels=4,
        metadata={"note": "glyphs", "original_predictions": [{"category": "ui/hud", "confidence": 0.61}]},
        model_id="default-0123",
        model_version="1.2",
        embedding=embedding,
    )
    with TrainingDataStore(tmp_path / "t.db") as store:
        stored = store.add(original)
    with TrainingDataStore(tmp_path / "t.db") as store:
        again = store.get(stored.id)
    assert again.id == stored.id and again.is_current
    for name in (
        "texture_path", "texture_hash", "corrected_category", "original_category", "confidence",
        "timestamp", "image_width", "image_height", "image_channels", "metadata", "model_id", "model_version",
    ):  # fmt: skip
        assert getattr(again, name) == getattr(original, name), name
    assert again.embedding_dim == 1280
    # float16 storage: half the bytes, and close enough for cosine similarity.
    assert np.allclose(again.embedding, embedding, atol=1e-3)


def test_a_texture_corrected_twice_counts_once_and_the_latest_wins(tmp_path):
    with TrainingDataStore(tmp_path / "t.db") as store:
        store.add(record("a", "surface/wood", 1.0))
        store.add(record("a", "surface/metal", 2.0))
        store.add(record("b", "sky", 3.0))
        assert store.count() == 2
        assert store.count(current_only=False) == 3
        assert store.find("a").corrected_category == "surface/metal"
        assert sorted(r.texture_hash for r in store.current()) == ["a", "b"]
        assert ("surface/rock", "surface/wood", 1) not in store.confusion_counts()


def test_removing_the_latest_correction_brings_back_the_earlier_one(tmp_path):
    with TrainingDataStore(tmp_path / "t.db") as store:
        first = store.add(record("a", "surface/wood", 1.0))
        second = store.add(record("a", "surface/metal", 2.0))
        removed, promoted = store.remove(second.id)
        assert removed.corrected_category == "surface/metal"
        assert promoted.id == first.id
        assert store.find("a").corrected_category == "surface/wood"
        removed, promoted = store.remove(first.id)
        assert promoted is None and store.find("a") is None
        assert store.remove(12345) == (None, None)


def test_editing_a_replaced_correction_makes_it_the_current_answer(tmp_path):
    with TrainingDataStore(tmp_path / "t.db") as store:
        first = store.add(record("a", "surface/wood", 1.0))
        store.add(record("a", "surface/metal", 2.0))
        edited = store.update_category(first.id, "surface/brick")
        assert edited.is_current and edited.corrected_category == "surface/brick"
        assert store.find("a").id == first.id
        assert store.count() == 1
        assert store.update_category(999, "sky") is None


def test_merge_keeps_the_newest_answer_and_skips_duplicates(tmp_path):
    with TrainingDataStore(tmp_path / "t.db") as store:
        store.add(record("a", "sky", 10.0))
        added, skipped = store.merge(
            [record("a", "effect", 5.0), record("b", "effect", 5.0), record("a", "vehicle", 20.0)]
        )
        assert [r.texture_hash for r in added] == ["b", "a"]
        assert skipped == 1
        assert store.find("a").corrected_category == "vehicle"
        added, skipped = store.merge([record("b", "effect", 5.0)])
        assert added == [] and skipped == 1


def test_last_user_correction_ignores_imported_rows(tmp_path):
    with TrainingDataStore(tmp_path / "t.db") as store:
        mine = store.add(record("a", "sky", 1.0))
        store.merge([record("b", "sky", 2.0, origin="import")])
        assert store.last_user_correction().id == mine.id


def test_a_seed_schema_database_is_migrated_keeping_the_latest_row_per_texture(tmp_path):
    path = tmp_path / "seed.db"
    conn = sqlite3.connect(path)
    conn.execute(
        """CREATE TABLE corrections (id INTEGER PRIMARY KEY AUTOINCREMENT, texture_path TEXT NOT NULL,
        texture_hash TEXT NOT NULL, original_category TEXT, corrected_category TEXT NOT NULL,
        confidence REAL, timestamp REAL NOT NULL, image_width INTEGER, image_height INTEGER,
        image_channels INTEGER, metadata TEXT NOT NULL DEFAULT '{}')"""
    )
    rows = [("p1", "x", "sky", 1.0), ("p1", "x", "effect", 3.0), ("p2", "y", "prop", 2.0)]
    conn.executemany(
        "INSERT INTO corrections (texture_path, texture_hash, corrected_category, timestamp) VALUES (?, ?, ?, ?)",
        rows,
    )
    conn.commit()
    conn.close()
    with TrainingDataStore(path) as store:
        assert store.recovered_from is None
        assert store.schema_version() == SCHEMA_VERSION
        assert store.count(current_only=False) == 3
        assert {r.texture_hash: r.corrected_category for r in store.current()} == {"x": "effect", "y": "prop"}


def _expect_recovery(path: Path, caplog, reason_words: tuple[str, ...], **options) -> Path:
    before = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="ai.learning.store"):
        store = TrainingDataStore(path, **options)
    with store:
        assert store.recovered_from is not None
        assert str(path) in store.recovered_from
        assert any(word in store.recovered_from for word in reason_words), store.recovered_from
        assert store.recovered_from in caplog.text
        # A fresh, working store took its place.
        assert store.count() == 0
        store.add(record("new", "sky", 1.0))
        assert store.count() == 1
    moved = aside_files(path.parent, path.name)
    assert len(moved) == 1 and str(moved[0]) in store.recovered_from
    assert moved[0].read_bytes() == before  # moved aside, never deleted or changed
    return moved[0]


def test_truncated_database_is_moved_aside_and_replaced(tmp_path, caplog):
    path = tmp_path / "t.db"
    fill(path, 300)
    data = path.read_bytes()
    assert len(data) > 40_000
    path.write_bytes(data[: len(data) // 2])
    _expect_recovery(path, caplog, ("malformed", "integrity", "not a database", "corrupt"))


def test_garbage_file_and_its_wal_companion_are_moved_aside_together(tmp_path, caplog):
    path = tmp_path / "t.db"
    path.write_bytes(os.urandom(3000))
    Path(str(path) + "-wal").write_bytes(b"stale wal bytes")
    moved = _expect_recovery(path, caplog, ("not a database",))
    assert Path(str(moved) + "-wal").read_bytes() == b"stale wal bytes"


def test_database_from_a_newer_program_is_moved_aside_not_overwritten(tmp_path, caplog):
    path = tmp_path / "t.db"
    fill(path, 3)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 5,))
    conn.commit()
    conn.close()
    _expect_recovery(path, caplog, ("newer",))


def test_an_impossible_location_falls_back_to_memory_with_a_message(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    with TrainingDataStore(blocker / "t.db") as store:
        assert "memory" in store.recovered_from and str(blocker) in store.recovered_from
        store.add(record("a", "sky", 1.0))
        assert store.count() == 1
    assert blocker.read_text() == "a file where the data folder should be"


def test_errors_after_opening_name_the_database(tmp_path):
    store = TrainingDataStore(tmp_path / "t.db")
    store.close()
    with pytest.raises(StoreError, match="t.db"):
        store.add(record("a", "sky", 1.0))


def test_two_stores_on_one_file_see_each_others_writes(tmp_path):
    # The GUI and a CLI command in another process: WAL lets both work on the same file.
    with TrainingDataStore(tmp_path / "t.db") as gui, TrainingDataStore(tmp_path / "t.db") as cli:
        gui.add(record("a", "sky", 1.0))
        cli.add(record("b", "sky", 2.0))
        cli.add(record("a", "effect", 3.0))
        assert gui.count() == 2 and gui.find("a").corrected_category == "effect"
