"""ModelManager: blending, fallbacks, rule evidence, learner hook and thread-safe switching."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ai.errors import OnlineError
from ai.model_manager import ModelManager, blend
from ai.offline_model import OfflineModel
from ai.taxonomy import default_categories
from ai.types import Classification

CATS = default_categories()


def solid(r, g, b, a=255, size=48):
    img = np.zeros((size, size, 4), np.uint8)
    img[...] = (r, g, b, a)
    return img


def normal_map(size=64):
    """A bumpy tangent-space normal map: unit vectors leaning to +Z, encoded as RGB."""
    y, x = np.mgrid[0:size, 0:size] / size * 6.28
    nx, ny = 0.35 * np.sin(x), 0.35 * np.cos(y)
    nz = np.sqrt(1 - nx**2 - ny**2)
    rgb = ((np.stack([nx, ny, nz], -1) + 1) * 127.5).astype(np.uint8)
    return np.dstack([rgb, np.full((size, size), 255, np.uint8)])


class ScriptedOnline:
    """An online classifier that answers from a script (real HTTP servers are tested with OnlineModel)."""

    def __init__(self, answer=None, fail=False):
        self.answer, self.fail, self.calls = answer, fail, 0

    def predict(self, rgba, categories, top_k):
        self.calls += 1
        if self.fail:
            raise OnlineError("server said 503")
        probs = np.array([self.answer.get(c, 0.0) for c in categories], np.float32)
        probs = probs / probs.sum()
        return Classification([], probs, categories, "online")


def test_blend_modes_follow_their_definitions():
    off = np.array([0.7, 0.2, 0.1])
    on = np.array([0.1, 0.8, 0.1])
    np.testing.assert_allclose(blend(off, on, "average"), (off + on) / 2)
    mx = np.maximum(off, on)
    np.testing.assert_allclose(blend(off, on, "max"), mx / mx.sum())
    w_off, w_on = 0.5 * 0.7, 0.5 * 0.8
    np.testing.assert_allclose(
        blend(off, on, "confidence_weighted"), (w_off * off + w_on * on) / (w_off + w_on)
    )
    with pytest.raises(ValueError, match="unknown blend mode"):
        blend(off, on, "median")


def test_no_model_falls_back_to_rules_with_a_reason(tmp_path):
    manager = ModelManager.create_default({"model_path": tmp_path / "missing.onnx"})
    assert manager.offline_model is None
    assert "not found" in manager.offline_error
    result = manager.predict(normal_map())
    assert result.source == "rules"
    assert result.top.category == "map/normal"
    assert "pixel rules" in manager.describe()


def test_offline_model_answers_and_counts_stats(tiny_model):
    manager = ModelManager.create_default({"model_path": tiny_model, "rule_evidence": False})
    results = manager.predict_batch([solid(255, 0, 0), solid(0, 0, 255)], top_k=3)
    assert [r.source for r in results] == ["offline", "offline"]
    assert results[0].top.category != results[1].top.category or not np.allclose(
        results[0].probabilities, results[1].probabilities
    )
    stats = manager.get_stats()
    assert stats["predictions"] == {"offline": 2}


def test_rule_evidence_lifts_normal_maps_over_a_weak_model(tiny_model):
    plain = ModelManager.create_default({"model_path": tiny_model, "rule_evidence": False})
    with_rules = ModelManager.create_default({"model_path": tiny_model})
    image = normal_map()
    before = plain.predict(image).probabilities[CATS.index("map/normal")]
    after = with_rules.predict(image)
    assert after.top.category == "map/normal"
    assert after.probabilities[CATS.index("map/normal")] > before


def test_online_is_blended_only_for_uncertain_and_failures_fall_back(tiny_model):
    online = ScriptedOnline({"sky": 1.0})
    manager = ModelManager(OfflineModel(tiny_model), online, online_threshold=1.01, rule_evidence=False)
    result = manager.predict(solid(90, 120, 200))
    assert result.source == "blend" and online.calls == 1
    assert result.probabilities[CATS.index("sky")] > 0.3

    sure = ModelManager(OfflineModel(tiny_model), online, online_threshold=0.0, rule_evidence=False)
    assert sure.predict(solid(90, 120, 200)).source == "offline"
    assert online.calls == 1  # confident offline answer: quota saved

    broken = ModelManager(OfflineModel(tiny_model), ScriptedOnline(fail=True), online_threshold=1.01)
    result = broken.predict(solid(10, 200, 10))
    assert result.source == "offline"
    stats = broken.get_stats()
    assert stats["fallbacks"] == {"online->offline": 1}
    assert "503" in stats["last_fallback_reason"]


def test_learner_adjustment_is_applied_to_every_batch(tiny_model):
    class AlwaysWood:
        def adjust_probabilities(self, probs, categories, embeddings=None, texture_hashes=None, model_id=None):
            assert embeddings is not None and embeddings.shape[0] == probs.shape[0]
            out = np.zeros_like(probs)
            out[:, categories.index("surface/wood")] = 1.0
            return out

    manager = ModelManager.create_default({"model_path": tiny_model, "learner": AlwaysWood()})
    assert manager.predict(solid(1, 2, 3)).top.category == "surface/wood"


def test_min_confidence_marks_uncertain_predictions(tiny_model):
    manager = ModelManager.create_default({"model_path": tiny_model, "min_confidence": 0.99})
    assert manager.predict(solid(5, 5, 5)).extra["uncertain"] is True


def test_switching_models_while_predicting_is_safe(tmp_path, model_builder):
    a = OfflineModel(model_builder(tmp_path / "a.onnx", CATS, input_size=32, seed=1))
    b = OfflineModel(model_builder(tmp_path / "b.onnx", CATS, input_size=24, seed=2))
    manager = ModelManager(a, rule_evidence=False)
    images = [solid(i * 20, 255 - i * 20, 128) for i in range(8)]
    errors, stop = [], threading.Event()

    def predict_loop():
        try:
            while not stop.is_set():
                out = manager.predict_batch(images)
                assert len(out) == 8 and all(abs(r.probabilities.sum() - 1) < 1e-4 for r in out)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=predict_loop) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(30):
        manager.switch_offline_model(b if i % 2 == 0 else a)
    stop.set()
    for t in threads:
        t.join()
    assert not errors


def test_user_model_with_own_categories_gets_rules_for_shared_ids_only(tmp_path, model_builder):
    cats = ["map/normal", "rocks", "trees"]
    manager = ModelManager(OfflineModel(model_builder(tmp_path / "u.onnx", cats)))
    result = manager.predict(normal_map())
    assert result.categories == cats
    assert result.top.category == "map/normal"


def test_without_onnxruntime_the_manager_degrades_to_rules(tiny_model, tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "import numpy as np\n"
        "from ai.inference import is_available\n"
        "from ai.model_manager import ModelManager\n"
        f"m = ModelManager.create_default({{'model_path': {str(tiny_model)!r}}})\n"
        "print(is_available(), m.predict(np.zeros((8, 8, 4), np.uint8)).source, m.offline_error)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("False rules onnxruntime is not available")
