"""`models stats` on a simulated session of 240 answers with known truth, checked against a direct computation."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ai.learning.records import CorrectionRecord
from ai.learning.store import TrainingDataStore
from ai.packages.exporter import ModelExporter, ModelImporter
from ai.prediction_cache import PredictionCache
from ai.taxonomy import default_categories
from ai.textures.synth import write_colour_squares
from app.analytics import Observation, compute, model_stats
from app.cli import main
from app.context import create_manager
from app.pipeline import classify_folder, rerank

FILES = 240


COLOUR_TRUTH = ("surface/wood", "vegetation", "sky")  # the user's rule: reddish, greenish, bluish


def textures(folder: Path, n: int) -> dict[str, str]:
    """n small textures of random colours → path: the answer the simulated user gives it."""
    return {p: COLOUR_TRUTH[int(np.argmax(c))] for p, c in write_colour_squares(folder, n).items()}


@pytest.fixture
def session(tmp_path, model_builder):
    """Install a model, classify 240 textures (filling the prediction cache), then answer every one
    in order as the window does: the guess shown is the learner's after the answers before it."""
    model = model_builder(tmp_path / "m.onnx", default_categories(), seed=11)
    ModelExporter().export_model(model, tmp_path / "m.ps2model", "Stats Model", "1.0")
    ModelImporter().import_model(tmp_path / "m.ps2model", activate=True)
    truths = textures(tmp_path / "dump", FILES)
    manager = create_manager(always_learn=True, online=False, rules=False)
    cache = PredictionCache()
    results = [r for batch in classify_folder([tmp_path / "dump"], manager, cache=cache) for r in batch]
    cache.close()
    assert len(results) == FILES and all(r.error is None for r in results)
    categories = manager.categories
    log = []
    for i, result in enumerate(results):
        raw = categories[int(np.argmax(result.model_probabilities))]
        truth = truths[result.path]
        shown = rerank([result], manager)[0]
        # Half the answers carry the model's own guess (as this version stores it); for the other
        # half `models stats` must read it back from the prediction cache.
        manager.learner.record_correction(
            result.path, truth, shown.predictions, embedding=result.embedding, texture_hash=result.pixel_hash,
            model_id=manager.model_id, metadata={"model_guess": raw} if i % 2 else None,
        )  # fmt: skip
        log.append((shown.predictions[0].category, raw, truth))
    manager.learner.store.close()
    return log


def test_models_stats_matches_a_direct_computation(session, capsys):
    shown, raw, truth = (np.array(column) for column in zip(*session, strict=True))
    assert main(["models", "stats", "Stats Model", "--json"]) == 0
    [stats] = json.loads(capsys.readouterr().out)

    assert stats["answered"] == FILES
    assert stats["accuracy"] == pytest.approx(np.mean(shown == truth))
    learner = stats["learner"]
    assert learner["compared"] == FILES  # every model guess was found: stored or from the cache
    assert learner["model_accuracy"] == pytest.approx(np.mean(raw == truth))
    assert learner["gain"] == pytest.approx(np.mean(shown == truth) - np.mean(raw == truth))
    assert learner["fixed"] == int(np.sum((raw != truth) & (shown == truth)))
    assert learner["broke"] == int(np.sum((raw == truth) & (shown != truth)))
    for category, figures in stats["categories"].items():
        guessed, actual = shown == category, truth == category
        tp = int(np.sum(guessed & actual))
        assert figures["answers"] == int(actual.sum()) and figures["right"] == tp
        assert figures["precision"] == (pytest.approx(tp / guessed.sum()) if guessed.any() else None)
        assert figures["recall"] == (pytest.approx(tp / actual.sum()) if actual.any() else None)
    pairs = Counter((t, s) for s, t in zip(shown, truth, strict=True) if s != t)
    assert [(c["truth"], c["guess"], c["count"]) for c in stats["confusions"]] == [
        (t, g, n) for (t, g), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    ]
    assert np.sum(stats["matrix"]) == FILES
    # One session in one day: ten runs of 24 answers, in the order they were given.
    timeline = stats["timeline"]
    assert [p["count"] for p in timeline] == [24] * 10
    for k, point in enumerate(timeline):
        part = slice(24 * k, 24 * (k + 1))
        assert point["accuracy"] == pytest.approx(np.mean(shown[part] == truth[part]))
        assert point["model_accuracy"] == pytest.approx(np.mean(raw[part] == truth[part]))

    assert main(["models", "stats"]) == 0
    text = capsys.readouterr().out
    assert f"{FILES} textures you answered" in text
    assert f"first guesses right: {np.mean(shown == truth):.1%}" in text
    assert f"the model alone: {np.mean(raw == truth):.1%} on {FILES} of them" in text


def test_the_latest_answer_is_the_truth_and_imports_do_not_count(tmp_path):
    store = TrainingDataStore(tmp_path / "t.sqlite3")
    day = 86_400.0
    start = 1_700_000_000.0
    for n in range(12):  # four days, three answers a day
        store.add(CorrectionRecord(f"/t/{n}.png", f"h{n}", "sky", original_category="sky" if n % 3 else "ui/hud",
                                   timestamp=start + (n // 3) * day + n, model_id="m-0123456789abcdef"))  # fmt: skip
    # The user changes their mind about h1 later (sky → effect): h1's first guess (sky) is now wrong.
    store.add(CorrectionRecord("/t/1.png", "h1", "effect", original_category="sky", timestamp=start + 5 * day,
                               model_id="m-0123456789abcdef"))  # fmt: skip
    store.add(CorrectionRecord("/t/x.png", "hx", "sky", original_category="ui/hud", timestamp=start,
                               model_id="m-0123456789abcdef", origin="import"))  # fmt: skip
    cache = PredictionCache(tmp_path / "c.sqlite3")
    [stats] = model_stats(store=store, cache=cache)
    assert stats.answered == 12
    assert stats.correct == 7  # 8 first guesses said sky and were right, less h1
    assert [p["count"] for p in stats.timeline] == [3, 3, 3, 3]  # per day over four days
    assert [p["correct"] for p in stats.timeline] == [1, 2, 2, 2]
    assert stats.categories["effect"] == {"precision": None, "recall": 0.0, "answers": 1, "guessed": 0, "right": 0}
    assert stats.learner["compared"] == 0


def test_compute_counts_a_confusion_matrix_by_answer_and_guess():
    obs = [Observation("a", "a", 1, "sky", "sky"), Observation("b", "b", 2, "sky", "effect"),
           Observation("c", "c", 3, "effect", "effect", model_guess="sky")]  # fmt: skip
    stats = compute("m", obs)
    assert stats.labels == ["effect", "sky"]
    assert stats.matrix == [[1, 1], [0, 1]]
    assert stats.learner == {"compared": 1, "model_accuracy": 0.0, "shown_accuracy": 1.0, "gain": 1.0,
                             "fixed": 1, "broke": 0}  # fmt: skip
