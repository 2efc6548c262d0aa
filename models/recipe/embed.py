"""Run a frozen feature extractor once over every view of every cached texture (views.py).

The extractor (backbone.build_feature_extractor) runs in onnxruntime, which is faster than torch
on these CPUs; views are preprocessed by ai.preprocess, the code the app runs. Output:
features_<variant>_<size>.npz holding, per image (keyed by pixel digest) and view, the three raw
parts (pooled, mid, stats); evaluate/ship combine them into embeddings. A rerun embeds only the
digests the file lacks, so relabelling or adding images costs only the new images.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ai.inference import OnnxInferenceSession
from ai.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize, to_model_rgb
from ai.training_pytorch import require_torch
from models.recipe import backbone, dataset, views

log = logging.getLogger(__name__)

PARTS = ("pooled", "mid", "stats")


def features_path(work_dir: Path, variant: str, input_size: int) -> Path:
    return work_dir / f"features_{variant}_{input_size}.npz"


def export_features_onnx(path: Path, input_size: int, variant: str = backbone.DEFAULT_VARIANT) -> Path:
    """The feature extractor as a plain ONNX file with outputs pooled, mid, stats (dynamic batch)."""
    import io
    import warnings

    torch = require_torch()
    model = backbone.build_feature_extractor(variant=variant).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy-exporter deprecation notice, see export_to_onnx
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, input_size, input_size),),
            buffer,
            input_names=["input"],
            output_names=list(PARTS),
            dynamic_axes={n: {0: "batch"} for n in ["input", *PARTS]},
            opset_version=17,
            dynamo=False,
        )
    path.write_bytes(buffer.getvalue())
    return path


def load_features(path: Path) -> dict:
    """{digest: index} plus the part arrays [images, views, dim] of a features file."""
    data = np.load(path)
    out = {k: data[k] for k in data.files}
    out["index"] = {d: i for i, d in enumerate(out["digest"].tolist())}
    return out


def embed_stage(
    work_dir: Path,
    input_size: int = 160,
    variant: str = backbone.DEFAULT_VARIANT,
    batch: int = 48,
    threads: int = 2,
    rows: list[dict] | None = None,
) -> Path:
    """Embed every view of `rows` (default: cache.json) that the features file lacks."""
    rows = rows if rows is not None else json.loads((work_dir / "cache.json").read_text())
    out_path = features_path(work_dir, variant, input_size)
    old = load_features(out_path) if out_path.exists() else None
    todo = [r for r in rows if old is None or r["digest"] not in old["index"]]
    todo = list({r["digest"]: r for r in todo}.values())
    log.info("%s@%d: %d images to embed (%d cached)", variant, input_size, len(todo), len(rows) - len(todo))
    n_views = len(views.VIEW_NAMES)
    new = {name: [] for name in PARTS}
    if todo:
        model_path = export_features_onnx(
            work_dir / f"features_{variant}_{input_size}.onnx", input_size, variant
        )
        session = OnnxInferenceSession(model_path, num_threads=threads)
        started = time.perf_counter()

        def prepare(row: dict) -> list[np.ndarray]:
            rgba = dataset.load_cached(work_dir, row)
            return [
                normalize(to_model_rgb(v, input_size), IMAGENET_MEAN, IMAGENET_STD)
                for v in views.make_views(rgba, row["digest"])
            ]

        pending: list[np.ndarray] = []

        def flush():
            out = session.run(np.stack(pending), list(PARTS))
            for name in PARTS:
                new[name].append(out[name].astype(np.float32 if name == "stats" else np.float16))
            pending.clear()

        # Decode + views on a thread while onnxruntime works on the previous batch.
        with ThreadPoolExecutor(max_workers=1) as pool:
            for i, tensors in enumerate(pool.map(prepare, todo)):
                pending.extend(tensors)
                if len(pending) >= batch:
                    flush()
                if i % 1000 == 0:
                    log.info("embedded %d/%d images (%.0f s)", i, len(todo), time.perf_counter() - started)
        if pending:
            flush()
        log.info("embedded %d images in %.0f s", len(todo), time.perf_counter() - started)
    parts = {}
    for name in PARTS:
        fresh = [np.concatenate(new[name]).reshape(len(todo), n_views, -1)] if todo else []
        previous = [old[name]] if old is not None else []
        parts[name] = np.concatenate(previous + fresh)
    digests = (old["digest"].tolist() if old is not None else []) + [r["digest"] for r in todo]
    np.savez(
        out_path,
        **parts,
        digest=np.asarray(digests),
        input_size=input_size,
        variant=variant,
        views=np.asarray(views.VIEW_NAMES),
    )
    log.info("wrote %s: %d images × %d views", out_path, len(digests), n_views)
    return out_path
