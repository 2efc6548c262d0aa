"""PredictionCache: validity by size/mtime, content fallback, per-model rows, LRU cap, recovery."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ai.prediction_cache import PredictionCache, file_content_hash


@dataclass
class F:
    path: str
    size: int
    mtime: float


def row(f, probs, content_hash=None, emb=None):
    return (f, content_hash, np.asarray(probs, np.float32), emb, "offline", None, None, None)


def test_rows_are_valid_only_while_size_and_mtime_match(tmp_path):
    cache = PredictionCache(tmp_path / "c.sqlite3")
    a = F("/x/a.png", 10, 1000.5)
    cache.put_many("m1", [row(a, [0.2, 0.8], emb=np.array([0.6, 0.8]))])
    hit = cache.get_many("m1", [a])["/x/a.png"]
    np.testing.assert_allclose(hit.probabilities, [0.2, 0.8])
    np.testing.assert_allclose(hit.embedding, [0.6, 0.8], atol=1e-3)
    assert cache.get_many("m1", [F("/x/a.png", 10, 1001.0)]) == {}
    assert cache.get_many("m1", [F("/x/a.png", 11, 1000.5)]) == {}
    assert (cache.hits, cache.misses) == (1, 2)
    cache.close()


def test_model_change_sees_none_of_the_other_models_rows(tmp_path):
    cache = PredictionCache(tmp_path / "c.sqlite3")
    a = F("/x/a.png", 10, 1.0)
    cache.put_many("m1", [row(a, [1.0])])
    cache.put_many("m2", [row(a, [0.5])])
    assert cache.get_many("m3", [a]) == {}
    cache.clear("m1")
    assert cache.count("m1") == 0 and cache.count("m2") == 1
    cache.close()


def test_moved_file_is_found_by_content(tmp_path):
    path = tmp_path / "t.png"
    path.write_bytes(b"pixels" * 100)
    cache = PredictionCache(tmp_path / "c.sqlite3")
    digest = file_content_hash(str(path))
    cache.put_many("m", [row(F(str(path), 600, 5.0), [0.1, 0.9], content_hash=digest)])
    moved = tmp_path / "elsewhere.png"
    path.rename(moved)
    assert cache.get_many("m", [F(str(moved), 600, 9.0)]) == {}
    hit = cache.get_by_content("m", 600, file_content_hash(str(moved)))
    np.testing.assert_allclose(hit.probabilities, [0.1, 0.9])
    cache.close()


def test_lru_cap_evicts_least_recently_used(tmp_path):
    cache = PredictionCache(tmp_path / "c.sqlite3", max_entries=50)
    files = [F(f"/f{i}", 1, 1.0) for i in range(50)]
    cache.put_many("m", [row(f, [1.0]) for f in files])
    cache.get_many("m", files[:5])  # recently used: must survive
    cache.put_many("m", [row(F("/new", 1, 1.0), [1.0])])
    assert cache.count() <= 50
    assert set(cache.get_many("m", files[:5])) == {f.path for f in files[:5]}
    cache.close()


def test_corrupt_cache_file_is_moved_aside_and_rebuilt(tmp_path):
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"garbage, not a database" * 100)
    cache = PredictionCache(path)
    cache.put_many("m", [row(F("/a", 1, 1.0), [1.0])])
    assert cache.count() == 1
    assert list(tmp_path.glob("c.sqlite3.corrupt-*"))
    cache.close()
