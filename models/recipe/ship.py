"""Train the shipped head on every game, export models/default.onnx, and verify the export."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from ai.offline_model import OfflineModel
from ai.taxonomy import default_categories
from ai.training_pytorch import build_classifier, export_to_onnx, halve_conv_weights, require_torch
from models.recipe import backbone, dataset, evaluate, sources

log = logging.getLogger(__name__)

MODEL_VERSION = "2.0.0"
# Chosen on the leave-one-game-out comparison (models/comparison.json, README).
SHIPPED_VARIANT = "lite0"
SHIPPED_BALANCE = "game"
DESCRIPTION = (
    "Game texture classifier: EfficientNet-{variant} (ImageNet weights, frozen) features + colour statistics, "
    "linear head trained on textures of {games} open-source games packaged by Debian."
)
ARCHITECTURE = (
    "efficientnet-{variant} (frozen, ImageNet): mean-pooled 1280-d head + mean/std-pooled sixth stage, "
    "23 colour statistics; L2-normalised concatenation = embedding; linear head"
)


def save_head(path: Path, head, variant: str, input_size: int) -> Path:
    weight, bias, (stats_mean, stats_std) = head
    np.savez(
        path,
        weight=weight,
        bias=bias,
        stats_mean=stats_mean,
        stats_std=stats_std,
        input_size=input_size,
        variant=variant,
    )
    return path


def train_head(work_dir: Path, variant: str, input_size: int, balance: str = SHIPPED_BALANCE) -> Path:
    """The shipped head: trained on the training views of every image, with its statistics normaliser."""
    data = evaluate.load_data(work_dir, variant, input_size)
    head = evaluate.fit_head(data, np.ones(len(data.rows), bool), balance=balance)
    return save_head(work_dir / f"head_{variant}_{input_size}.npz", head, variant, input_size)


def build_model(head_path: Path):
    """torch model of the shipped classifier: embedder + L2 + linear head, weights loaded."""
    torch = require_torch()
    head = np.load(head_path)
    variant = str(head["variant"]) if "variant" in head.files else backbone.DEFAULT_VARIANT
    embedder = backbone.build_embedder(head["stats_mean"], head["stats_std"], variant=variant)
    model = build_classifier(embedder, backbone.embedding_dim(variant), len(default_categories()))
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(head["weight"]))
        model.head.bias.copy_(torch.from_numpy(head["bias"]))
    return model.eval(), int(head["input_size"])


def training_summary(work_dir: Path) -> dict:
    rows = json.loads((work_dir / "cache.json").read_text())
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["category"], {}).setdefault(row["game"], 0)
        counts[row["category"]][row["game"]] += 1
    return {
        "images": len(rows),
        "packages": sources.package_versions(work_dir),
        "counts": counts,
        "recipe": "models/README.md",
    }


def export_model(work_dir: Path, head_path: Path, out_path: Path) -> Path:
    """Export with metadata, then store the Conv weights as float16 (13.7 → 7.1 MB, same speed)."""
    model, input_size = build_model(head_path)
    variant = str(np.load(head_path)["variant"])
    summary = training_summary(work_dir)
    games = len({g for per in summary["counts"].values() for g in per})
    name = variant.replace("lite", "Lite")
    path = export_to_onnx(
        model,
        out_path,
        default_categories(),
        input_size,
        version=MODEL_VERSION,
        description=DESCRIPTION.format(variant=name, games=games),
        training_data=summary,
        name="texture-sorter-default",
        extra_metadata={
            "architecture": ARCHITECTURE.format(variant=variant),
            "license": (
                "Apache-2.0 backbone weights; trained on game art under CC-BY-SA, GPL, CC-BY and other "
                "free licences: see models/README.md for data attribution"
            ),
        },
    )
    return halve_conv_weights(path)


def verify(work_dir: Path, model_path: Path, head_path: Path, samples: int = 64, threads: int = 2) -> dict:
    """Torch vs onnxruntime agreement on real cached textures, file facts, and ms/image at batch 32."""
    torch = require_torch()
    rows = json.loads((work_dir / "cache.json").read_text())
    rng = np.random.default_rng(0)
    picked = [rows[i] for i in rng.choice(len(rows), size=min(samples, len(rows)), replace=False)]
    model = OfflineModel(model_path, num_threads=threads)
    batch = np.stack([model.preprocess(dataset.load_cached(work_dir, r)) for r in picked])
    probs, emb = model.predict_arrays(batch)
    net, _ = build_model(head_path)
    with torch.no_grad():
        logits, torch_emb = net(torch.from_numpy(batch))
    diff = float(np.abs(torch.softmax(logits, 1).numpy() - probs).max())
    emb_diff = float(np.abs(torch_emb.numpy() - emb).max())
    bench = np.repeat(batch[:32], max(1, 32 // len(batch[:32])), axis=0)[:32]
    model.predict_arrays(bench)  # warm-up
    runs = 10
    started = time.perf_counter()
    for _ in range(runs):
        model.predict_arrays(bench)
    ms = (time.perf_counter() - started) / (runs * len(bench)) * 1000
    labels = evaluate.labels_of(picked)
    report = {
        "file": str(model_path),
        "bytes": model_path.stat().st_size,
        "siblings": sorted(p.name for p in model_path.parent.glob(model_path.stem + "*")),
        "max_abs_prob_diff_torch_vs_onnxruntime": diff,
        "max_abs_embedding_diff": emb_diff,
        "ms_per_image_batch32_threads": {str(threads): round(ms, 2)},
        "train_set_top1_on_sample": float((probs.argmax(1) == labels).mean()),
        "categories": len(model.categories),
        "input_size": model.input_size,
    }
    log.info("verify: %s", report)
    return report
