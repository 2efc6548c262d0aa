"""Training with PyTorch: a tiny model trains, exports to one ONNX file, and predicts the same in onnxruntime."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from ai import training_pytorch as tp  # noqa: E402
from ai.offline_model import OfflineModel  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SIZE = 32


def _write_dataset(root: Path, per_class: int = 6) -> Path:
    """Two visually distinct categories, one nested (`surface/blue`), as small RGBA PNGs."""
    rng = np.random.default_rng(0)
    for category, colour in (("red_stripes", (200, 30, 30)), ("surface/blue", (30, 60, 200))):
        folder = root / category
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 40, (24, 24, 4), dtype=np.uint8)
            pixels[:, :, :3] += np.asarray(colour, np.uint8)
            if category == "red_stripes":
                pixels[::4, :, :3] = 255
            pixels[:, :, 3] = 255 if i % 2 else 160
            Image.fromarray(pixels, "RGBA").save(folder / f"tex{i}.png")
    return root


def _tiny_model(num_classes: int):
    torch.manual_seed(0)
    return tp.create_small_cnn(num_classes, width=4)


def _train_one_epoch(tmp_path: Path):
    samples, categories = tp.scan_image_folders(_write_dataset(tmp_path / "data"))
    dataset = tp.make_folder_dataset(samples, SIZE, augment=True)
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=True)
    model = _tiny_model(len(categories))
    trainer = tp.PyTorchTrainer(model, loader, val_loader=loader, learning_rate=1e-2, device="cpu")
    seen = []
    trainer.train(1, progress_callback=lambda epoch, total, metrics: seen.append((epoch, total, metrics)))
    return model, trainer, categories, samples, seen


def test_folder_scan_names_nested_categories_with_slashes(tmp_path):
    samples, categories = tp.scan_image_folders(_write_dataset(tmp_path))
    assert categories == ["red_stripes", "surface/blue"]
    assert len(samples) == 12
    assert {label for _, label in samples} == {0, 1}


def test_tiny_model_trains_exports_and_matches_onnxruntime(tmp_path):
    model, trainer, categories, samples, seen = _train_one_epoch(tmp_path)
    assert [(e, t) for e, t, _ in seen] == [(1, 1)]
    assert {"loss", "accuracy", "val_accuracy"} <= set(seen[0][2])

    out = tmp_path / "out" / "tiny.onnx"
    tp.export_to_onnx(
        model,
        out,
        categories,
        SIZE,
        version="0.1",
        description="test model",
        training_data={"images": len(samples)},
    )
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny.onnx"]  # single file, no .data

    loaded = OfflineModel(out, num_threads=1)
    assert loaded.categories == categories
    assert loaded.input_size == SIZE
    assert loaded.has_embedding

    rgbas = [np.asarray(Image.open(path).convert("RGBA")) for path, _ in samples[:5]]
    batch = np.stack([loaded.preprocess(rgba) for rgba in rgbas])  # 5: not the export batch size
    probs, embedding = loaded.predict_arrays(batch)
    with torch.no_grad():
        logits, torch_embedding = model.eval()(torch.from_numpy(batch))
    torch_probs = torch.softmax(logits, dim=1).numpy()
    assert np.abs(probs - torch_probs).max() < 1e-4
    assert np.abs(embedding - torch_embedding.numpy()).max() < 1e-4
    np.testing.assert_allclose(np.linalg.norm(embedding, axis=1), 1.0, atol=1e-4)


def test_export_writes_metadata_and_dynamic_batch(tmp_path):
    model = _tiny_model(3)
    out = tmp_path / "m.onnx"
    tp.export_to_onnx(
        model,
        out,
        ["a", "b/c", "d"],
        SIZE,
        version="2.5",
        description="desc",
        training_data={"games": 4},
        name="tiny",
    )
    proto = onnx.load(str(out))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["categories"]) == ["a", "b/c", "d"]
    assert json.loads(meta["input_size"]) == SIZE
    assert len(json.loads(meta["mean"])) == 3 and len(json.loads(meta["std"])) == 3
    assert meta["version"] == "2.5" and meta["description"] == "desc" and meta["name"] == "tiny"
    assert json.loads(meta["training_data"]) == {"games": 4}
    assert meta["created"].endswith("Z")
    assert [o.name for o in proto.graph.output] == ["logits", "embedding"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert all(not t.external_data for t in proto.graph.initializer)


def test_export_refuses_category_count_mismatch(tmp_path):
    with pytest.raises(ValueError, match="2 categories"):
        tp.export_to_onnx(_tiny_model(3), tmp_path / "m.onnx", ["a", "b"], SIZE)


def test_best_validation_epoch_is_kept_and_checkpoint_saved(tmp_path):
    model, trainer, categories, samples, _ = _train_one_epoch(tmp_path)
    assert trainer.best_epoch == 1
    loader = torch.utils.data.DataLoader(tp.make_folder_dataset(samples, SIZE), batch_size=4)
    assert trainer.evaluate(loader)["accuracy"] == pytest.approx(trainer.best_val_accuracy)
    path = trainer.export_checkpoint(tmp_path / "ckpt" / "best.pt", categories=categories)
    saved = torch.load(path, weights_only=False)
    assert saved["categories"] == categories and saved["best_epoch"] == 1
    restored = _tiny_model(len(categories))
    restored.load_state_dict(saved["state_dict"])


def test_cancel_stops_training_between_batches(tmp_path):
    samples, categories = tp.scan_image_folders(_write_dataset(tmp_path / "data"))
    loader = torch.utils.data.DataLoader(tp.make_folder_dataset(samples, SIZE), batch_size=2)
    trainer = tp.PyTorchTrainer(_tiny_model(2), loader, device="cpu")
    batches = []

    def on_batch(done, total):
        batches.append(done)
        if done == 2:
            trainer.cancel()  # what the GUI's Cancel button does from its own thread

    history = trainer.train(5, batch_callback=on_batch)
    assert trainer.cancelled
    assert len(history) == 1 and len(batches) < len(loader)


def test_fine_tune_from_onnx_keeps_base_categories_and_adds_folders(tmp_path):
    base = tmp_path / "base.onnx"
    tp.export_to_onnx(_tiny_model(3), base, ["red_stripes", "other", "third"], SIZE)
    out = tmp_path / "tuned.onnx"
    summary = tp.fine_tune_from_onnx(base, _write_dataset(tmp_path / "data"), out, epochs=2, views=2)
    model = OfflineModel(out, num_threads=1)
    assert model.categories == ["red_stripes", "other", "third", "surface/blue"]
    assert model.input_size == SIZE and model.has_embedding
    assert summary["images"] == 12 and summary["views"] == 2
    weight, bias = tp.read_linear_head(out)
    assert weight.shape[0] == 4 and bias.shape == (4,)
    # The embedding part of the graph is the base model's, unchanged.
    x = np.random.default_rng(1).standard_normal((2, 3, SIZE, SIZE)).astype(np.float32)
    np.testing.assert_allclose(model.predict_arrays(x)[1], OfflineModel(base).predict_arrays(x)[1], atol=1e-5)


def test_cli_train_from_scratch_writes_a_loadable_model(tmp_path, capsys):
    from app.cli import main

    data = _write_dataset(tmp_path / "data")
    out = tmp_path / "cli.onnx"
    code = main(["train", str(data), "--out", str(out), "--epochs", "1", "--size", str(SIZE), "--batch", "4"])
    assert code == 0
    assert OfflineModel(out).categories == ["red_stripes", "surface/blue"]
    assert "wrote" in capsys.readouterr().out


def test_cli_train_rejects_missing_base_model(tmp_path, capsys):
    from app.cli import main

    code = main(
        [
            "train",
            str(_write_dataset(tmp_path / "d")),
            "--out",
            str(tmp_path / "o.onnx"),
            "--from",
            str(tmp_path / "missing.onnx"),
        ]
    )
    assert code == 2
    assert "not found" in capsys.readouterr().err


def test_without_torch_every_entry_point_says_how_to_install():
    script = textwrap.dedent(
        """
        import sys
        sys.modules["torch"] = None  # what an install without the training extra looks like
        from ai import training_pytorch as tp
        assert not tp.is_pytorch_available()
        calls = {
            "require_torch": lambda: tp.require_torch(),
            "create_small_cnn": lambda: tp.create_small_cnn(2),
            "build_classifier": lambda: tp.build_classifier(None, 4, 2),
            "make_folder_dataset": lambda: tp.make_folder_dataset([], 32),
            "PyTorchTrainer": lambda: tp.PyTorchTrainer(None, []),
            "export_to_onnx": lambda: tp.export_to_onnx(None, "x.onnx", ["a"], 32),
            "export_checkpoint": lambda: tp.export_checkpoint(None, "x.pt"),
            "train_linear_head": lambda: tp.train_linear_head(None, None, 2),
            "fine_tune_from_onnx": lambda: tp.fine_tune_from_onnx("a.onnx", ".", "b.onnx"),
            "train_from_scratch": lambda: tp.train_from_scratch(".", "b.onnx"),
        }
        for name, call in calls.items():
            try:
                call()
            except RuntimeError as exc:
                assert "pip install 'texture-sorter[training]'" in str(exc), (name, exc)
            else:
                raise AssertionError(name + " did not raise")
        from app.cli import main
        assert main(["train", ".", "--out", "x.onnx"]) == 1
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_augmentation_handles_textures_smaller_than_the_crop():
    pytest.importorskip("torch")
    import numpy as np

    from ai.training_pytorch.data import augment_rgba

    rng = np.random.default_rng(0)
    for shape in ((1, 1), (2, 40), (3, 3), (40, 2)):
        tiny = np.full((*shape, 4), 200, np.uint8)
        for _ in range(20):
            out = augment_rgba(tiny, rng)
            assert out.ndim == 3 and out.shape[2] == 4


