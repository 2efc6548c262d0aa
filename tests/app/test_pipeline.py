"""The folder pipeline: order, batching, errors, cancellation, bounded memory, scanning rules."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from PIL import Image

from ai.model_manager import ModelManager
from app.pipeline import classify_files, classify_folder
from app.scan import scan_textures


def write_png(path, colour, size=(40, 30), alpha=255):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", size, (*colour, alpha)).save(path)
    return path


@pytest.fixture
def manager(tiny_model):
    return ModelManager.create_default({"model_path": tiny_model, "num_threads": 1})


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "dump"
    for i in range(23):
        write_png(root / f"sub{i % 3}" / f"tex{i}.png", (i * 10, 255 - i * 10, 100))
    (root / "broken.dds").write_bytes(b"DDS |" + b"\0" * 20)
    (root / "notes.txt").write_text("not a texture")
    return root


def test_results_stream_in_order_in_batches_with_errors_in_place(folder, manager):
    seen_progress = []
    batches = list(classify_folder([folder], manager, batch_size=5, threads=2, progress=seen_progress.append))
    results = [r for b in batches for r in b]
    assert len(results) == 24  # 23 PNG + broken.dds; notes.txt is not a texture
    assert all(len(b) <= 5 for b in batches)
    files, _ = scan_textures([folder])
    assert [r.path for r in results] == [f.path for f in files]
    broken = [r for r in results if r.error]
    assert [os.path.basename(r.path) for r in broken] == ["broken.dds"]
    assert broken[0].predictions == [] and broken[0].source is None
    good = [r for r in results if not r.error]
    assert all(r.source == "offline" and len(r.predictions) == 5 for r in good)
    assert seen_progress[-1].done == 24 and seen_progress[-1].total == 24 and seen_progress[-1].errors == 1


def test_same_results_for_any_thread_and_batch_count(folder, manager):
    def run(threads, batch):
        return [
            (r.path, r.category, round(r.confidence, 5))
            for b in classify_folder([folder], manager, threads=threads, batch_size=batch)
            for r in b
        ]

    assert run(1, 1) == run(3, 7) == run(2, 32)


def test_cancel_stops_early_and_never_reports_unclassified_files(folder, manager):
    cancel = threading.Event()
    got = []
    for batch in classify_folder([folder], manager, batch_size=4, threads=2, cancel=cancel):
        got.extend(batch)
        cancel.set()
    assert 0 < len(got) < 24
    assert all(r.predictions or r.error for r in got)


def test_window_bounds_files_decoded_ahead(tmp_path, manager, monkeypatch):
    import app.pipeline as pipeline

    for i in range(200):
        write_png(tmp_path / "many" / f"{i:03}.png", (i, i, i), size=(8, 8))
    files, _ = scan_textures([tmp_path / "many"])
    in_flight, peak, lock = [0], [0], threading.Lock()
    real = pipeline._decode_one

    def counting(file, *args):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        return real(file, *args)

    monkeypatch.setattr(pipeline, "_decode_one", counting)
    gen = classify_files(files, manager, batch_size=8, threads=2)
    consumed = 0
    for batch in gen:
        consumed += len(batch)
        with lock:
            in_flight[0] -= len(batch)
    assert consumed == 200
    # workers + 1 batches in flight, plus the batch the consumer is finishing
    assert peak[0] <= (2 + 1) * 8 + 8


def test_hashes_identify_identical_pictures_in_different_files(tmp_path, manager):
    a = write_png(tmp_path / "a.png", (10, 20, 30))
    Image.open(a).save(tmp_path / "b.tga")
    write_png(tmp_path / "c.png", (200, 20, 30))
    results = {
        os.path.basename(r.path): r for b in classify_folder([tmp_path], manager, hashes=True) for r in b
    }
    assert results["a.png"].pixel_hash == results["b.tga"].pixel_hash != results["c.png"].pixel_hash


def test_scan_skips_excluded_output_state_folders_and_outside_symlinks(tmp_path):
    src = tmp_path / "src"
    write_png(src / "a.png", (1, 2, 3))
    write_png(src / "out" / "map" / "b.png", (1, 2, 3))
    write_png(src / ".texture-sorter" / "c.png", (1, 2, 3))
    outside = write_png(tmp_path / "elsewhere" / "d.png", (1, 2, 3))
    os.symlink(outside, src / "link-out.png")
    os.symlink(src / "a.png", src / "link-in.png")
    os.symlink(tmp_path / "elsewhere", src / "dirlink")
    files, problems = scan_textures([src], exclude=[src / "out"])
    names = sorted(os.path.basename(f.path) for f in files)
    assert names == ["a.png"]  # link-in.png is the same file as a.png: listed once
    assert problems == []


def test_scan_orders_names_naturally_and_reports_missing_paths(tmp_path):
    for name in ("t10.png", "t2.png", "t1.png"):
        write_png(tmp_path / name, (0, 0, 0))
    files, problems = scan_textures([tmp_path, tmp_path / "nope"])
    assert [os.path.basename(f.path) for f in files] == ["t1.png", "t2.png", "t10.png"]
    assert problems == [(str(tmp_path / "nope"), "no such file or folder")]


def test_scan_of_many_paths_stats_each_file_once(tmp_path, monkeypatch):
    for d in range(20):
        sub = tmp_path / f"d{d}"
        sub.mkdir()
        for i in range(50):
            (sub / f"{i}.png").write_bytes(b"x")
    calls = [0]
    real_stat = os.stat

    def counting_stat(*args, **kwargs):
        calls[0] += 1
        return real_stat(*args, **kwargs)

    monkeypatch.setattr(os, "stat", counting_stat)
    files, _ = scan_textures([tmp_path])
    assert len(files) == 1000
    assert calls[0] <= 25  # DirEntry.stat does the per-file work; os.stat only for folders


def test_pixels_of_rgba_images_reach_the_model_unchanged(tmp_path, manager):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (32, 32, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    Image.fromarray(pixels, "RGBA").save(tmp_path / "x.png")
    (result,) = [r for b in classify_folder([tmp_path], manager) for r in b]
    expected = manager.predict(pixels)
    np.testing.assert_allclose(result.probabilities, expected.probabilities, atol=1e-6)


def test_warm_run_is_answered_from_the_cache_without_decoding(folder, manager, tmp_path, monkeypatch):
    import app.pipeline as pipeline
    from ai.prediction_cache import PredictionCache
    from app.pipeline import PipelineStats

    cache = PredictionCache(tmp_path / "cache.sqlite3")
    cold = [
        (r.path, r.category, r.confidence) for b in classify_folder([folder], manager, cache=cache) for r in b
    ]

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cached file was decoded again")

    monkeypatch.setattr(pipeline, "load_texture", no_decoding)
    stats = PipelineStats()
    warm = [
        (r.path, r.category, r.confidence)
        for b in classify_folder([folder], manager, cache=cache, stats=stats)
        for r in b
    ]
    assert [(p, c) for p, c, _ in warm] == [(p, c) for p, c, _ in cold]
    np.testing.assert_allclose([c for *_, c in warm], [c for *_, c in cold], atol=1e-6)
    assert stats.cache_hits == 23  # every decodable file; the broken one is retried and fails again
    cache.close()


def test_corrections_apply_on_top_of_cached_outputs(folder, manager, tmp_path):
    from ai.prediction_cache import PredictionCache

    cache = PredictionCache(tmp_path / "cache.sqlite3")
    list(classify_folder([folder], manager, cache=cache))

    class Everything:  # a learner that has seen every texture corrected to "sky"
        def adjust_probabilities(
            self, probs, categories, embeddings=None, texture_hashes=None, model_id=None
        ):
            out = np.zeros_like(probs)
            out[:, categories.index("sky")] = 1.0
            return out

    manager.learner = Everything()
    results = [r for b in classify_folder([folder], manager, cache=cache) for r in b if not r.error]
    assert {r.category for r in results} == {"sky"}
    cache.close()


def test_copied_file_is_recognised_by_content(tmp_path, manager):
    from ai.prediction_cache import PredictionCache
    from app.pipeline import PipelineStats

    src = write_png(tmp_path / "a" / "x.png", (9, 99, 199))
    cache = PredictionCache(tmp_path / "cache.sqlite3")
    list(classify_folder([src.parent], manager, cache=cache))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "copy.png").write_bytes(src.read_bytes())
    stats = PipelineStats()
    list(classify_folder([tmp_path / "b"], manager, cache=cache, stats=stats))
    assert stats.cache_hits == 1 and stats.decode_s == 0.0
    cache.close()


def test_a_correction_reranks_the_folder_without_decoding(tmp_path, tiny_model, monkeypatch):
    import app.pipeline as pipeline
    from ai.learning.learner import IncrementalLearner, TrainingDataStore
    from app.pipeline import rerank

    learner = IncrementalLearner(TrainingDataStore(tmp_path / "training.sqlite3"))
    manager = ModelManager.create_default({"model_path": tiny_model, "learner": learner})
    src = write_png(tmp_path / "dump" / "a.png", (20, 40, 60))
    (tmp_path / "dump" / "same-picture.png").write_bytes(src.read_bytes())
    write_png(tmp_path / "dump" / "other.png", (250, 10, 10))
    results = [r for b in classify_folder([tmp_path / "dump"], manager) for r in b]
    first = results[0]
    wrong = next(c for c in manager.categories if c != first.category)
    learner.record_correction(
        first.path,
        wrong,
        first.predictions,
        embedding=first.embedding,
        texture_hash=first.pixel_hash,
        model_id=manager.model_id,
    )
    monkeypatch.setattr(pipeline, "load_texture", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    updated = {os.path.basename(r.path): r for r in rerank(results, manager)}
    assert updated["a.png"].category == wrong and updated["a.png"].confidence == pytest.approx(1.0)
    assert updated["same-picture.png"].category == wrong  # same pixels: the user's answer
    learner.store.close()


def test_user_path_rules_take_part_in_classification(tmp_path, tiny_model):
    from ai.learning.user_rules import UserRule, UserRuleSet

    rules = UserRuleSet([UserRule("*_nm.*", "map/normal")], mode="rules_win")
    manager = ModelManager.create_default({"model_path": tiny_model, "user_rules": rules})
    write_png(tmp_path / "wall_nm.png", (200, 30, 30))
    write_png(tmp_path / "wall.png", (200, 30, 30))
    got = {os.path.basename(r.path): r.category for b in classify_folder([tmp_path], manager) for r in b}
    assert got["wall_nm.png"] == "map/normal"
    assert got["wall.png"] != "map/normal"


def test_a_file_that_breaks_its_batch_prepare_fails_alone(tmp_path, manager, monkeypatch):
    for i in range(6):
        write_png(tmp_path / "dump" / f"{i}.png", (i * 40, 90, 30), size=(24 + i, 24))
    real_batch = manager.prepare_batch

    def batch_prepare(images, hashes=None):
        # The batch fails as a whole; retried one by one, only 3.png (27 px wide) fails again.
        if len(images) > 1:
            raise RuntimeError("statistics blew up")
        if images[0].shape[1] == 27:
            raise ValueError("this picture is cursed")
        return real_batch(images, hashes)

    monkeypatch.setattr(manager, "prepare_batch", batch_prepare)
    results = [r for batch in classify_folder([tmp_path / "dump"], manager, batch_size=8) for r in batch]
    by_name = {os.path.basename(r.path): r for r in results}
    assert by_name["3.png"].error == "unexpected error: ValueError: this picture is cursed"
    assert all(r.predictions and not r.error for name, r in by_name.items() if name != "3.png")
