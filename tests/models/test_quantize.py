"""The recipe's int8 step: float16-stored weights restored exactly, a quantised copy that runs and agrees."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime.quantization")

from ai.offline_model import OfflineModel  # noqa: E402
from ai.training_pytorch import create_small_cnn, export_to_onnx, halve_conv_weights  # noqa: E402
from models.recipe import quantize  # noqa: E402


def test_float32_copy_undoes_halve_conv_weights_and_quantize_keeps_the_interface(tmp_path):
    torch.manual_seed(0)
    categories = ["a", "b", "c"]
    path = export_to_onnx(create_small_cnn(3, width=8).eval(), tmp_path / "m.onnx", categories, input_size=32)
    halved = tmp_path / "half.onnx"
    halved.write_bytes(path.read_bytes())
    halve_conv_weights(halved)
    restored = quantize.float32_copy(halved, tmp_path / "f32.onnx")
    types = {t.data_type for t in onnx.load(str(restored)).graph.initializer}
    assert onnx.TensorProto.FLOAT16 not in types
    assert "Cast" not in {n.op_type for n in onnx.load(str(restored)).graph.node}

    x = np.random.default_rng(0).normal(size=(24, 3, 32, 32)).astype(np.float32)
    half_probs, _ = OfflineModel(halved).predict_arrays(x)
    f32_probs, _ = OfflineModel(restored).predict_arrays(x)
    assert np.allclose(half_probs, f32_probs, atol=1e-6)  # the same float16-rounded weights

    int8 = quantize.quantize(restored, tmp_path / "int8.onnx", x[:16], keep_float=())
    model = OfflineModel(int8)
    assert model.categories == categories  # metadata carried over
    ops = {n.op_type for n in onnx.load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    probs, embedding = model.predict_arrays(x)
    assert probs.shape == (24, 3) and embedding is not None
    assert np.abs(probs - f32_probs).mean() < 0.1
    speeds = quantize.ms_per_image([restored, int8], x[:8], rounds=1)
    assert len(speeds) == 2 and all(s > 0 for s in speeds)