def test_halved_conv_weights_halve_the_file_and_keep_answers_metadata_and_head(tmp_path):
    full, half = tmp_path / "full.onnx", tmp_path / "half.onnx"
    model = _tiny_model(3)
    torch.manual_seed(3)
    with torch.no_grad():  # wider weights than the initialiser's, so rounding would show
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    tp.export_to_onnx(model, full, ["a", "b", "c"], SIZE, version="3.1", name="tiny")
    half.write_bytes(full.read_bytes())
    tp.halve_conv_weights(half)
    proto = onnx.load(str(half))
    conv_inputs = {n.input[1] for n in proto.graph.node if n.op_type == "Conv"}
    stored = {t.name: t.data_type for t in proto.graph.initializer}
    assert conv_inputs and all(stored.get(name + "_fp16") == onnx.TensorProto.FLOAT16 for name in conv_inputs)
    assert half.stat().st_size < 0.7 * full.stat().st_size
    a, b = OfflineModel(full, num_threads=1), OfflineModel(half, num_threads=1)
    assert (b.categories, b.version, b.name) == (a.categories, "3.1", "tiny")
    x = np.random.default_rng(2).standard_normal((6, 3, SIZE, SIZE)).astype(np.float32)
    (pa, ea), (pb, eb) = a.predict_arrays(x), b.predict_arrays(x)
    assert np.abs(pa - pb).max() < 2e-2 and np.abs(ea - eb).max() < 2e-2
    assert not np.array_equal(pa, pb)  # the weights really changed precision
    # The float32 head is untouched: head-only fine-tuning (`train --from`) still reads it.
    for got, want in zip(tp.read_linear_head(half), tp.read_linear_head(full), strict=True):
        np.testing.assert_array_equal(got, want)


