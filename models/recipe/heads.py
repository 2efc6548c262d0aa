"""The linear head on frozen embeddings, and the per-image weights that balance classes and games.

A plain softmax regression trained with AdamW and cosine decay on whole tensors (no DataLoader):
the leave-one-game-out evaluation fits one head per held-out game and per setting compared, so
the fit has to take seconds on two cores.
"""

from __future__ import annotations

import numpy as np

from ai.training_pytorch import require_torch

EPOCHS = 10
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 1e-4
BATCH = 1024
BALANCE_MODES = ("none", "class", "game")


def sample_weights(labels: np.ndarray, games: np.ndarray, mode: str) -> np.ndarray:
    """Per-sample loss weights, mean 1.

    "class": 1/√(images of the class) (v1's weighting); "game": 1/√(images of the class in that
    game), so a class that one game ships by the hundred does not drown the same class of the
    games that ship a few, and a class counts more the more games have it.
    """
    if mode == "none":
        return np.ones(len(labels), np.float32)
    if mode == "class":
        keys = labels
    elif mode == "game":
        keys = np.asarray([f"{g}|{c}" for g, c in zip(games, labels, strict=True)])
    else:
        raise ValueError(f"unknown balance mode {mode!r}")
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    weights = 1.0 / np.sqrt(counts[inverse].astype(np.float64))
    return (weights / weights.mean()).astype(np.float32)


def train_softmax(
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    weights: np.ndarray | None = None,
    epochs: int = EPOCHS,
    learning_rate: float = LEARNING_RATE,
    weight_decay: float = WEIGHT_DECAY,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit logits = W·x + b; returns (W [C, D], b [C]) as float32."""
    torch = require_torch()
    # One thread: on two shared cores a second one only adds contention (7× slower measured here).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(torch, x, y, num_classes, weights, epochs, learning_rate, weight_decay, seed)
    finally:
        torch.set_num_threads(threads)


def _train(torch, x, y, num_classes, weights, epochs, learning_rate, weight_decay, seed):
    generator = torch.Generator().manual_seed(seed)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    wt = torch.from_numpy(np.ones(len(y), np.float32) if weights is None else weights.astype(np.float32))
    head = torch.nn.Linear(xt.shape[1], num_classes)
    optimiser = torch.optim.AdamW(head.parameters(), lr=learning_rate, weight_decay=weight_decay)
    steps = epochs * ((len(yt) + BATCH - 1) // BATCH)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(1, steps))
    for _ in range(epochs):
        order = torch.randperm(len(yt), generator=generator)
        for start in range(0, len(yt), BATCH):
            idx = order[start : start + BATCH]
            loss = torch.nn.functional.cross_entropy(head(xt[idx]), yt[idx], reduction="none")
            loss = (loss * wt[idx]).sum() / wt[idx].sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    with torch.no_grad():
        return head.weight.numpy().copy(), head.bias.numpy().copy()
