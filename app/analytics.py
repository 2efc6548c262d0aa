"""How well each model does on your textures: first-guess accuracy over time, per-category precision and
recall, the most confused pairs and what the learner added, from your corrections and the prediction cache.

What is counted: every texture you answered in the window or with `correct` (a correction, or a
confirmation with Enter), imports excluded. Per model, a texture's *first guess* is the best guess
shown when you first answered it while that model was active (the learner's answer, since that is
what you saw); the *truth* is your latest answer for it. *The model alone* is the model's own best
guess before the learner re-ranked it: stored with the correction since this version
(`metadata.model_guess`), otherwise read back from the prediction cache (the model-stage
probabilities kept for that file), otherwise unknown and left out of that comparison.
These are textures you chose to look at, often the doubtful ones, so the figures describe your
reviewing, not a random sample of your folders.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from ai.errors import PackageError
from ai.learning.records import ORIGIN_USER
from ai.learning.store import TrainingDataStore
from ai.offline_model import file_sha256
from ai.packages.registry import ModelRecord, ModelRegistry
from ai.prediction_cache import PredictionCache

log = logging.getLogger(__name__)

TOP_CONFUSIONS = 10
MIN_DAYS_FOR_DAILY = 3  # fewer distinct days than this: the timeline is cut into equal runs instead
POINTS = 10


@dataclass
class Observation:
    """One texture a model guessed and you answered."""

    texture_hash: str
    path: str
    timestamp: float
    shown: str
    truth: str
    model_guess: str | None = None


@dataclass
class ModelStats:
    """The figures `models stats` prints and the Models dialog's statistics page draws."""

    model_id: str
    name: str
    version: str
    answered: int
    correct: int
    accuracy: float
    timeline: list[dict] = field(default_factory=list)
    categories: dict[str, dict] = field(default_factory=dict)
    confusions: list[dict] = field(default_factory=list)
    learner: dict = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    matrix: list[list[int]] = field(default_factory=list)  # [your answer][first guess] over labels

    def to_json(self) -> dict:
        return asdict(self)


# -- gathering ----------------------------------------------------------------------------------------


def observations(store: TrainingDataStore) -> dict[str, list[Observation]]:
    """model id → the textures it guessed first and you answered (imports and undone answers excluded)."""
    truth = {r.texture_hash: r.corrected_category for r in store.current(with_embeddings=False)}
    first: dict[tuple[str, str], Observation] = {}
    for record in reversed(store.history()):  # oldest first: the first answer per model and texture wins
        if record.origin != ORIGIN_USER or record.original_category is None or record.texture_hash not in truth:
            continue
        key = (record.model_id or "unknown", record.texture_hash)
        if key in first:
            continue
        guess = record.metadata.get("model_guess")
        first[key] = Observation(record.texture_hash, record.texture_path, record.timestamp,
                                 record.original_category, truth[record.texture_hash],
                                 guess if isinstance(guess, str) else None)  # fmt: skip
    by_model: dict[str, list[Observation]] = defaultdict(list)
    for (model_id, _), obs in first.items():
        by_model[model_id].append(obs)
    return {m: sorted(obs, key=lambda o: o.timestamp) for m, obs in by_model.items()}


def fill_model_guesses(model_id: str, obs: list[Observation], cache: PredictionCache,
                       categories: list[str] | None) -> int:  # fmt: skip
    """Model-alone guesses from the prediction cache where the correction did not store one; → how many."""
    missing = [o for o in obs if o.model_guess is None]
    if not missing or not categories:
        return 0
    found = cache.model_probabilities(model_id, [o.path for o in missing])
    filled = 0
    for o in missing:
        probs = found.get(o.path)
        if probs is not None and len(probs) == len(categories):
            o.model_guess = categories[int(np.argmax(probs))]
            filled += 1
    return filled


def models_by_id(registry: ModelRegistry, model_ids: set[str]) -> dict[str, ModelRecord]:
    """Which installed model each id names: ids end in the first 16 hex digits of the weights' sha256."""
    wanted = {mid.rsplit("-", 1)[-1]: mid for mid in model_ids if "-" in mid}
    found: dict[str, ModelRecord] = {}
    # The same weights may be installed under several names: the active one, then the built-in, names them.
    for record in sorted(registry.list_models(), key=lambda r: (not r.active, not r.builtin)):
        if not record.available:
            continue
        try:
            digest = file_sha256(Path(record.model_path))[:16]
        except OSError as exc:
            log.warning("cannot hash %s: %s", record.model_path, exc)
            continue
        if digest in wanted:
            found.setdefault(wanted[digest], record)
    return found


