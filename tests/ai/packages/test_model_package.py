"""Exporting and importing .ps2model packages: round trip, metadata, categories, versions and reinstalls."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from ai import __version__
from ai.errors import PackageError
from ai.packages.exporter import ModelExporter, ModelImporter
from ai.packages.registry import ModelRegistry
from ai.packages.schema import validate_metadata

CATEGORIES = ["wood", "metal", "map/normal", "ui/font"]


def run_onnx(path: Path, batch: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {"input": batch}), strict=True))


def symbolic_width_model(path: Path, width: int, categories: list[str] | None = None) -> Path:
    """input [N,3,16,16] → pool → linear with an output declared as [N, C]: the width is only known by running."""
    rng = np.random.default_rng(3)
    weights = numpy_helper.from_array(rng.normal(size=(3, width)).astype(np.float32), "W")
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("MatMul", ["flat", "W"], ["logits"]),
        ],
        "symbolic",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", "C"])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if categories is not None:
        helper.set_model_props(model, {"categories": json.dumps(categories)})
    onnx.save(model, str(path))
    return path


def export(tmp_path, model, name="Wood and Metal", version="1.0", out=None, **kwargs) -> Path:
    out = out or tmp_path / f"{name}-{version}.ps2model".replace(" ", "_").replace("/", "_")
    ModelExporter().export_model(model, out, name, version, "Ada", **kwargs)
    return out


@pytest.fixture
def source_model(tmp_path, model_builder) -> Path:
    return model_builder(tmp_path / "source.onnx", CATEGORIES, input_size=32)


def test_round_trip_gives_the_same_predictions_as_the_source_model(tmp_path, source_model):
    package = export(tmp_path, source_model, description="sorts wood from metal", tags=["ps2", "surfaces"])
    result = ModelImporter().import_model(package)

    batch = np.random.default_rng(7).normal(size=(5, 3, 32, 32)).astype(np.float32)
    before, after = run_onnx(source_model, batch), run_onnx(result["model_path"], batch)
    assert set(before) == set(after) == {"logits", "embedding"}
    for name in before:
        assert np.array_equal(before[name], after[name]), name
    assert result["categories"] == CATEGORIES
    assert result["metadata"]["description"] == "sorts wood from metal"
    assert result["install_dir"] == ModelRegistry().models_dir / "wood-and-metal" / "1.0"


def test_exported_metadata_follows_the_schema(tmp_path, source_model):
    package = export(tmp_path, source_model, license="CC-BY-4.0", tags=["ps2"])
    with zipfile.ZipFile(package) as zf:
        assert sorted(zf.namelist()) == ["categories.json", "metadata.json", "model.onnx"]
        meta = json.loads(zf.read("metadata.json"))
        assert json.loads(zf.read("categories.json")) == CATEGORIES
        assert all((info.external_attr >> 16) & 0o170000 == 0o100000 for info in zf.infolist())
    model_bytes = source_model.read_bytes()
    assert meta["package_version"] == "1.0"
    assert meta["model_hash"] == hashlib.sha256(model_bytes).hexdigest()
    assert meta["model_size"] == len(model_bytes)
    assert (meta["name"], meta["version"], meta["author"], meta["license"]) == (
        "Wood and Metal",
        "1.0",
        "Ada",
        "CC-BY-4.0",
    )
    assert meta["categories"] == len(CATEGORIES) and meta["input_size"] == 32 and meta["tags"] == ["ps2"]
    assert meta["app_version"] == __version__ and meta["min_app_version"] == "0.1.0"
    assert datetime.fromisoformat(meta["created"]).tzinfo is not None
    assert validate_metadata(meta)[1] == []


def test_training_data_and_readme_travel_with_the_package(tmp_path, source_model):
    corrections = {"format": 1, "corrections": [{"hash": "ab12", "category": "wood"}]}
    package = export(
        tmp_path, source_model, training_data=corrections, readme="# Wood and metal\nTrained on PS2 dumps.\n"
    )
    installed = ModelImporter().import_model(package)["install_dir"]
    assert json.loads((installed / "training_data.json").read_text(encoding="utf-8")) == corrections
    assert (installed / "README.md").read_text(encoding="utf-8").startswith("# Wood and metal")


def test_categories_given_with_the_wrong_count_are_refused_and_nothing_is_written(tmp_path, source_model):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(PackageError, match="outputs 4 scores but there are 3 categories"):
        export(tmp_path, source_model, out=out_dir / "x.ps2model", categories=CATEGORIES[:3])
    assert list(out_dir.iterdir()) == []


def test_symbolic_output_width_is_measured_by_running_the_model(tmp_path):
    model = symbolic_width_model(tmp_path / "symbolic.onnx", 3, ["a", "b", "c"])
    with pytest.raises(PackageError, match="outputs 3 scores but there are 2 categories"):
        export(tmp_path, model, categories=["a", "b"])
    package = export(tmp_path, model)
    result = ModelImporter().import_model(package)
    assert result["categories"] == ["a", "b", "c"] and result["metadata"]["input_size"] == 16


def test_a_model_without_categories_in_its_metadata_cannot_be_exported(tmp_path):
    model = symbolic_width_model(tmp_path / "bare.onnx", 2)
    with pytest.raises(PackageError, match="names no categories"):
        export(tmp_path, model)
    # Given explicitly, they would reach categories.json, but the app reads the model's metadata.
    with pytest.raises(PackageError, match="cannot be used by Texture Sorter .*names no categories"):
        export(tmp_path, model, categories=["a", "b"])


def test_categories_that_rename_the_models_own_are_refused(tmp_path, source_model):
    renamed = ["a", "b", "c", "d"]
    with pytest.raises(PackageError, match="differ from those embedded"):
        export(tmp_path, source_model, categories=renamed)


def test_export_refuses_to_overwrite_unless_asked(tmp_path, source_model):
    out = tmp_path / "mine.ps2model"
    out.write_bytes(b"someone's file")
    with pytest.raises(PackageError, match="already exists"):
        export(tmp_path, source_model, out=out)
    assert out.read_bytes() == b"someone's file"
    export(tmp_path, source_model, out=out, overwrite=True)
    assert zipfile.is_zipfile(out)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("Good", "../1.0", "'version': version '../1.0'"),
        ("", "1.0", "has no letters or digits"),
        ("default", "1.0", "reserved for the built-in model"),
    ],
)
def test_export_checks_the_metadata_before_writing(tmp_path, source_model, name, version, expected):
    out = tmp_path / "bad.ps2model"
    with pytest.raises(PackageError, match=expected):
        export(tmp_path, source_model, name=name, version=version, out=out)
    assert not out.exists()


def test_reimporting_the_same_version_is_refused_unless_replacing(tmp_path, source_model):
    first = ModelImporter().import_model(export(tmp_path, source_model, readme="first"))
    again = export(tmp_path, source_model, readme="second", out=tmp_path / "second.ps2model")
    with pytest.raises(PackageError, match="already installed"):
        ModelImporter().import_model(again)
    assert (first["install_dir"] / "README.md").read_text() == "first"

    result = ModelImporter().import_model(again, replace=True)
    assert result["replaced"] is True and result["install_dir"] == first["install_dir"]
    assert (result["install_dir"] / "README.md").read_text() == "second"
    leftovers = [p.name for p in ModelRegistry().models_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_a_newer_version_installs_beside_the_old_and_upgrades_the_active_one(tmp_path, source_model):
    registry = ModelRegistry()
    old = ModelImporter(registry).import_model(export(tmp_path, source_model, version="1.0"), activate=True)
    new = ModelImporter(registry).import_model(export(tmp_path, source_model, version="1.10"))
    assert new["upgraded_from"] == "1.0" and new["active"] is True
    assert old["install_dir"].is_dir() and new["install_dir"].is_dir()
    assert registry.active().version == "1.10"
    older = ModelImporter(registry).import_model(export(tmp_path, source_model, version="0.9"))
    assert older["active"] is False and registry.active().version == "1.10"


def test_a_newer_version_of_an_inactive_model_does_not_take_over(tmp_path, source_model, model_builder):
    registry = ModelRegistry()
    ModelImporter(registry).import_model(export(tmp_path, source_model, version="1.0"))
    other = model_builder(tmp_path / "other.onnx", ["sky", "ui/hud"])
    ModelImporter(registry).import_model(export(tmp_path, other, name="Sky", version="3"), activate=True)
    result = ModelImporter(registry).import_model(export(tmp_path, source_model, version="2.0"))
    assert result["active"] is False and result["upgraded_from"] is None
    assert registry.active().name == "Sky"
    assert registry.upgrades() == {"wood-and-metal@1.0": registry.find("Wood and Metal", "2.0")}


def test_a_name_with_path_separators_installs_under_a_safe_folder(tmp_path, source_model):
    result = ModelImporter().import_model(export(tmp_path, source_model, name="../../Évil\\Model: v2/.."))
    models = ModelRegistry().models_dir.resolve()
    assert result["slug"] == "évil-model-v2"
    assert result["install_dir"].resolve().parent.parent == models
    assert result["metadata"]["name"] == "../../Évil\\Model: v2/.."


def test_inspect_reads_a_package_without_writing(tmp_path, source_model):
    package = export(tmp_path, source_model, readme="hello")
    home = Path(os.environ["TEXTURE_SORTER_HOME"])
    before = sorted(str(p) for p in home.rglob("*"))
    contents = ModelImporter().inspect(package)
    assert contents.metadata["name"] == "Wood and Metal" and contents.readme == "hello"
    assert sorted(str(p) for p in home.rglob("*")) == before


def test_a_failed_first_import_leaves_no_models_folder_behind(tmp_path, source_model):
    package = export(tmp_path, source_model)
    with zipfile.ZipFile(package) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    meta = json.loads(members["metadata.json"])
    meta["model_hash"] = "f" * 64  # passes the schema, fails only once model.onnx is unpacked
    members["metadata.json"] = json.dumps(meta).encode()
    bad = tmp_path / "bad.ps2model"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    registry = ModelRegistry()
    assert not registry.models_dir.exists()
    with pytest.raises(PackageError, match="has sha256"):
        ModelImporter(registry).import_model(bad)
    assert not registry.models_dir.exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_an_exported_package_gets_normal_file_permissions(tmp_path, source_model):
    old = os.umask(0o022)
    try:
        out = export(tmp_path, source_model)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]
