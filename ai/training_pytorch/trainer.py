"""`PyTorchTrainer` (AdamW, cosine decay, cancel, best checkpoint) and the linear head on fixed embeddings."""

from __future__ import annotations

import copy
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ai.training_pytorch.nets import require_torch

log = logging.getLogger(__name__)

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
