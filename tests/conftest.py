"""Session-wide test setup: offscreen Qt, isolated user folders, shared fixture paths."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Shared test support modules in this folder (catalog_server) importable from every test package.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_TIM2 = ROOT.parent / "shared" / "fixtures" / "tim2"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user's data, config, cache or log folders."""
    home = tmp_path_factory.mktemp("user-home")
    monkeypatch.setenv("TEXTURE_SORTER_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


def build_test_model(
    path: Path,
    categories: list[str],
    input_size: int = 32,
    embedding_dim: int = 8,
    seed: int = 0,
    with_embedding: bool = True,
    output: str = "logits",
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a tiny real ONNX classifier: global average pool → linear, plus an L2-normalised embedding.

    Built with the onnx helper API so tests need no torch. Its scores depend on the mean colour,
    so differently coloured images get different, reproducible predictions.
    """
    import json

    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    n = len(categories)
    w = numpy_helper.from_array((rng.normal(size=(3, n)) * 3).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.normal(size=(n,)).astype(np.float32), "B")
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], ["mm"]),
        helper.make_node("Add", ["mm", "B"], ["scores"]),
    ]
    if output == "probabilities":
        nodes.append(helper.make_node("Softmax", ["scores"], ["probabilities"], axis=1))
        out_name = "probabilities"
    else:
        nodes.append(helper.make_node("Identity", ["scores"], ["logits"]))
        out_name = "logits"
    inits = [w, b]
    outputs = [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", n])]
    if with_embedding:
        e = numpy_helper.from_array(rng.normal(size=(3, embedding_dim)).astype(np.float32), "E")
        inits.append(e)
        nodes += [
            helper.make_node("MatMul", ["flat", "E"], ["emb_raw"]),
            helper.make_node("LpNormalization", ["emb_raw"], ["embedding"], axis=1, p=2),
        ]
        outputs.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", embedding_dim]))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, input_size, input_size])],
        outputs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    props = {
        "categories": json.dumps(categories),
        "input_size": str(input_size),
        "version": "1.0",
        "name": "tiny-test",
    }
    if output == "probabilities":
        props["output"] = "probabilities"
    props.update(metadata or {})
    helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    """A tiny ONNX model predicting the default taxonomy."""
    from ai.taxonomy import default_categories

    return build_test_model(tmp_path / "tiny.onnx", default_categories())


@pytest.fixture
def model_builder():
    """The `build_test_model` function, for tests that need several or unusual tiny models."""
    return build_test_model


@pytest.fixture
def catalog_server(tmp_path):
    """A real static HTTP server on 127.0.0.1 serving tmp_path/site (tests/catalog_server.py)."""
    from catalog_server import CatalogServer

    site = tmp_path / "site"
    site.mkdir()
    server = CatalogServer(site)
    yield server
    server.close()


@pytest.fixture
def publisher(tmp_path):
    """A publisher's own key store (not the user's) with one key, "Alice Modder"."""
    from ai.packages.keys import KeyStore

    keys = KeyStore(tmp_path / "publisher-keys")
    keys.generate("Alice Modder")
    return keys
