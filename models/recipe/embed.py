"""Run the frozen feature extractor once over every cached texture (one plain + augmented views).

The extractor (backbone.build_feature_extractor) runs in onnxruntime, which is faster than torch
on these CPUs; views are made with ai.training_pytorch.augment_rgba and preprocessed by
ai.textures.preprocess, the same code the app runs. Output: features_<size>.npz with the three raw parts
(pooled, mid, stats) per view; evaluate/ship combine them into embeddings.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ai.inference import OnnxInferenceSession
from ai.textures.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize, to_model_rgb
from ai.training_pytorch import require_torch
from ai.training_pytorch.data import augment_rgba
from models.recipe import backbone, dataset

log = logging.getLogger(__name__)

SEED = 77


PARTS = ("pooled", "mid", "stats")


def export_features_onnx(path: Path, input_size: int) -> Path:
    """The feature extractor as a plain ONNX file with outputs pooled, mid, stats (dynamic batch)."""
    import io
    import warnings

    torch = require_torch()
    model = backbone.build_feature_extractor().eval()
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


def _views(rgba: np.ndarray, count: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    out = [normalize(to_model_rgb(rgba, size), IMAGENET_MEAN, IMAGENET_STD)]
    for _ in range(count - 1):
        out.append(normalize(to_model_rgb(augment_rgba(rgba, rng), size), IMAGENET_MEAN, IMAGENET_STD))
    return out


def embed_stage(
    work_dir: Path, input_size: int = 160, views: int = 4, batch: int = 64, threads: int = 2
) -> Path:
    rows = json.loads((work_dir / "cache.json").read_text())
    model_path = export_features_onnx(work_dir / f"features_{input_size}.onnx", input_size)
    session = OnnxInferenceSession(model_path, num_threads=threads)
    started = time.perf_counter()
    parts: dict[str, list[np.ndarray]] = {name: [] for name in PARTS}
    image_index, view_index = [], []

    def prepare(i: int) -> list[np.ndarray]:
        # One generator per image: the views do not depend on thread scheduling.
        rng = np.random.default_rng([SEED, i])
        return _views(dataset.load_cached(work_dir, rows[i]), views, input_size, rng)

    pending: list[np.ndarray] = []
    pending_meta: list[tuple[int, int]] = []

    def flush():
        out = session.run(np.stack(pending), list(PARTS))
        for name in PARTS:
            parts[name].append(out[name].astype(np.float32 if name == "stats" else np.float16))
        image_index.extend(m[0] for m in pending_meta)
        view_index.extend(m[1] for m in pending_meta)
        pending.clear()
        pending_meta.clear()

    # Decode + augment on a thread while onnxruntime works on the previous batch.
    with ThreadPoolExecutor(max_workers=1) as pool:
        for i, tensors in enumerate(pool.map(prepare, range(len(rows)))):
            pending.extend(tensors)
            pending_meta.extend((i, v) for v in range(len(tensors)))
            if len(pending) >= batch:
                flush()
            if i % 1000 == 0:
                log.info("embedded %d/%d images (%.0f s)", i, len(rows), time.perf_counter() - started)
    if pending:
        flush()
    out_path = work_dir / f"features_{input_size}.npz"
    np.savez(
        out_path,
        **{name: np.concatenate(parts[name]) for name in PARTS},
        image=np.asarray(image_index, np.int32),
        view=np.asarray(view_index, np.int8),
        input_size=input_size,
        views=views,
    )
    log.info("wrote %s: %d rows in %.0f s", out_path, len(image_index), time.perf_counter() - started)
    return out_path
