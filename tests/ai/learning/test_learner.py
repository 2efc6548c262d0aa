"""IncrementalLearner: corrections change the next guesses, fast, from many threads at once."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from ai.errors import StoreError
from ai.learning.learner import CorrectionRecord, IncrementalLearner, LearnerSettings, TrainingDataStore
from ai.textures.hashing import pixel_hash
from ai.types import Prediction

CATS = ["map/normal", "sky", "surface/wood", "surface/metal", "ui/font"]


def unit(*values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def near(vector: np.ndarray, rng: np.random.Generator, noise: float = 0.05) -> np.ndarray:
    return unit(*(vector + noise * rng.standard_normal(vector.shape)))


def probs(*rows) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32)


@pytest.fixture
def learner(tmp_path) -> IncrementalLearner:
    learner = IncrementalLearner(TrainingDataStore(tmp_path / "t.db"), model_id="m1", categories=CATS)
    yield learner
    learner.store.close()


def image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (8, 8, 4), dtype=np.uint8)


def test_exact_texture_returns_the_users_answer_with_certainty(learner):
    pixels = image(1)
    learner.record_correction("a.dds", "surface/metal", [Prediction("surface/wood", 0.9)], image=pixels)
    model = [Prediction("surface/wood", 0.9), Prediction("surface/metal", 0.05)]
    assert learner.adjust_predictions(model, image=pixels) == [
        Prediction("surface/metal", 1.0),
        Prediction("surface/wood", 0.0),
    ]
    adjusted = learner.adjust_probabilities(
        probs([0.1, 0.1, 0.7, 0.05, 0.05]), CATS, None, [pixel_hash(pixels)]
    )
    assert adjusted[0].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]
    # The same picture under another name and format is the same texture.
    assert learner.lookup(pixel_hash(pixels.copy())) == "surface/metal"


def test_dicts_in_dicts_out_and_rows_sum_to_one(learner):
    learner.record_correction(
        "a.dds", "sky", [("surface/wood", 0.6)], image=image(1), embedding=unit(1, 0, 0)
    )
    out = learner.adjust_predictions(
        [{"category": "surface/wood", "confidence": 0.6}, {"category": "sky", "confidence": 0.3}],
        embedding=unit(1, 0.01, 0),
    )
    assert [set(d) for d in out] == [{"category", "confidence"}] * 2
    assert out[0]["category"] == "sky"
    batch = np.random.default_rng(0).dirichlet(np.ones(len(CATS)), 40).astype(np.float32)
    emb = np.random.default_rng(1).standard_normal((40, 3)).astype(np.float32)
    adjusted = learner.adjust_probabilities(batch, CATS, emb, [None] * 40)
    assert adjusted.shape == (40, len(CATS)) and adjusted.dtype == np.float32
    assert np.allclose(adjusted.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="categories"):
        learner.adjust_probabilities(batch[:, :3], CATS)


def test_confusion_statistics_flip_torn_guesses_but_not_confident_ones(learner):
    for i in range(6):
        learner.record_correction(f"{i}.dds", "surface/metal", [("surface/wood", 0.6)], image=image(i))
    torn, sure = probs([0, 0, 0.52, 0.46, 0.02], [0, 0, 0.97, 0.02, 0.01])
    adjusted = learner.adjust_probabilities(np.stack([torn, sure]), CATS)
    assert CATS[adjusted[0].argmax()] == "surface/metal"
    assert CATS[adjusted[1].argmax()] == "surface/wood"
    # Confirmations (the user accepted "wood") speak for the model and weaken the correction.
    before = adjusted[0, 3]
    for i in range(40):
        learner.record_correction(f"ok{i}.dds", "surface/wood", [("surface/wood", 0.8)], image=image(100 + i))
    assert learner.adjust_probabilities(torn[None], CATS)[0, 3] < before


def test_nearest_corrected_examples_move_similar_textures_only(learner):
    rng = np.random.default_rng(0)
    fonts = unit(1, 1, 0, 0)
    for i in range(5):
        learner.record_correction(
            f"f{i}.png", "ui/font", [("sky", 0.8)], image=image(i), embedding=near(fonts, rng)
        )
    model = probs([0.05, 0.8, 0.05, 0.05, 0.05], [0.05, 0.8, 0.05, 0.05, 0.05])
    embeddings = np.stack([near(fonts, rng), unit(0, 0, 1, 1)])
    adjusted = learner.adjust_probabilities(model, CATS, embeddings)
    assert CATS[adjusted[0].argmax()] == "ui/font"
    assert CATS[adjusted[1].argmax()] == "sky"
    # A far texture gets no neighbour evidence: only the (mild) confusion statistics touch it.
    without_embedding = learner.adjust_probabilities(model[1:], CATS)
    assert np.allclose(adjusted[1], without_embedding[0], atol=0.01)


def test_the_learners_weight_grows_with_the_number_of_corrections(learner):
    rng = np.random.default_rng(3)
    centre = unit(0, 1, 1, 0)
    model = probs([0.05, 0.8, 0.05, 0.05, 0.05])
    query = near(centre, rng)[None]
    weights = []
    for i in range(12):
        learner.record_correction(
            f"{i}.png", "ui/font", [("sky", 0.8)], image=image(i), embedding=near(centre, rng)
        )
        weights.append(float(learner.adjust_probabilities(model, CATS, query)[0, 4]))
    assert weights[0] < weights[3] < weights[11]
    assert weights[11] > 0.5


def test_embeddings_from_another_model_are_not_compared(learner):
    rng = np.random.default_rng(0)
    centre = unit(1, 0, 0, 1)
    for i in range(5):
        learner.record_correction(
            f"{i}.png", "ui/font", [], image=image(i), embedding=near(centre, rng), model_id="other-model"
        )
    model = probs([0.05, 0.8, 0.05, 0.05, 0.05])
    query = near(centre, rng)[None]
    kept = learner.adjust_probabilities(model, CATS, query)  # learner's model is m1
    assert kept[0].argmax() == 1
    moved = learner.adjust_probabilities(model, CATS, query, model_id="other-model")
    assert CATS[moved[0].argmax()] == "ui/font"
    # Another embedding width (another model) is ignored rather than failing.
    assert learner.adjust_probabilities(model, CATS, np.ones((1, 7), np.float32))[0].argmax() == 1


def test_categories_the_model_lacks_are_kept_for_exact_matches(learner):
    pixels = image(9)
    learner.record_correction(
        "logo.png", "misc/logo", [("ui/hud", 0.7)], image=pixels, embedding=unit(1, 0, 0)
    )
    out = learner.adjust_predictions([Prediction("sky", 0.7), Prediction("ui/font", 0.2)], image=pixels)
    assert out[0] == Prediction("misc/logo", 1.0)
    # The probability view has no column for it, so the model's answer stands there.
    adjusted = learner.adjust_probabilities(
        probs([0.1, 0.7, 0.1, 0.05, 0.05]), CATS, None, [pixel_hash(pixels)]
    )
    assert adjusted[0].argmax() == 1


def test_texture_corrected_twice_counts_once_undo_and_edit(learner):
    pixels = image(5)
    first = learner.record_correction("a.png", "surface/wood", [("sky", 0.5)], image=pixels)
    learner.record_correction("a.png", "surface/metal", [("sky", 0.5)], image=pixels)
    assert len(learner) == 1 and learner.category_statistics()["total"] == 1
    assert learner.lookup(pixel_hash(pixels)) == "surface/metal"
    assert learner.undo_last_correction().corrected_category == "surface/metal"
    assert learner.lookup(pixel_hash(pixels)) == "surface/wood"
    learner.edit_correction(first.id, "surface/tile")
    assert learner.lookup(pixel_hash(pixels)) == "surface/tile"
    assert learner.undo_last_correction().id == first.id
    assert learner.lookup(pixel_hash(pixels)) is None and len(learner) == 0
    assert learner.undo_last_correction() is None


def test_undo_in_a_new_session_takes_back_the_newest_stored_correction(tmp_path):
    with TrainingDataStore(tmp_path / "t.db") as store:
        IncrementalLearner(store).record_correction("a.png", "sky", [], image=image(1))
        IncrementalLearner(store).record_correction("b.png", "sky", [], image=image(2))
    with TrainingDataStore(tmp_path / "t.db") as store:
        later = IncrementalLearner(store)
        assert later.undo_last_correction().texture_path == "b.png"
        assert len(later) == 1


def test_answers_for_names_the_files_the_user_answered_after_a_restart_whatever_the_model(tmp_path):
    a, b = image(1), image(2)
    folder = tmp_path / "dump"
    with TrainingDataStore(tmp_path / "t.db") as store:
        first = IncrementalLearner(store, model_id="m1").record_correction(
            str(folder / "a.png"), "sky", [], image=a
        )
        second = IncrementalLearner(store, model_id="m1").record_correction(
            str(folder / "b.png"), "ui/font", [], image=b
        )
    with TrainingDataStore(tmp_path / "t.db") as store:
        later = IncrementalLearner(store, model_id="another model", categories=["x", "y"])
        answers = later.answers_for(
            [
                (str(folder / "a.png"), pixel_hash(a)),
                (str(folder / "sub" / ".." / "b.png"), pixel_hash(b)),  # another spelling of the same file
                (str(folder / "copy-of-a.png"), pixel_hash(a)),  # the same picture elsewhere: not an answer
                (str(folder / "b.png"), pixel_hash(a)),  # the file changed since: not the answered picture
                (str(folder / "c.png"), None),
            ]
        )
    assert answers == {
        str(folder / "a.png"): ("sky", first.id),
        str(folder / "sub" / ".." / "b.png"): ("ui/font", second.id),
    }


def test_corrections_survive_a_restart(tmp_path):
    rng = np.random.default_rng(0)
    centre = unit(1, 2, 3)
    with TrainingDataStore(tmp_path / "t.db") as store:
        first = IncrementalLearner(store, model_id="m1")
        for i in range(4):
            first.record_correction(
                f"{i}.png", "sky", [("ui/font", 0.9)], image=image(i), embedding=near(centre, rng)
            )
        query = near(centre, rng)[None]
        expected = first.adjust_probabilities(probs([0.05, 0.05, 0.05, 0.05, 0.8]), CATS, query)
    with TrainingDataStore(tmp_path / "t.db") as store:
        again = IncrementalLearner(store, model_id="m1").adjust_probabilities(
            probs([0.05, 0.05, 0.05, 0.05, 0.8]), CATS, query
        )
    assert np.allclose(again, expected, atol=2e-3)  # embeddings come back from float16


def test_statistics_count_corrections_confirmations_and_confusions(learner):
    learner.record_correction("1.png", "surface/metal", [("surface/wood", 0.6)], image=image(1))
    learner.record_correction("2.png", "surface/metal", [("surface/wood", 0.6)], image=image(2))
    learner.record_correction("3.png", "sky", [("sky", 0.9)], image=image(3), embedding=unit(1, 0))
    stats = learner.category_statistics()
    assert stats["total"] == 3 and stats["confirmations"] == 1 and stats["corrections"] == 2
    assert stats["with_embeddings"] == 1
    assert stats["categories"]["surface/metal"]["corrected_to"] == 2
    assert stats["categories"]["surface/wood"]["corrected_from"] == 2
    assert stats["categories"]["sky"]["confirmed"] == 1
    assert stats["confusions"] == [{"model": "surface/wood", "user": "surface/metal", "count": 2}]


def test_export_then_import_restores_knn_evidence_without_duplicates(learner, tmp_path):
    rng = np.random.default_rng(0)
    centre = unit(3, 1, 0, 0)
    for i in range(5):
        learner.record_correction(
            f"{i}.png", "ui/font", [("sky", 0.8)], image=image(i), embedding=near(centre, rng)
        )
    path = tmp_path / "history.json"
    assert learner.export_history(path) == 5
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "texture-sorter-corrections" and len(document["corrections"]) == 5
    assert isinstance(document["corrections"][0]["embedding"], str)  # base64

    query = near(centre, rng)[None]
    model = probs([0.05, 0.8, 0.05, 0.05, 0.05])
    with TrainingDataStore(tmp_path / "other.db") as store:
        other = IncrementalLearner(store, model_id="m1")
        result = other.import_history(path)
        assert (result.added, result.skipped, result.invalid) == (5, 0, [])
        assert np.allclose(
            other.adjust_probabilities(model, CATS, query),
            learner.adjust_probabilities(model, CATS, query),
            atol=2e-3,
        )
        again = other.import_history(path)
        assert (again.added, again.skipped) == (0, 5)
        assert store.count(current_only=False) == 5


def test_import_keeps_the_newer_answer_and_reports_bad_entries(learner, tmp_path):
    pixels = image(1)
    learner.record_correction("a.png", "sky", [], image=pixels)
    path = tmp_path / "h.json"
    entries = [
        {"texture_hash": pixel_hash(pixels), "corrected_category": "effect", "timestamp": 1.0},  # older
        {"texture_hash": "new", "corrected_category": "effect", "timestamp": 5.0},
        {"texture_hash": "x", "timestamp": 5.0},
        {
            "texture_hash": "y",
            "corrected_category": "sky",
            "timestamp": 5.0,
            "embedding": "!!",
            "embedding_dim": 2,
        },
        "nonsense",
    ]
    path.write_text(
        json.dumps({"format": "texture-sorter-corrections", "version": 1, "corrections": entries})
    )
    result = learner.import_history(path)
    assert (result.added, result.skipped) == (1, 1)
    assert [line.split(":")[0] for line in result.invalid] == ["entry 3", "entry 4", "entry 5"]
    assert learner.lookup(pixel_hash(pixels)) == "sky"
    assert learner.lookup("new") == "effect"


@pytest.mark.parametrize(
    "content", [b"\x00\xff not json", b'{"format": "something-else", "corrections": []}']
)
def test_import_of_a_file_that_is_not_a_history_names_it(learner, tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="bad.json"):
        learner.import_history(path)


def test_projected_search_finds_the_same_neighbours_as_exact_search(tmp_path):
    rng = np.random.default_rng(0)
    dim, count = 256, 3000
    centres = np.maximum(rng.standard_normal((40, dim)), 0)
    labels = rng.integers(0, 40, count)
    vectors = np.maximum(centres[labels] + 0.6 * rng.standard_normal((count, dim)), 0).astype(np.float32)
    records = [
        CorrectionRecord(f"{i}", f"h{i}", CATS[labels[i] % 5], timestamp=float(i), embedding=vectors[i])
        for i in range(count)
    ]
    queries = np.maximum(centres[rng.integers(0, 40, 200)] + 0.6 * rng.standard_normal((200, dim)), 0)
    model = rng.dirichlet(np.ones(5), 200).astype(np.float32)
    results = []
    for limit in (10**9, 500):  # exact, then projected (index far above the limit)
        learner = IncrementalLearner(
            TrainingDataStore(":memory:"), settings=LearnerSettings(exact_search_limit=limit, reduced_dim=32)
        )
        learner.record_corrections(records)
        results.append(learner.adjust_probabilities(model, CATS, queries.astype(np.float32)))
    assert learner._indexes[(None, dim)].basis is not None
    assert np.mean(results[0].argmax(1) == results[1].argmax(1)) > 0.97
    assert np.abs(results[0] - results[1]).max() < 0.1


def _per_prediction_ms(learner, model, queries, batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(queries), batch):
        learner.adjust_probabilities(model[i : i + batch], learner.categories, queries[i : i + batch])
    return (time.perf_counter() - start) / len(queries) * 1000


def test_speed_with_10000_corrections_stays_near_the_speed_with_1000(capsys):
    from ai.taxonomy import default_categories

    categories = default_categories()
    rng = np.random.default_rng(0)
    dim = 1280
    centres = np.maximum(rng.standard_normal((100, dim)), 0)

    def sample(n):
        x = np.maximum(centres[rng.integers(0, 100, n)] + 0.7 * rng.standard_normal((n, dim)), 0)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    vectors = sample(10_000)
    queries = sample(256)
    model = rng.dirichlet(np.ones(len(categories)), 256).astype(np.float32)
    learners = {}
    for count in (1_000, 10_000):
        learner = learners[count] = IncrementalLearner(TrainingDataStore(":memory:"), categories=categories)
        learner.record_corrections(
            [
                CorrectionRecord(
                    f"{i}",
                    f"h{i}",
                    categories[i % 26],
                    categories[(i + 1) % 26],
                    0.5,
                    float(i),
                    embedding=vectors[i],
                )  # fmt: skip
                for i in range(count)
            ]
        )
        learner.adjust_probabilities(model[:1], categories, queries[:1])  # builds the projection once
    # Rounds alternate between the two sizes so both see the same load from other processes.
    best = {(count, batch): float("inf") for count in learners for batch in (1, 32)}
    for _ in range(9):
        for (count, batch), so_far in best.items():
            best[count, batch] = min(so_far, _per_prediction_ms(learners[count], model, queries, batch))
    with capsys.disabled():
        for count in learners:
            print(
                f"\nlearner, {count} corrections × {dim}-d: {best[count, 1]:.3f} ms/prediction single, "
                f"{best[count, 32]:.3f} batched (32)"
            )
    # Safety net, not a benchmark: a loop over the corrections would grow 10× from 1,000 to 10,000.
    assert best[10_000, 1] < 8 * best[1_000, 1]
    assert best[10_000, 32] < 8 * best[1_000, 32]


@pytest.mark.slow
def test_eight_threads_record_and_predict_for_ten_seconds_without_losing_anything(tmp_path, capsys):
    path = tmp_path / "t.db"
    shared = IncrementalLearner(TrainingDataStore(path), model_id="m1", categories=CATS)
    # Two threads write through their own connection, as a CLI process next to the GUI would.
    others = [IncrementalLearner(TrainingDataStore(path), model_id="m1", categories=CATS) for _ in range(2)]
    deadline = time.monotonic() + 10.0
    errors: list[BaseException] = []
    answers: list[dict[str, str]] = [{} for _ in range(8)]  # texture → current category, per thread
    rows = [0] * 8
    predicted = [0] * 8

    def work(n: int) -> None:
        learner = shared if n < 6 else others[n - 6]
        rng = np.random.default_rng(n)
        mine = answers[n]
        history: list[tuple[str, int, str]] = []  # (texture, id, category) still stored, oldest first
        i = 0
        try:
            while time.monotonic() < deadline:
                i += 1
                texture = f"t{n}-{i}"
                if i % 7 == 0 and history:  # correct an earlier texture again: still one texture
                    texture = history[int(rng.integers(len(history)))][0]
                category = CATS[(n + i) % len(CATS)]
                record = learner.record_correction(
                    f"{texture}.png", category, [("sky", 0.5)], texture_hash=texture,
                    embedding=rng.standard_normal(16).astype(np.float32),
                )  # fmt: skip
                history.append((texture, record.id, category))
                mine[texture] = category
                rows[n] += 1
                if i % 11 == 0:  # take the newest back: the texture's previous answer returns
                    assert learner.remove_correction(record.id).id == record.id
                    history.pop()
                    rows[n] -= 1
                    earlier = [c for t, _, c in history if t == texture]
                    if earlier:
                        mine[texture] = earlier[-1]
                    else:
                        del mine[texture]
                hashes = list(mine)[-8:]
                batch = rng.dirichlet(np.ones(len(CATS)), len(hashes)).astype(np.float32)
                emb = rng.standard_normal((len(hashes), 16)).astype(np.float32)
                out = learner.adjust_probabilities(batch, CATS, emb, hashes)
                predicted[n] += len(hashes)
                assert np.allclose(out.sum(axis=1), 1.0, atol=1e-4)
                # This thread's own textures come back with this thread's latest answer.
                assert [CATS[j] for j in out.argmax(axis=1)] == [mine[h] for h in hashes]
        except BaseException as exc:  # collected and reported with the failing assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,), name=f"worker-{n}") for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, [repr(e) for e in errors[:3]]
    current = {texture: category for mine in answers for texture, category in mine.items()}
    with TrainingDataStore(path) as check:
        assert check.count(current_only=False) == sum(rows)
        assert {r.texture_hash: r.corrected_category for r in check.current()} == current
    shared.reload()
    assert len(shared) == len(current)
    with capsys.disabled():
        print(
            f"\n8 threads for 10 s: {sum(rows)} stored corrections, {sum(predicted)} predictions, none lost"
        )
    for learner in [shared, *others]:
        learner.store.close()
