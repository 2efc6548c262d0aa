"""Run a frozen feature extractor once over every view of every cached texture (views.py).

The extractor (backbone.build_feature_extractor) runs in onnxruntime, which is faster than torch
on these CPUs; views are preprocessed by ai.textures.preprocess, the code the app runs. Output:
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
from ai.textures.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize, to_model_rgb
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


CHUNK = 500  # images per part file: a killed run loses at most one chunk


def _merge(old: dict | None, parts: list[dict]) -> dict:
    arrays = ([old] if old is not None else []) + parts
    merged = {name: np.concatenate([a[name] for a in arrays]) for name in PARTS}
    merged["digest"] = np.concatenate([np.asarray(a["digest"]) for a in arrays])
    return merged


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
    parts_dir = out_path.with_suffix(".parts")
    old = load_features(out_path) if out_path.exists() else None
    done_parts = [dict(np.load(p)) for p in sorted(parts_dir.glob("*.npz"))] if parts_dir.is_dir() else []
    known = set(old["index"]) if old is not None else set()
    for part in done_parts:
        known.update(part["digest"].tolist())
    todo = list({r["digest"]: r for r in rows if r["digest"] not in known}.values())
    log.info("%s@%d: %d images to embed (%d cached)", variant, input_size, len(todo), len(rows) - len(todo))
    n_views = len(views.VIEW_NAMES)
    if todo:
        model_path = export_features_onnx(
            work_dir / f"features_{variant}_{input_size}.onnx", input_size, variant
        )
        session = OnnxInferenceSession(model_path, num_threads=threads)
        parts_dir.mkdir(exist_ok=True)
        started = time.perf_counter()

        def prepare(row: dict) -> np.ndarray:
            rgba = dataset.load_cached(work_dir, row)
            return np.stack(
                [
                    normalize(to_model_rgb(v, input_size), IMAGENET_MEAN, IMAGENET_STD)
                    for v in views.make_views(rgba, row["digest"])
                ]
            )

        # One thread prepares the next chunk's views while onnxruntime embeds this one; the chunk
        # bounds what waits in memory (an unbounded map queued 19 GB of views and was OOM-killed).
        with ThreadPoolExecutor(max_workers=1) as pool:
            chunks = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
            upcoming = pool.submit(lambda c: [prepare(r) for r in c], chunks[0])
            for k, chunk in enumerate(chunks):
                tensors = np.concatenate(upcoming.result())
                if k + 1 < len(chunks):
                    upcoming = pool.submit(lambda c: [prepare(r) for r in c], chunks[k + 1])
                out = {name: [] for name in PARTS}
                for i in range(0, len(tensors), batch):
                    result = session.run(tensors[i : i + batch], list(PARTS))
                    for name in PARTS:
                        out[name].append(result[name].astype(np.float32 if name == "stats" else np.float16))
                part = {name: np.concatenate(out[name]).reshape(len(chunk), n_views, -1) for name in PARTS}
                part["digest"] = np.asarray([r["digest"] for r in chunk])
                np.savez(parts_dir / f"{time.time_ns()}.npz", **part)
                done_parts.append(part)
                log.info(
                    "embedded %d/%d images (%.0f s)",
                    min((k + 1) * CHUNK, len(todo)),
                    len(todo),
                    time.perf_counter() - started,
                )
    if done_parts:
        merged = _merge(old, done_parts)
        np.savez(
            out_path,
            **merged,
            input_size=input_size,
            variant=variant,
            views=np.asarray(views.VIEW_NAMES),
        )
        for path in parts_dir.glob("*.npz"):
            path.unlink()
        parts_dir.rmdir()
        log.info("wrote %s: %d images × %d views", out_path, len(merged["digest"]), n_views)
    return out_path
