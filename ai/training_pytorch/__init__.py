"""Optional PyTorch training: torch datasets, a small CNN, the trainer, ONNX export (augmentation: ai.training_pytorch.data).

torch (and onnx) are imported inside the functions that need them, so this module imports on
installs without the `training` extra; every torch entry point then raises RuntimeError with the
install instruction. Everything a model sees goes through `ai.textures.preprocess`, exactly as at inference.
Models trained here return `(logits, embedding)`, where `embedding` is the L2-normalised input of
the final linear layer; that is also how exported models name their two outputs.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ai.inference import all_cores
from ai.textures.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize, to_model_rgb
from ai.training_pytorch.data import augment_rgba, load_rgba, scan_image_folders
from ai.training_pytorch.onnx_graph import (  # noqa: F401  (re-exported: the trainer's ONNX side, one import for callers)
    ONNX_HINT,
    OUTPUT_NAMES,
    attach_linear_head,
    halve_conv_weights,
    read_linear_head,
    require_onnx,
    write_onnx,
)

log = logging.getLogger(__name__)

INSTALL_HINT = "PyTorch is not installed: pip install 'texture-sorter[training]'"
INPUT_NAME = "input"
ONNX_OPSET = 17


def is_pytorch_available() -> bool:
    """True when torch can be imported (the training extra is installed)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def require_torch():
    """The torch module, or RuntimeError with the install instruction."""
    try:
        import torch
    except ImportError as exc:
        raise RuntimeError(INSTALL_HINT) from exc
    return torch


def make_folder_dataset(
    samples: Sequence[tuple[Path, int]], input_size: int, augment: bool = False, seed: int = 0
):
    """torch Dataset of (CHW float tensor, class index) decoded with load_texture + ai.textures.preprocess."""
    torch = require_torch()

    class TextureFolderDataset(torch.utils.data.Dataset):
        def __init__(self):
            self.samples = list(samples)
            self.rng = np.random.default_rng(seed)
            self.cache: dict[int, np.ndarray] = {}

        def __len__(self):
            return len(self.samples)

        def __getitem__(self, index):
            rgba = self.cache.get(index)
            if rgba is None:
                # Decoding dominates; small datasets are kept decoded (at ≤ 2× the input size).
                rgba = load_rgba(self.samples[index][0], max_side=max(2 * input_size, 64))
                if len(self.cache) < 20000:
                    self.cache[index] = rgba
            if augment:
                rgba = augment_rgba(rgba, self.rng)
            x = normalize(to_model_rgb(rgba, input_size))
            return torch.from_numpy(x), int(self.samples[index][1])

    return TextureFolderDataset()


# --- models ---------------------------------------------------------------------------------------


def build_classifier(backbone, feature_dim: int, num_classes: int):
    """backbone ([N, D] features) + L2 normalisation + linear head → model returning (logits, embedding)."""
    torch = require_torch()
    nn = torch.nn

    class EmbeddingClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = backbone
            self.head = nn.Linear(feature_dim, num_classes)

        def forward(self, x):
            embedding = nn.functional.normalize(self.backbone(x), dim=1, eps=1e-6)
            return self.head(embedding), embedding

    return EmbeddingClassifier()


