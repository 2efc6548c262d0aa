"""Leave-one-game-out evaluation of the frozen-backbone + linear-head model, and of ai/rules.py.

For each game: train the head on the embeddings (all views) of the other three games, predict
the plain view of every image of the held-out game. The model sees pixels only. The rule
classifier is scored on the very same held-out images.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ai.taxonomy import default_categories
from ai.training_pytorch import train_linear_head
from models.recipe import backbone, dataset
from models.recipe.label_rules import GAMES

log = logging.getLogger(__name__)

HEAD_EPOCHS = 30
HEAD_LR = 3e-3
HEAD_WEIGHT_DECAY = 1e-4


def load_features(path: Path) -> dict:
    data = np.load(path)
    return {k: data[k] for k in data.files}


def labels_of(rows: list[dict]) -> np.ndarray:
    index = {c: i for i, c in enumerate(default_categories())}
    return np.asarray([index[r["category"]] for r in rows], np.int64)


def stats_normaliser(feats: dict, select: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean/std of the colour statistics over the selected rows (the training views only)."""
    stats = feats["stats"][select].astype(np.float64)
    return stats.mean(0).astype(np.float32), (stats.std(0) + 1e-6).astype(np.float32)


def embeddings(feats: dict, select: np.ndarray, normaliser) -> np.ndarray:
    """L2-normalised embeddings of the selected rows, exactly as the exported model computes them."""
    combined = backbone.combine_features(
        feats["pooled"][select].astype(np.float32),
        feats["mid"][select].astype(np.float32),
        feats["stats"][select],
        *normaliser,
    )
    return combined / np.maximum(np.linalg.norm(combined, axis=1, keepdims=True), 1e-6)


def fit_head(feats: dict, rows: list[dict], image_mask: np.ndarray, epochs: int = HEAD_EPOCHS, seed: int = 0):
    """Linear head on every view of the images selected by `image_mask` → (W, b, stats normaliser)."""
    select = image_mask[feats["image"]]
    normaliser = stats_normaliser(feats, select)
    x = embeddings(feats, select, normaliser)
    y = labels_of(rows)[feats["image"][select]]
    weight, bias = train_linear_head(
        x,
        y,
        len(default_categories()),
        epochs=epochs,
        learning_rate=HEAD_LR,
        weight_decay=HEAD_WEIGHT_DECAY,
        seed=seed,
    )
    return weight, bias, normaliser


def plain_view_rows(feats: dict, n_images: int) -> np.ndarray:
    """Row index (into the feature arrays) of the un-augmented view of each image."""
    out = np.zeros(n_images, np.int64)
    first = np.flatnonzero(feats["view"] == 0)
    out[feats["image"][first]] = first
    return out


def leave_one_game_out(work_dir: Path, feats_path: Path, epochs: int = HEAD_EPOCHS) -> dict:
    """Per-image top-3 predictions of the model when its game was held out."""
    rows = json.loads((work_dir / "cache.json").read_text())
    feats = load_features(feats_path)
    games = np.asarray([r["game"] for r in rows])
    plain = plain_view_rows(feats, len(rows))
    labels = labels_of(rows)
    top3 = np.zeros((len(rows), 3), np.int64)
    for game in GAMES:
        held_out = games == game
        weight, bias, normaliser = fit_head(feats, rows, ~held_out, epochs=epochs)
        scores = embeddings(feats, plain[held_out], normaliser) @ weight.T + bias
        top3[held_out] = np.argsort(-scores, axis=1)[:, :3]
        log.info("held out %s: top-1 %.3f", game, float((top3[held_out, 0] == labels[held_out]).mean()))
    return {
        "top3": top3.tolist(),
        "input_size": int(feats["input_size"]),
        "views": int(feats["views"]),
        "epochs": epochs,
    }


def seen_games_cross_validation(
    work_dir: Path, feats_path: Path, folds: int = 5, seed: int = 0, epochs: int = HEAD_EPOCHS
) -> dict:
    """k-fold over images of all four games: how the model does on games like the ones it saw.

    Optimistic by construction (sibling textures of one game land on both sides of a split); it
    is reported next to leave-one-game-out only to show how much of the gap is the unseen game.
    """
    rows = json.loads((work_dir / "cache.json").read_text())
    feats = load_features(feats_path)
    plain = plain_view_rows(feats, len(rows))
    fold_of = np.random.default_rng(seed).integers(0, folds, len(rows))
    top3 = np.zeros((len(rows), 3), np.int64)
    for fold in range(folds):
        test = fold_of == fold
        weight, bias, normaliser = fit_head(feats, rows, ~test, epochs=epochs)
        scores = embeddings(feats, plain[test], normaliser) @ weight.T + bias
        top3[test] = np.argsort(-scores, axis=1)[:, :3]
    return {"top3": top3.tolist(), "folds": folds}


def rule_predictions(work_dir: Path) -> dict:
    """Top-3 of ai.rules.RuleClassifier on the same images (their cached ≤256 px decode)."""
    from ai.rules import RuleClassifier

    rows = json.loads((work_dir / "cache.json").read_text())
    classifier = RuleClassifier(default_categories())
    top3 = []
    for row in rows:
        probs = classifier.predict_probabilities(dataset.load_cached(work_dir, row))
        top3.append(np.argsort(-probs)[:3].tolist())
    return {"top3": top3}


def metrics(rows: list[dict], top3: np.ndarray) -> dict:
    """Top-1/top-3 per held-out game, per category and overall (micro and per-category mean)."""
    categories = default_categories()
    labels = labels_of(rows)
    top3 = np.asarray(top3)
    hit1 = top3[:, 0] == labels
    hit3 = (top3 == labels[:, None]).any(axis=1)
    games = np.asarray([r["game"] for r in rows])
    out = {
        "overall": {"n": len(rows), "top1": float(hit1.mean()), "top3": float(hit3.mean())},
        "per_game": {},
        "per_category": {},
        "confusions": [],
    }
    for game in GAMES:
        m = games == game
        out["per_game"][game] = {
            "n": int(m.sum()),
            "top1": float(hit1[m].mean()),
            "top3": float(hit3[m].mean()),
        }
    per_cat = []
    for i, category in enumerate(categories):
        m = labels == i
        entry = {"n": int(m.sum())}
        if m.any():
            entry.update(top1=float(hit1[m].mean()), top3=float(hit3[m].mean()))
            entry["per_game"] = {
                g: float(hit1[m & (games == g)].mean()) for g in GAMES if (m & (games == g)).any()
            }
            per_cat.append((entry["top1"], entry["top3"]))
        out["per_category"][category] = entry
    out["overall"]["macro_top1"] = float(np.mean([p[0] for p in per_cat]))
    out["overall"]["macro_top3"] = float(np.mean([p[1] for p in per_cat]))
    confusion = np.zeros((len(categories), len(categories)), np.int64)
    np.add.at(confusion, (labels, top3[:, 0]), 1)
    off = [
        (int(confusion[a, b]), categories[a], categories[b])
        for a in range(len(categories))
        for b in range(len(categories))
        if a != b and confusion[a, b]
    ]
    out["confusions"] = [{"true": t, "predicted": p, "n": n} for n, t, p in sorted(off, reverse=True)[:15]]
    return out
