"""OnnxInferenceSession and OfflineModel against real tiny ONNX files."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ai.errors import ModelError
from ai.inference import OnnxInferenceSession, resolve_providers, run_batch_inference
from ai.offline_model import OfflineModel
from ai.taxonomy import default_categories


def test_session_reads_metadata_and_runs_batches(tiny_model):
    session = OnnxInferenceSession(tiny_model, num_threads=1)
    assert session.input_name == "input"
    assert session.output_names == ["logits", "embedding"]
    assert session.metadata["name"] == "tiny-test"
    out = run_batch_inference(session, np.zeros((70, 3, 32, 32), np.float32), batch_size=32)
    assert out["logits"].shape == (70, len(default_categories()))
    assert out["embedding"].shape == (70, 8)


def test_unknown_providers_fall_back_to_cpu():
    assert resolve_providers("cuda,dml") == ["CPUExecutionProvider"]
    assert resolve_providers(None) == ["CPUExecutionProvider"]


def test_session_is_thread_safe_and_deterministic(tiny_model):
    session = OnnxInferenceSession(tiny_model, num_threads=1)
    batch = np.random.default_rng(1).normal(size=(8, 3, 32, 32)).astype(np.float32)
    expected = session.run(batch)["logits"]
    errors, outs = [], []

    def work():
        try:
            for _ in range(20):
                outs.append(session.run(batch)["logits"])
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(np.array_equal(o, expected) for o in outs)


def test_missing_and_garbage_models_raise_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        OnnxInferenceSession(tmp_path / "absent.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a model" * 10)
    with pytest.raises(ModelError, match="junk.onnx: not a loadable ONNX model"):
        OnnxInferenceSession(junk)


def test_offline_model_softmax_categories_and_embedding(tiny_model):
    model = OfflineModel(tiny_model, num_threads=1)
    assert model.categories == default_categories()
    assert model.input_size == 32
    red = np.zeros((40, 50, 4), np.uint8)
    red[..., 0] = 255
    red[..., 3] = 255
    result = model.predict(red, 5)
    assert result.source == "offline"
    assert len(result.predictions) == 5
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert result.predictions[0].confidence == pytest.approx(result.probabilities.max())
    assert np.linalg.norm(result.embedding) == pytest.approx(1.0, abs=1e-5)
    assert model.model_id.startswith("tiny-test-")


def test_model_that_outputs_probabilities_is_not_softmaxed_twice(tmp_path, model_builder):
    build_test_model = model_builder
    cats = ["a", "b", "c"]
    probs_path = build_test_model(tmp_path / "p.onnx", cats, output="probabilities")
    logits_path = build_test_model(tmp_path / "l.onnx", cats)
    image = np.full((16, 16, 4), 200, np.uint8)
    p = OfflineModel(probs_path).predict(image).probabilities
    q = OfflineModel(logits_path).predict(image).probabilities
    np.testing.assert_allclose(p, q, atol=1e-5)


def test_model_without_categories_or_with_wrong_width_is_rejected(tmp_path, model_builder):
    build_test_model = model_builder
    path = build_test_model(tmp_path / "m.onnx", ["a", "b"], metadata={"categories": "[]"})
    with pytest.raises(ModelError, match="names no categories"):
        OfflineModel(path)
    path = build_test_model(tmp_path / "w.onnx", ["a", "b"], metadata={"categories": '["a", "b", "c"]'})
    with pytest.raises(ModelError, match="outputs 2 scores but names 3 categories"):
        OfflineModel(path)
