"""The seed document's public API, used the way its examples use it, with a tiny real model.

The code lives in sub-packages (ai.textures, ai.learning, ai.online, ai.packages, ai.training_pytorch);
these imports are the seed's names and must keep working exactly as written there.
"""

from __future__ import annotations

import numpy as np
import pytest

from ai import IncrementalLearner as TopLearner
from ai import ModelExporter as TopExporter
from ai import ModelImporter as TopImporter
from ai import ModelManager as TopManager
from ai.inference import OnnxInferenceSession, is_available, run_batch_inference
from ai.model_exporter import ModelExporter, ModelImporter
from ai.model_manager import ModelManager
from ai.offline_model import OfflineModel
from ai.online_model import OnlineModel
from ai.taxonomy import default_categories
from ai.training import IncrementalLearner, TrainingDataStore
from ai.training_pytorch import PyTorchTrainer, export_to_onnx, is_pytorch_available


def _texture(colour, size=64) -> np.ndarray:
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = 255
    return rgba


def test_top_level_names_are_the_same_objects_as_the_module_names():
    assert (TopManager, TopLearner, TopExporter, TopImporter) == (
        ModelManager,
        IncrementalLearner,
        ModelExporter,
        ModelImporter,
    )
    import ai

    with pytest.raises(AttributeError):
        ai.NoSuchName  # noqa: B018


def test_inference_session_runs_batches_and_reads_metadata(tiny_model):
    assert is_available()
    session = OnnxInferenceSession(tiny_model, num_threads=1)
    assert session.metadata["name"] == "tiny-test"
    tensors = np.random.default_rng(0).random((5, 3, 32, 32), dtype=np.float32)
    outputs = run_batch_inference(session, tensors, batch_size=2)
    assert outputs["logits"].shape == (5, len(default_categories()))
    assert outputs["embedding"].shape == (5, 8)


def test_offline_model_predicts_top_k_over_its_categories(tiny_model):
    model = OfflineModel(tiny_model)
    assert model.categories == default_categories()
    result = model.predict(_texture((200, 40, 40)), 5)
    assert len(result.predictions) == 5
    assert result.predictions[0].confidence >= result.predictions[-1].confidence
    assert abs(float(result.probabilities.sum()) - 1.0) < 1e-4


def test_model_manager_predicts_and_learns_from_a_correction(tiny_model, tmp_path):
    learner = IncrementalLearner(TrainingDataStore(tmp_path / "training.sqlite3"))
    manager = ModelManager.create_default({"model_path": tiny_model})
    learner.set_model(manager.model_id, None, manager.categories)
    manager.learner = learner
    image = _texture((30, 90, 200))
    first = manager.predict(image, top_k=3)
    assert first.source == "offline" and len(first.predictions) == 3
    wanted = next(c for c in default_categories() if c != first.predictions[0].category)
    learner.record_correction("blue.png", wanted, first.predictions, image=image, embedding=first.embedding)
    again = manager.predict(image, top_k=3)  # the same picture's embedding is now a corrected neighbour
    column = manager.categories.index(wanted)
    assert again.probabilities[column] > first.probabilities[column] + 0.1
    adjusted = learner.adjust_predictions(first.predictions, image=image)
    assert adjusted[0].category == wanted and adjusted[0].confidence == 1.0
    assert manager.get_stats()["predictions"]["offline"] == 2


def test_online_model_is_built_from_the_seed_config_keys_and_falls_back_offline(tiny_model):
    online = OnlineModel(
        {
            "enabled": True,
            "api_url": "http://127.0.0.1:9",  # discard port: nothing answers
            "api_key": "",
            "timeout": 1,
            "max_requests_per_minute": 60,
        }
    )
    manager = ModelManager.create_default(
        {"model_path": tiny_model, "online": online, "online_uncertain_only": False}
    )
    result = manager.predict(_texture((120, 120, 120)), top_k=2)
    assert result.source == "offline"
    online.close()


def test_export_and_import_a_ps2model_package(tiny_model, tmp_path):
    package = tmp_path / "tiny.ps2model"
    meta = ModelExporter().export_model(tiny_model, package, name="Seed tiny", version="1.0", author="tests")
    assert meta["categories"] == len(default_categories())
    installed = ModelImporter().import_model(package)
    assert installed["metadata"]["name"] == "Seed tiny"


@pytest.mark.skipif(not is_pytorch_available(), reason="PyTorch is not installed (the training extra)")
def test_pytorch_trainer_trains_and_exports_onnx(tmp_path):
    import torch

    from ai.training_pytorch import create_small_cnn

    categories = ["ui/hud", "sky"]
    model = create_small_cnn(len(categories), width=4)
    x = torch.rand(8, 3, 32, 32)
    y = torch.tensor([0, 1] * 4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    trainer = PyTorchTrainer(model, loader, learning_rate=1e-2, device="cpu")
    history = trainer.train(1)
    assert len(history) == 1 and "loss" in history[0]
    path = export_to_onnx(trainer.model, tmp_path / "mine.onnx", categories, input_size=32)
    assert OfflineModel(path).categories == categories