# -- the figures ----------------------------------------------------------------------------------------


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def timeline(obs: list[Observation]) -> list[dict]:
    """Accuracy of first guesses in time order: per day over 3+ days, else in up to 10 equal runs."""
    if not obs:
        return []
    days = [datetime.fromtimestamp(o.timestamp).date().isoformat() for o in obs]
    if len(set(days)) >= MIN_DAYS_FOR_DAILY:
        groups: dict[str, list[Observation]] = defaultdict(list)
        for day, o in zip(days, obs, strict=True):
            groups[day].append(o)
        runs = list(groups.items())
    else:
        count = max(1, min(POINTS, len(obs) // 20))
        edges = np.linspace(0, len(obs), count + 1).round().astype(int)
        runs = [(f"{a + 1}–{b}", obs[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    points = []
    for label, group in runs:
        correct = sum(o.shown == o.truth for o in group)
        known = [o for o in group if o.model_guess is not None]
        model_correct = sum(o.model_guess == o.truth for o in known)
        points.append({"label": label, "start": group[0].timestamp, "end": group[-1].timestamp,
                       "count": len(group), "correct": correct, "accuracy": correct / len(group),
                       "model_count": len(known), "model_accuracy": _rate(model_correct, len(known))})  # fmt: skip
    return points


def compute(model_id: str, obs: list[Observation], name: str = "", version: str = "") -> ModelStats:
    correct = sum(o.shown == o.truth for o in obs)
    labels = sorted({o.truth for o in obs} | {o.shown for o in obs})
    column = {c: i for i, c in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for o in obs:
        matrix[column[o.truth]][column[o.shown]] += 1
    categories = {}
    for c in labels:
        i = column[c]
        tp = matrix[i][i]
        predicted = sum(row[i] for row in matrix)
        support = sum(matrix[i])
        categories[c] = {"precision": _rate(tp, predicted), "recall": _rate(tp, support),
                         "answers": support, "guessed": predicted, "right": tp}  # fmt: skip
    pairs = Counter((o.truth, o.shown) for o in obs if o.truth != o.shown)
    confusions = [{"truth": t, "guess": g, "count": n}
                  for (t, g), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CONFUSIONS]]  # fmt: skip
    known = [o for o in obs if o.model_guess is not None]
    model_right = sum(o.model_guess == o.truth for o in known)
    shown_right = sum(o.shown == o.truth for o in known)
    learner = {
        "compared": len(known),
        "model_accuracy": _rate(model_right, len(known)),
        "shown_accuracy": _rate(shown_right, len(known)),
        "gain": None if not known else (shown_right - model_right) / len(known),
        "fixed": sum(o.model_guess != o.truth and o.shown == o.truth for o in known),
        "broke": sum(o.model_guess == o.truth and o.shown != o.truth for o in known),
    }
    return ModelStats(model_id, name or model_id, version, len(obs), correct, correct / len(obs) if obs else 0.0,
                      timeline(obs), categories, confusions, learner, labels, matrix)  # fmt: skip


def model_stats(
    registry: ModelRegistry | None = None,
    store: TrainingDataStore | None = None,
    cache: PredictionCache | None = None,
    name: str | None = None,
) -> list[ModelStats]:
    """Statistics per model (only NAME's versions when given), the most answered first."""
    registry = registry or ModelRegistry()
    own_store, own_cache = store is None, cache is None
    store = store or TrainingDataStore()
    cache = cache or PredictionCache()
    try:
        by_model = observations(store)
        records = models_by_id(registry, set(by_model))
        if name is not None:
            wanted = registry.find(name)
            by_model = {m: o for m, o in by_model.items() if m in records and records[m].slug == wanted.slug}
        result = []
        for model_id, obs in by_model.items():
            record = records.get(model_id)
            fill_model_guesses(model_id, obs, cache, record.categories if record else None)
            result.append(compute(model_id, obs, record.name if record else "", record.version if record else ""))
        return sorted(result, key=lambda s: -s.answered)
    finally:
        if own_store:
            store.close()
        if own_cache:
            cache.close()


# -- the CLI's text ----------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def describe(stats: ModelStats) -> list[str]:
    title = f"{stats.name} {stats.version}".strip()
    lines = [f"{title} ({stats.model_id}): {stats.answered} textures you answered",
             f"  first guesses right: {_pct(stats.accuracy)} ({stats.correct} of {stats.answered})"]  # fmt: skip
    learner = stats.learner
    if learner["compared"]:
        lines.append(
            f"  the model alone: {_pct(learner['model_accuracy'])} on {learner['compared']} of them; with the "
            f"learner {_pct(learner['shown_accuracy'])}: {learner['gain'] * 100:+.1f} points "
            f"(fixed {learner['fixed']}, broke {learner['broke']})"
        )
    else:
        lines.append("  the model alone: unknown (no stored guesses or cached predictions for these files)")
    lines.append("  over time: " + ", ".join(f"{p['label']}: {_pct(p['accuracy'])} ({p['count']})" for p in stats.timeline))
    width = max([len("category"), *map(len, stats.categories)])
    lines.append(f"  {'category'.ljust(width)}  precision  recall  answers")
    for category, c in sorted(stats.categories.items(), key=lambda kv: -kv[1]["answers"]):
        lines.append(f"  {category.ljust(width)}  {_pct(c['precision']).rjust(9)}  {_pct(c['recall']).rjust(6)}  "
                     f"{c['answers']:7d}")  # fmt: skip
    if stats.confusions:
        lines.append("  most confused (first guess → your answer):")
        lines += [f"    {c['guess']} → {c['truth']}: {c['count']}" for c in stats.confusions]
    return lines


def run_stats(registry: ModelRegistry, name: str | None, as_json: bool) -> int:
    try:
        stats = model_stats(registry, name=name)
    except PackageError as exc:
        print(f"texture-sorter: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps([s.to_json() for s in stats], indent=2, ensure_ascii=False))
        return 0
    if not stats:
        who = f"{name}" if name else "any model"
        print(f"No answers recorded for {who} yet: correct or confirm guesses in the window (or `correct FILE CATEGORY`).")
        return 0
    for i, s in enumerate(stats):
        if i:
            print()
        print("\n".join(describe(s)))
    return 0
