"""A damaged or contended corrections database: bad rows are skipped, held files are never renamed.

Damage is made the way disks and crashes make it: bytes changed inside rows (which SQLite's
quick_check does not look at), a table dropped by another program, another process holding
the write lock. Nothing here may be fatal, and no correction may be reported saved unless it
was written.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import sys
from pathlib import Path

import pytest

from ai.errors import StoreError
from ai.learning.records import SCHEMA_VERSION, CorrectionRecord
from ai.learning.store import TrainingDataStore


def record(i: int, **extra) -> CorrectionRecord:
    return CorrectionRecord(
        texture_path=f"/dump/t{i}.png",
        texture_hash=f"{i:032x}",
        corrected_category="sky",
        original_category="ui/hud",
        confidence=0.5,
        timestamp=1000.0 + i,
        metadata={"note": "x" * 40},
        **extra,
    )


def damaged_db(path: Path, rows: int = 60, damaged: int = 5, seed: int = 1) -> None:
    """`rows` corrections, then random bytes written over the metadata of `damaged` of them."""
    with TrainingDataStore(path) as store:
        for i in range(rows):
            store.add(record(i))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data)) if data[i : i + 40] == b"x" * 40]
    rng = random.Random(seed)
    for start in rng.sample(starts, damaged):
        data[start + 10 : start + 16] = bytes(rng.randrange(0x80, 0x100) for _ in range(6))
    path.write_bytes(bytes(data))
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"  # the damage SQLite cannot see
    conn.close()


def test_rows_with_damaged_bytes_are_skipped_and_reported_never_fatal(tmp_path, caplog):
    path = tmp_path / "t.db"
    damaged_db(path)
    with caplog.at_level(logging.WARNING, logger="ai.learning.store"), TrainingDataStore(path) as store:
        assert store.recovered_from is None and store.persistent  # the file itself is fine
        current = store.current()
        assert len(current) == 55 and len(store.history()) == 55
        found = [store.find(f"{i:032x}") for i in range(60)]  # a damaged row is no answer, and no crash
        assert sum(f is not None for f in found) == 55
        report = store.damage_report()
        assert report is not None and "5 damaged corrections" in report and str(path) in report
        assert report in caplog.text
        store.add(record(1000))  # the database still takes new corrections
        assert len(store.current()) == 56
    assert path.exists() and not list(tmp_path.glob("t.db.*-*"))  # left in place: it still works


def test_a_dropped_corrections_table_is_moved_aside_and_a_fresh_store_started(tmp_path):
    path = tmp_path / "t.db"
    with TrainingDataStore(path) as store:
        store.add(record(1))
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE corrections")
    conn.commit()
    conn.close()
    with TrainingDataStore(path) as store:
        assert "corrections table" in store.recovered_from and store.persistent
        store.add(record(2))
        assert store.count() == 1
    assert len(list(tmp_path.glob("t.db.corrupt-*"))) == 1


def _held(path: Path, wal: bool) -> sqlite3.Connection:
    """Another program's connection, holding the write lock with a row of its own in flight."""
    with TrainingDataStore(path) as store:
        store.add(record(1))
    holder = sqlite3.connect(path, isolation_level=None)
    if not wal:
        holder.execute("PRAGMA journal_mode = DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute(
        "INSERT INTO corrections (texture_path, texture_hash, corrected_category, timestamp) "
        "VALUES ('/other.png', 'theirs', 'effect', 5.0)"
    )
    return holder


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
def test_a_database_another_program_holds_locked_is_never_moved_aside(tmp_path, wal):
    path = tmp_path / "t.db"
    holder = _held(path, wal)
    try:
        store = TrainingDataStore(path, lock_timeout=0.2)
        with store:
            if wal:  # readers are welcome while another program writes; the write waits, then fails
                assert store.persistent and store.recovered_from is None
                with pytest.raises(StoreError, match="locked by another program .* nothing was saved"):
                    store.add(record(2))
            else:  # a rollback journal's exclusive lock keeps even readers out: said, not hidden
                assert not store.persistent and "locked" in store.recovered_from
                assert "left as it is" in store.recovered_from
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert not list(tmp_path.glob("t.db.*-*"))  # never renamed while held
    with TrainingDataStore(path) as after:
        assert {r.texture_hash for r in after.current()} == {f"{1:032x}", "theirs"}  # nothing lost


@pytest.mark.skipif(os.name != "posix", reason="Windows refuses to rename an open file by itself")
def test_an_unusable_database_another_store_has_open_is_not_moved_aside(tmp_path):
    path = tmp_path / "t.db"
    with TrainingDataStore(path) as first:
        first.add(record(1))
        conn = sqlite3.connect(path)  # a newer program raised the schema behind our back
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
        conn.commit()
        conn.close()
        second = TrainingDataStore(path)
        with second:
            assert not second.persistent and "in use" in second.recovered_from
        assert not list(tmp_path.glob("t.db.*-*"))
        assert first.count() == 1  # the first store still sees its database


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_a_file_name_that_is_not_utf8_is_stored_and_read_back_exactly(tmp_path):
    name = os.fsdecode(b"/dump/caf\xe9.png")
    with TrainingDataStore(tmp_path / "t.db") as store:
        store.add(CorrectionRecord(texture_path=name, texture_hash="h", corrected_category="sky"))
        assert store.current()[0].texture_path == name and store.damage_report() is None
