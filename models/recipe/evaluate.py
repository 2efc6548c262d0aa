"""Leave-one-game-out evaluation of the frozen-backbone + linear-head model, and of ai/rules.py.

For each game with at least MIN_IMAGES labelled images: train the head on the training views of
every other game, predict every image of the held-out game on its plain view and on its PS2-like
view, and the plain view averaged with its seam crop (test-time views). The model sees pixels only.
The rule classifier is scored on the very same held-out images.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ai.taxonomy import default_categories
from models.recipe import backbone, embed, heads, views

log = logging.getLogger(__name__)

MIN_IMAGES = 100
# Evaluated views: name → the view rows whose probabilities are averaged.
TEST_VIEWS = {"plain": (0,), "plain_tta": (0, 1), "ps2": (2,)}


@dataclass
class Data:
    """The cached images (rows of cache.json) and their feature parts [images, views, dim]."""

    rows: list[dict]
    pooled: np.ndarray
    mid: np.ndarray
    stats: np.ndarray
    labels: np.ndarray
    games: np.ndarray
    variant: str
    input_size: int


def labels_of(rows: list[dict]) -> np.ndarray:
    index = {c: i for i, c in enumerate(default_categories())}
    return np.asarray([index[r["category"]] for r in rows], np.int64)


def load_data(work_dir: Path, variant: str, input_size: int, rows: list[dict] | None = None) -> Data:
    rows = rows if rows is not None else json.loads((work_dir / "cache.json").read_text())
    feats = embed.load_features(embed.features_path(work_dir, variant, input_size))
    missing = [r["file"] for r in rows if r["digest"] not in feats["index"]]
    if missing:
        raise RuntimeError(f"{len(missing)} images lack features (run --stage embed), e.g. {missing[0]}")
    idx = np.asarray([feats["index"][r["digest"]] for r in rows])
    return Data(
        rows,
        feats["pooled"][idx],
        feats["mid"][idx],
        feats["stats"][idx],
        labels_of(rows),
        np.asarray([r["game"] for r in rows]),
        variant,
        input_size,
    )


def evaluated_games(data: Data) -> list[str]:
    names, counts = np.unique(data.games, return_counts=True)
    return [g for g in _game_order(data) if counts[list(names).index(g)] >= MIN_IMAGES]


def _game_order(data: Data) -> list[str]:
    from models.recipe.sources import GAMES

    present = set(data.games.tolist())
    return [g for g in GAMES if g in present]


def stats_normaliser(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean/std of the colour statistics over the training views."""
    s = stats.astype(np.float64)
    return s.mean(0).astype(np.float32), (s.std(0) + 1e-6).astype(np.float32)


def embeddings(data: Data, images: np.ndarray, view: int, normaliser) -> np.ndarray:
    """L2-normalised embeddings of one view of the selected images, as the exported model computes them."""
    combined = backbone.combine_features(
        data.pooled[images, view].astype(np.float32),
        data.mid[images, view].astype(np.float32),
        data.stats[images, view],
        *normaliser,
    )
    return combined / np.maximum(np.linalg.norm(combined, axis=1, keepdims=True), 1e-6)


def fit_head(
    data: Data,
    image_mask: np.ndarray,
    train_views: tuple[int, ...] = views.TRAIN_VIEWS,
    balance: str = "game",
    epochs: int = heads.EPOCHS,
    seed: int = 0,
):
    """Linear head on the training views of the images selected by `image_mask` → (W, b, normaliser)."""
    images = np.flatnonzero(image_mask)
    normaliser = stats_normaliser(data.stats[images][:, list(train_views)].reshape(-1, data.stats.shape[2]))
    x = np.concatenate([embeddings(data, images, v, normaliser) for v in train_views])
    y = np.tile(data.labels[images], len(train_views))
    weights = heads.sample_weights(y, np.tile(data.games[images], len(train_views)), balance)
    weight, bias = heads.train_softmax(x, y, len(default_categories()), weights, epochs=epochs, seed=seed)
    return weight, bias, normaliser