def create_small_cnn(num_classes: int, width: int = 32):
    """A small CNN trained from scratch (no pretrained weights needed): ~0.5 M parameters at width 32."""
    torch = require_torch()
    nn = torch.nn

    def block(cin, cout):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, groups=cout, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    widths = [width, width * 2, width * 4, width * 8]
    layers, cin = [], 3
    for cout in widths:
        layers.append(block(cin, cout))
        cin = cout
    backbone = nn.Sequential(
        *layers, nn.Conv2d(cin, cin * 2, 1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    )
    return build_classifier(backbone, cin * 2, num_classes)


# --- training -------------------------------------------------------------------------------------

ProgressCallback = Callable[[int, int, dict], None]


class PyTorchTrainer:
    """Supervised training with AdamW + cosine decay, cancellation and best-checkpoint keeping.

    `cancel()` (any thread) stops at the next batch. When a validation loader is given, the
    weights with the best validation accuracy are restored at the end; otherwise the last ones.
    """

    def __init__(
        self,
        model,
        train_loader,
        val_loader=None,
        learning_rate: float = 1e-3,
        device: str | None = None,
        weight_decay: float = 1e-4,
        label_smoothing: float = 0.0,
        class_weights: Sequence[float] | None = None,
    ):
        torch = require_torch()
        self.torch = torch
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device)
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        weights = None if class_weights is None else torch.tensor(list(class_weights), dtype=torch.float32)
        self.loss_fn = torch.nn.CrossEntropyLoss(
            weight=None if weights is None else weights.to(self.device), label_smoothing=label_smoothing
        )
        self._cancel = threading.Event()
        self.history: list[dict] = []
        self.best_val_accuracy: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict | None = None

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _logits(self, batch_x):
        out = self.model(batch_x.to(self.device))
        return out[0] if isinstance(out, (tuple, list)) else out

    def train(
        self,
        epochs: int,
        progress_callback: ProgressCallback | None = None,
        batch_callback: Callable[[int, int], None] | None = None,
    ) -> list[dict]:
        """Train for `epochs`; calls progress_callback(epoch, epochs, metrics) after each epoch."""
        torch = self.torch
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=self.learning_rate, weight_decay=self.weight_decay)
        total_steps = max(1, epochs * len(self.train_loader))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
        )
        for epoch in range(1, epochs + 1):
            self.model.train()
            started, seen, correct, loss_sum = time.perf_counter(), 0, 0, 0.0
            for index, (batch_x, batch_y) in enumerate(self.train_loader):
                if self._cancel.is_set():
                    break
                batch_y = batch_y.to(self.device)
                logits = self._logits(batch_x)
                loss = self.loss_fn(logits, batch_y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                seen += len(batch_y)
                loss_sum += float(loss.detach()) * len(batch_y)
                correct += int((logits.argmax(1) == batch_y).sum())
                if batch_callback:
                    batch_callback(index + 1, len(self.train_loader))
            if self._cancel.is_set() and seen == 0:
                break
            metrics = {
                "epoch": epoch,
                "loss": loss_sum / max(seen, 1),
                "accuracy": correct / max(seen, 1),
                "lr": schedule.get_last_lr()[0],
                "seconds": time.perf_counter() - started,
            }
            if self.val_loader is not None:
                metrics.update({f"val_{k}": v for k, v in self.evaluate(self.val_loader).items()})
                # Ties go to the later epoch: equally accurate, but trained longer (small validation
                # sets tie often).
                if self.best_val_accuracy is None or metrics["val_accuracy"] >= self.best_val_accuracy:
                    self.best_val_accuracy, self.best_epoch = metrics["val_accuracy"], epoch
                    self.best_state = copy.deepcopy(self.model.state_dict())
            self.history.append(metrics)
            log.info("epoch %d/%d %s", epoch, epochs, {k: round(v, 4) for k, v in metrics.items()})
            if progress_callback:
                progress_callback(epoch, epochs, metrics)
            if self._cancel.is_set():
                break
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        self.model.eval()
        return self.history

    def evaluate(self, loader) -> dict:
        torch = self.torch
        self.model.eval()
        seen, correct, loss_sum = 0, 0, 0.0
        with torch.no_grad():
            for batch_x, batch_y in loader:
                batch_y = batch_y.to(self.device)
                logits = self._logits(batch_x)
                loss_sum += float(self.loss_fn(logits, batch_y)) * len(batch_y)
                correct += int((logits.argmax(1) == batch_y).sum())
                seen += len(batch_y)
        return {"loss": loss_sum / max(seen, 1), "accuracy": correct / max(seen, 1)}

    def export_checkpoint(self, path: str | os.PathLike[str], **extra) -> Path:
        """Save the (best) weights, history and `extra` (e.g. categories) with torch.save."""
        return export_checkpoint(
            self.model,
            path,
            history=self.history,
            best_epoch=self.best_epoch,
            best_val_accuracy=self.best_val_accuracy,
            **extra,
        )


def export_checkpoint(model, path: str | os.PathLike[str], **extra) -> Path:
    """torch.save({'state_dict', **extra}) written atomically."""
    torch = require_torch()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"state_dict": model.state_dict(), **extra}, tmp)
    os.replace(tmp, path)
    return path


