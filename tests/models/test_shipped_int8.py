"""The shipped default model is the int8 copy of the float one: same interface, same answers on real textures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime.quantization")

from ai.offline_model import OfflineModel  # noqa: E402
from models.recipe import quantize  # noqa: E402

MODELS = Path(__file__).resolve().parents[2] / "models"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_default_onnx_is_quantised_and_keeps_the_float_models_interface():
    int8, original = OfflineModel(MODELS / "default.onnx"), OfflineModel(MODELS / "default-float.onnx")
    assert int8.categories == original.categories and int8.input_size == original.input_size
    ops = {node.op_type for node in onnx.load(str(MODELS / "default.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert (MODELS / "default.onnx").stat().st_size < 0.6 * (MODELS / "default-float.onnx").stat().st_size


def test_int8_agrees_with_the_float_model_on_the_real_fixtures():
    figures = quantize.check_on_folder(MODELS / "default-float.onnx", MODELS / "default.onnx", FIXTURES)
    assert figures["images"] >= 40
    assert figures["top1_agreement"] >= 0.8
    recorded = json.loads((MODELS / "quantization.json").read_text(encoding="utf-8"))["fixture_check"]
    assert abs(recorded["top1_agreement"] - figures["top1_agreement"]) < 0.03  # the record is of these files