def test_reference_vit_has_clip_b32s_shape_and_exports_for_the_pipeline(tmp_path):
    """The upstream classifier's architecture: CLIP ViT-B/32's visual tower has 87,849,216 parameters."""
    from ai.textures.synth import synth_image, write_png
    from ai.training_pytorch.reference_vit import (
        VitConfig,
        build_clip_vit_image_classifier,
        clip_preprocess,
        upstream_files_per_s,
    )

    full = build_clip_vit_image_classifier(26)
    assert sum(p.numel() for p in full.parameters()) == 87_849_216
    del full
    small = VitConfig(image_size=64, patch=32, width=32, layers=2, heads=2, embed_dim=16)
    model = build_clip_vit_image_classifier(3, small)
    x = torch.from_numpy(clip_preprocess(synth_image(80, "noise"), 64))[None]
    assert x.shape == (1, 3, 64, 64)
    with torch.no_grad():
        logits, embedding = model(x)
    assert logits.shape == (1, 3) and embedding.shape == (1, 16)
    assert torch.allclose(embedding.norm(dim=1), torch.ones(1), atol=1e-5)
    path = tp.export_to_onnx(model, tmp_path / "vit.onnx", ["a", "b", "c"], input_size=64)
    exported = OfflineModel(path)
    probs, onnx_embedding = exported.predict_arrays(x.numpy())
    assert np.allclose(probs, torch.softmax(logits, dim=1).numpy(), atol=1e-4)
    assert np.allclose(onnx_embedding, embedding.numpy(), atol=1e-4)
    write_png(tmp_path / "a.png", synth_image(80, "noise"))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    rate, done = upstream_files_per_s([str(tmp_path / "a.png"), str(tmp_path / "broken.png")], ["a", "b"],
                                      threads=1, config=small)  # fmt: skip
    assert done == 1 and rate > 0
