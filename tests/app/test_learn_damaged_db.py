"""The CLI on a damaged corrections database: every command goes on, and `correct` never claims a save it did not make."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import numpy as np
from PIL import Image

from ai.learning.records import CorrectionRecord
from ai.learning.store import DB_FILE_NAME, TrainingDataStore
from ai.paths import user_data_dir
from app.cli import main


def _texture(path: Path, colour) -> Path:
    Image.fromarray(np.full((16, 16, 4), (*colour, 255), np.uint8), "RGBA").save(path)
    return path


def _damaged(path: Path) -> None:
    with TrainingDataStore(path) as store:
        for i in range(40):
            store.add(CorrectionRecord(f"/d/t{i}.png", f"{i:032x}", "sky", "ui/hud", metadata={"n": "x" * 40}))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data)) if data[i : i + 40] == b"x" * 40]
    for start in random.Random(2).sample(starts, 3):
        data[start + 5 : start + 9] = b"\xff\xfe\xfd\xfc"
    path.write_bytes(bytes(data))


def test_every_command_goes_on_past_damaged_rows_and_says_so(tmp_path, tiny_model, capsys):
    db = Path(user_data_dir()) / DB_FILE_NAME
    db.parent.mkdir(parents=True, exist_ok=True)
    _damaged(db)
    assert main(["learn", "stats", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["total"] == 37 and "3 damaged corrections" in captured.err
    assert main(["learn", "list", "--limit", "100"]) == 0
    assert "3 damaged corrections" in capsys.readouterr().err
    folder = tmp_path / "in"
    folder.mkdir()
    texture = _texture(folder / "a.png", (200, 30, 30))
    assert main(["classify", str(folder), "--model", str(tiny_model)]) == 0
    capsys.readouterr()
    assert main(["correct", str(texture), "surface/metal", "--model", str(tiny_model)]) == 0
    assert "correction #" in capsys.readouterr().out
    with TrainingDataStore(db) as store:
        assert len(store.current()) == 38  # the new correction was written next to the good rows


def test_correct_says_not_saved_when_the_database_path_is_a_folder(tmp_path, tiny_model, capsys):
    db = Path(user_data_dir()) / DB_FILE_NAME
    db.mkdir(parents=True)  # not a file: nothing can be written there
    texture = _texture(tmp_path / "a.png", (30, 200, 30))
    assert main(["correct", str(texture), "surface/metal", "--model", str(tiny_model)]) == 1
    captured = capsys.readouterr()
    assert "correction #" not in captured.out and "not saved" in captured.err and str(db) in captured.err
    assert db.is_dir() and not any(db.iterdir())


def test_correct_works_after_the_corrections_table_was_dropped(tmp_path, tiny_model, capsys):
    db = Path(user_data_dir()) / DB_FILE_NAME
    db.parent.mkdir(parents=True, exist_ok=True)
    with TrainingDataStore(db) as store:
        store.add(CorrectionRecord("/d/a.png", "a" * 32, "sky"))
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE corrections")
    conn.commit()
    conn.close()
    texture = _texture(tmp_path / "b.png", (30, 30, 200))
    assert main(["correct", str(texture), "surface/metal", "--model", str(tiny_model)]) == 0
    captured = capsys.readouterr()
    assert "correction #1" in captured.out and "corrections table" in captured.err
