"""The workflows behind `texture-sorter train` and the GUI's training tab: fine-tune a head on an
ONNX model's embeddings, or train the small CNN from scratch, on a folder per category."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ai.inference import all_cores
from ai.training_pytorch.data import augment_rgba, load_rgba, scan_image_folders
from ai.training_pytorch.export import export_to_onnx
from ai.training_pytorch.nets import create_small_cnn, make_folder_dataset, require_torch
from ai.training_pytorch.onnx_graph import (
    attach_linear_head,
    read_linear_head,
)
from ai.training_pytorch.trainer import PyTorchTrainer, train_linear_head

log = logging.getLogger(__name__)

StageProgress = Callable[[str, int, int], None]
MIN_BATCHES_PER_EPOCH = 20
MIN_VALIDATION_SET = 50  # below this, a 10 % hold-out is too noisy to pick a checkpoint with


def _split_validation(samples: Sequence[tuple[Path, int]], fraction: float, seed: int):
    """Per-class hold-out of `fraction` for classes with ≥ 5 images; none below MIN_VALIDATION_SET images."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    if len(samples) < MIN_VALIDATION_SET:
        return list(samples), []
    by_class: dict[int, list] = {}
    for sample in samples:
        by_class.setdefault(sample[1], []).append(sample)
    for members in by_class.values():
        order = rng.permutation(len(members))
        n_val = int(round(len(members) * fraction)) if len(members) >= 5 else 0
        val += [members[i] for i in order[:n_val]]
        train += [members[i] for i in order[n_val:]]
    return train, val


def fine_tune_from_onnx(
    base_model: str | os.PathLike[str],
    data_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    epochs: int = 30,
    learning_rate: float = 3e-3,
    batch_size: int = 64,
    views: int = 4,
    seed: int = 0,
    version: str = "1.0",
    progress: StageProgress | None = None,
    trainer_hook: Callable[[PyTorchTrainer], None] | None = None,
    name: str | None = None,
) -> dict:
    """Train a new linear head on the embeddings of an exported model (its backbone stays frozen).

    The new model predicts the base model's categories plus any new folder names; the head
    starts from the base head, so categories without examples in DATA_DIR keep their knowledge.
    Each image contributes `views` embeddings (one plain, the rest augmented).
    """
    require_torch()
    from ai.offline_model import OfflineModel

    base = OfflineModel(base_model, num_threads=all_cores())  # one caller, big batches
    if not base.has_embedding:
        raise ValueError(f"{base_model}: the model has no 'embedding' output, so it cannot be fine-tuned")
    samples, folder_categories = scan_image_folders(data_dir)
    if not samples:
        raise ValueError(f"{data_dir}: no textures in category sub-folders")
    categories = list(base.categories) + [c for c in folder_categories if c not in base.categories]
    remap = [categories.index(c) for c in folder_categories]
    samples = [(p, remap[i]) for p, i in samples]
    train, val = _split_validation(samples, 0.1, seed)
    rng = np.random.default_rng(seed)

    def embed(subset, n_views, stage):
        feats, labels, batch, batch_labels = [], [], [], []
        for done, (path, label) in enumerate(subset, 1):
            try:
                rgba = load_rgba(path, max_side=max(2 * base.input_size, 64))
            except Exception as exc:  # a bad file must not end the run: report and go on
                log.warning("skipped %s: %s", path, exc)
                continue
            for view in range(n_views):
                batch.append(base.preprocess(rgba if view == 0 else augment_rgba(rgba, rng)))
                batch_labels.append(label)
            if len(batch) >= batch_size or done == len(subset):
                feats.append(base.predict_arrays(np.stack(batch))[1])
                labels += batch_labels
                batch, batch_labels = [], []
            if progress:
                progress(stage, done, len(subset))
        if batch:
            feats.append(base.predict_arrays(np.stack(batch))[1])
            labels += batch_labels
        dim = feats[0].shape[1] if feats else 0
        return (np.concatenate(feats) if feats else np.zeros((0, dim), np.float32)), np.asarray(
            labels, np.int64
        )

    x_train, y_train = embed(train, views, "embedding")
    # Small sets are repeated so that an epoch has at least MIN_BATCHES_PER_EPOCH steps: a handful of
    # corrections must still move the head, whatever the batch size.
    repeats = max(1, math.ceil(MIN_BATCHES_PER_EPOCH * batch_size / max(len(y_train), 1)))
    x_fit, y_fit = np.tile(x_train, (repeats, 1)), np.tile(y_train, repeats)
    x_val, y_val = embed(val, 1, "embedding (validation)") if val else (None, None)
    init = read_linear_head(base_model)
    if init is not None and init[0].shape[1] == x_train.shape[1]:
        extra = len(categories) - init[0].shape[0]
        init = (
            np.concatenate([init[0], np.zeros((extra, init[0].shape[1]), np.float32)]),
            np.concatenate([init[1], np.full(extra, float(np.mean(init[1])), np.float32)]),
        )
    else:
        init = None
    weight, bias = train_linear_head(
        x_fit,
        y_fit,
        len(categories),
        epochs=epochs,
        learning_rate=learning_rate,
        init=init,
        val=(x_val, y_val) if val else None,
        seed=seed,
        trainer_hook=trainer_hook,
        progress_callback=(lambda e, t, m: progress("training", e, t)) if progress else None,
    )
    train_acc = float(((x_train @ weight.T + bias).argmax(1) == y_train).mean())
    val_acc = float(((x_val @ weight.T + bias).argmax(1) == y_val).mean()) if val else None
    summary = {
        "base_model": Path(base_model).name,
        "images": len(samples),
        "train_images": len(train),
        "val_images": len(val),
        "views": views,
        "epochs": epochs,
        "train_accuracy": train_acc,
        "val_accuracy": val_acc,
        "folders": folder_categories,
    }
    attach_linear_head(
        base_model,
        out_path,
        weight,
        bias,
        categories,
        {
            "name": name or Path(out_path).stem,
            "version": version,
            "description": f"{base.name} fine-tuned (new linear head) on {len(samples)} images",
            "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "training_data": json.dumps(summary),
        },
    )
    return summary


