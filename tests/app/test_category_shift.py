"""The category shift a model would cause in a folder: counts before and after, moved files, vanished categories."""

from __future__ import annotations

import threading

from app.category_shift import classify_with, compare
from app.scan import scan_textures


def test_compare_counts_moves_and_names_vanished_categories():
    before = {"a": "vehicle", "b": "vehicle", "c": "effect", "d": "sky", "only-before": "sky"}
    after = {"a": "effect", "b": "effect", "c": "effect", "d": "sky", "only-after": "ui"}
    shift = compare(before, after)
    assert (shift.files, shift.moved) == (4, 2)
    assert [(r.category, r.before, r.after, r.change) for r in shift.rows] == [
        ("effect", 1, 3, 2),
        ("vehicle", 2, 0, -2),
        ("sky", 1, 1, 0),
    ]
    assert shift.vanished == ["vehicle"] and shift.appeared == []
    assert shift.is_big and shift.moved_share == 0.5
    assert not compare({"a": "sky"}, {"a": "sky"}).is_big


def test_classify_with_answers_every_readable_file_with_that_model(fixtures_dir, tiny_model):
    files, _problems = scan_textures([str(fixtures_dir / "redeclipse")])
    seen: dict[str, str] = {}
    for batch in classify_with(str(tiny_model), files, threading.Event()):
        seen.update(batch)
    assert set(seen) == {f.path for f in files}
    assert all(isinstance(c, str) and c for c in seen.values())