def train_linear_head(
    features: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    epochs: int = 30,
    learning_rate: float = 3e-3,
    batch_size: int = 256,
    weight_decay: float = 1e-4,
    balance: bool = True,
    init: tuple[np.ndarray, np.ndarray] | None = None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    progress_callback: ProgressCallback | None = None,
    trainer_hook: Callable[[PyTorchTrainer], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit logits = W·x + b on fixed embeddings with PyTorchTrainer; returns (W [C, D], b [C]).

    With `balance`, the loss weights each class by 1/√count so that rare classes still count;
    with `val` (features, labels) the epoch with the best validation accuracy is kept.
    """
    torch = require_torch()
    torch.manual_seed(seed)

    def tensors(f, lab):
        return (
            torch.from_numpy(np.ascontiguousarray(f, dtype=np.float32)),
            torch.from_numpy(np.asarray(lab, dtype=np.int64)),
        )

    x, y = tensors(features, labels)
    head = torch.nn.Linear(x.shape[1], num_classes)
    if init is not None:
        with torch.no_grad():
            head.weight.copy_(torch.from_numpy(np.asarray(init[0], np.float32)))
            head.bias.copy_(torch.from_numpy(np.asarray(init[1], np.float32)))
    weights = None
    if balance:
        counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
        weights = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0)
        weights = weights / weights[counts > 0].mean()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    val_loader = None
    if val is not None and len(val[1]):
        val_loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(*tensors(*val)), batch_size=1024
        )
    trainer = PyTorchTrainer(
        head,
        loader,
        val_loader,
        learning_rate=learning_rate,
        device="cpu",
        weight_decay=weight_decay,
        class_weights=weights,
    )
    if trainer_hook:
        trainer_hook(trainer)
    trainer.train(epochs, progress_callback=progress_callback)
    return head.weight.detach().numpy().copy(), head.bias.detach().numpy().copy()


# --- ONNX export ----------------------------------------------------------------------------------


def export_to_onnx(
    model,
    path: str | os.PathLike[str],
    categories: Sequence[str],
    input_size: int,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    version: str = "1.0",
    description: str = "",
    training_data: str | dict = "",
    name: str | None = None,
    extra_metadata: dict | None = None,
) -> Path:
    """Write `model` as one self-contained .onnx: input NCHW (dynamic batch), outputs logits + embedding.

    `metadata_props` carry what `OfflineModel` needs (categories, input_size, mean, std) and the
    model card essentials (version, description, created, training_data).
    """
    torch = require_torch()
    onnx = require_onnx()
    path = Path(path)
    model = copy.deepcopy(model).cpu().eval()
    dummy = torch.zeros(1, 3, input_size, input_size)
    with torch.no_grad():
        out = model(dummy)
    outputs = list(OUTPUT_NAMES) if isinstance(out, (tuple, list)) else [OUTPUT_NAMES[0]]
    logits = out[0] if isinstance(out, (tuple, list)) else out
    if logits.shape[-1] != len(categories):
        raise ValueError(
            f"the model outputs {logits.shape[-1]} scores but {len(categories)} categories were given"
        )
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # torch 2.9+ warns that the TorchScript exporter is legacy; the new one needs onnxscript,
        # which the training extra does not pull in. The legacy exporter is what we rely on here.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(
            model,
            (dummy,),
            buffer,
            input_names=[INPUT_NAME],
            output_names=outputs,
            dynamic_axes={n: {0: "batch"} for n in [INPUT_NAME, *outputs]},
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    metadata = {
        "name": name or path.stem,
        "categories": json.dumps(list(categories)),
        "input_size": json.dumps(int(input_size)),
        "mean": json.dumps([float(v) for v in mean]),
        "std": json.dumps([float(v) for v in std]),
        "version": str(version),
        "description": description,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "training_data": training_data if isinstance(training_data, str) else json.dumps(training_data),
        "output": "logits",
        **{k: v if isinstance(v, str) else json.dumps(v) for k, v in (extra_metadata or {}).items()},
    }
    write_onnx(proto, path, metadata)
    return path


# --- workflows behind `texture-sorter train` (and the GUI's training tab) -------------------------

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
            "name": Path(out_path).stem,
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
    )
    return summary