def train_from_scratch(
    data_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    epochs: int = 20,
    learning_rate: float = 2e-3,
    batch_size: int = 32,
    input_size: int = 128,
    width: int = 32,
    seed: int = 0,
    version: str = "1.0",
    progress: StageProgress | None = None,
    trainer_hook: Callable[[PyTorchTrainer], None] | None = None,
    name: str | None = None,
) -> dict:
    """Train `create_small_cnn` on a folder-per-category tree and export it to ONNX."""
    torch = require_torch()
    samples, categories = scan_image_folders(data_dir)
    if not samples:
        raise ValueError(f"{data_dir}: no textures in category sub-folders")
    torch.manual_seed(seed)
    train, val = _split_validation(samples, 0.1, seed)
    loader = torch.utils.data.DataLoader(
        make_folder_dataset(train, input_size, augment=True, seed=seed),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    val_loader = (
        torch.utils.data.DataLoader(make_folder_dataset(val, input_size), batch_size=batch_size)
        if val
        else None
    )
    model = create_small_cnn(len(categories), width=width)
    trainer = PyTorchTrainer(model, loader, val_loader, learning_rate=learning_rate)
    if trainer_hook:
        trainer_hook(trainer)
    history = trainer.train(
        epochs,
        progress_callback=(lambda e, t, m: progress("training", e, t)) if progress else None,
        batch_callback=(lambda b, t: progress("batch", b, t)) if progress else None,
    )
    summary = {
        "images": len(samples),
        "train_images": len(train),
        "val_images": len(val),
        "epochs": epochs,
        "best_val_accuracy": trainer.best_val_accuracy,
        "history": history[-1:] if history else [],
    }
    export_to_onnx(
        model,
        out_path,
        categories,
        input_size,
        version=version,
        description=f"small CNN trained from scratch on {len(samples)} images",
        training_data=summary,
        name=name,
    )
    return summary