def predict(data: Data, head, images: np.ndarray, test_views: tuple[int, ...]) -> np.ndarray:
    """Probabilities averaged over `test_views` of each image."""
    weight, bias, normaliser = head
    probs = 0.0
    for view in test_views:
        logits = embeddings(data, images, view, normaliser) @ weight.T + bias
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        probs = probs + p / p.sum(1, keepdims=True)
    return probs / len(test_views)


def leave_one_game_out(data: Data, balance: str = "game", train_views=views.TRAIN_VIEWS, epochs=heads.EPOCHS):
    """Top-3 per image and evaluated view when its game was held out (images of smaller games: -1)."""
    games = evaluated_games(data)
    top3 = {name: np.full((len(data.rows), 3), -1, np.int64) for name in TEST_VIEWS}
    for game in games:
        held_out = data.games == game
        head = fit_head(data, ~held_out, train_views, balance, epochs)
        images = np.flatnonzero(held_out)
        for name, test_views in TEST_VIEWS.items():
            top3[name][images] = np.argsort(-predict(data, head, images, test_views), axis=1)[:, :3]
        hit = (top3["plain"][images, 0] == data.labels[images]).mean()
        log.info("held out %s (%d images): plain top-1 %.3f", game, len(images), hit)
    return {"games": games, "top3": {k: v.tolist() for k, v in top3.items()}}


def seen_games_cross_validation(data: Data, folds: int = 5, seed: int = 0, balance: str = "game") -> dict:
    """k-fold over the images of all games: how the model does on games like the ones it saw.

    Optimistic by construction (sibling textures of one game land on both sides of a split); it
    is reported next to leave-one-game-out only to show how much of the gap is the unseen game.
    """
    fold_of = np.random.default_rng(seed).integers(0, folds, len(data.rows))
    top3 = np.zeros((len(data.rows), 3), np.int64)
    for fold in range(folds):
        test = fold_of == fold
        head = fit_head(data, ~test, balance=balance)
        images = np.flatnonzero(test)
        top3[images] = np.argsort(-predict(data, head, images, (0,)), axis=1)[:, :3]
    return {"top3": top3.tolist(), "folds": folds}


def rule_predictions(work_dir: Path, rows: list[dict]) -> dict:
    """Top-3 of ai.rules.RuleClassifier on the same images (their cached ≤256 px decode)."""
    from ai.rules import RuleClassifier
    from models.recipe import dataset

    classifier = RuleClassifier(default_categories())
    top3 = []
    for row in rows:
        probs = classifier.predict_probabilities(dataset.load_cached(work_dir, row))
        top3.append(np.argsort(-probs)[:3].tolist())
    return {"top3": top3}


def metrics(rows: list[dict], top3: np.ndarray, games: list[str]) -> dict:
    """Top-1/top-3 per held-out game, per category, pooled, and the macro means.

    Only images of `games` count (rows with a -1 prediction were not held out). `macro_games` is
    the mean over held-out games (each game counts once), `macro_categories` the mean over
    categories of the pooled per-category accuracy.
    """
    categories = default_categories()
    all_games = np.asarray([r["game"] for r in rows])
    keep = np.isin(all_games, games)
    labels = labels_of(rows)[keep]
    top3 = np.asarray(top3)[keep]
    game_of = all_games[keep]
    hit1 = top3[:, 0] == labels
    hit3 = (top3 == labels[:, None]).any(axis=1)
    out = {
        "overall": {"n": int(keep.sum()), "top1": float(hit1.mean()), "top3": float(hit3.mean())},
        "per_game": {},
        "per_category": {},
        "confusions": [],
    }
    for game in games:
        m = game_of == game
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
                g: float(hit1[m & (game_of == g)].mean()) for g in games if (m & (game_of == g)).any()
            }
            per_cat.append((entry["top1"], entry["top3"]))
        out["per_category"][category] = entry
    out["overall"]["macro_games_top1"] = float(np.mean([v["top1"] for v in out["per_game"].values()]))
    out["overall"]["macro_games_top3"] = float(np.mean([v["top3"] for v in out["per_game"].values()]))
    out["overall"]["macro_categories_top1"] = float(np.mean([p[0] for p in per_cat]))
    out["overall"]["macro_categories_top3"] = float(np.mean([p[1] for p in per_cat]))
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
