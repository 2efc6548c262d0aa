"""`texture-sorter correct` and `learn …`: teach the sorter from the command line, and measure it.

Exit status: 0 done, 1 failed (unreadable texture, broken history or rules file), 2 bad arguments
(unknown category, missing file, unknown correction id).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
from pathlib import Path

import numpy as np

from ai.errors import StoreError, TextureError
from ai.learning.learner import CorrectionRecord, IncrementalLearner, LearnerSettings, TrainingDataStore
from ai.types import top_k

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
CURVE_KS = (0, 5, 10, 25, 50)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "correct",
        help="record the right category for a texture",
        description="Tell the sorter what FILE really is; later guesses learn from it at once.",
    )
    p.add_argument("file", metavar="FILE", help="texture file")
    p.add_argument("category", metavar="CATEGORY", help="category id, e.g. surface/metal")
    p.add_argument("--model", metavar="FILE.onnx", help="the model whose guess is being corrected")
    p.set_defaults(func=run_correct)

    p = subparsers.add_parser("learn", help="corrections: stats, export, import, list, undo, edit")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser("stats", help="what the learner knows, per category")
    a.add_argument("--json", action="store_true", help="print as JSON")
    a.set_defaults(func=run_stats)
    a = actions.add_parser("export", help="write all corrections (with embeddings) to a JSON file")
    a.add_argument("path", metavar="FILE")
    a.set_defaults(func=run_export)
    a = actions.add_parser("import", help="merge a JSON history; known textures keep the newest answer")
    a.add_argument("path", metavar="FILE")
    a.set_defaults(func=run_import)
    a = actions.add_parser("list", help="show recent corrections with their ids")
    a.add_argument("--limit", type=int, default=20, metavar="N")
    a.set_defaults(func=run_list)
    a = actions.add_parser("undo", help="take back the newest correction")
    a.set_defaults(func=run_undo)
    a = actions.add_parser("remove", help="delete the correction with this id")
    a.add_argument("id", type=int)
    a.set_defaults(func=run_remove)
    a = actions.add_parser("edit", help="change the category of the correction with this id")
    a.add_argument("id", type=int)
    a.add_argument("category", metavar="CATEGORY")
    a.add_argument("--model", metavar="FILE.onnx", help="check CATEGORY against this model")
    a.set_defaults(func=run_edit)
    a = actions.add_parser(
        "curve",
        help="measure how accuracy grows with corrections (for developers)",
        description="Classify a folder-per-category dataset once, then simulate a user who corrects "
        "the K most confident wrong guesses per category, and report top-1 accuracy on the files "
        "left uncorrected for each K.",
    )
    a.add_argument("data", metavar="DATA_DIR", help="folders named by category id (map/normal → map/normal/)")
    a.add_argument("--model", metavar="FILE.onnx", help="model to measure (default: the active one)")
    a.add_argument(
        "--k", default=",".join(map(str, CURVE_KS)), metavar="K,K,…", help="corrections per category"
    )
    a.add_argument(
        "--per",
        choices=("predicted", "true"),
        default="predicted",
        help="group wrong guesses by the model's category (as when reviewing) or the true one",
    )
    a.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a LearnerSettings value")
    a.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    a.add_argument("--threads", type=int, metavar="N")
    a.set_defaults(func=run_curve)


def _error(message: str, code: int = EXIT_FAILED) -> int:
    print(f"texture-sorter: {message}", file=sys.stderr)
    return code


def _manager(model: str | None):
    from ai.model_manager import ModelManager

    manager = ModelManager.create_default({"model_path": model} if model else {})
    manager.learner = None  # raw model answers: the learner is applied here, visibly
    return manager


def _check_category(category: str, categories: list[str]) -> int | None:
    if category in categories:
        return None
    listing = "\n  ".join(categories)
    return _error(f"unknown category {category!r}; valid ids:\n  {listing}", EXIT_USAGE)


def _learner(*, writes: bool = False) -> IncrementalLearner:
    """The user's learner; StoreError when `writes` and the database cannot take them."""
    store = TrainingDataStore()
    if store.recovered_from:
        print(f"warning: {store.recovered_from}", file=sys.stderr)
    if writes and not store.persistent:  # kept in memory, a change would be gone at exit
        store.close()
        raise StoreError(f"not saved: {store.recovered_from}")
    learner = IncrementalLearner(store)
    if report := store.damage_report():
        print(f"warning: {report}", file=sys.stderr)
    return learner


def _reports_store_errors(run):
    """A command that fails with the database's reason (locked, damaged, not saved), exit status 1."""

    @functools.wraps(run)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except StoreError as exc:
            return _error(str(exc))

    return wrapper


def _guesses(predictions, n: int = 3) -> str:
    return ", ".join(f"{p.category} {p.confidence:.0%}" for p in predictions[:n])


# -- correct -------------------------------------------------------------------------------------


@_reports_store_errors
def run_correct(args: argparse.Namespace) -> int:
    from ai.textures import load_texture

    if not Path(args.file).is_file():
        return _error(f"{args.file}: file not found", EXIT_USAGE)
    manager = _manager(args.model)
    if args.model and manager.offline_model is None:
        return _error(f"cannot use model: {manager.offline_error}", EXIT_USAGE)
    categories = manager.categories
    bad = _check_category(args.category, categories)
    if bad is not None:
        return bad
    try:
        # Decoded as the pipeline decodes (reduced for the model, hashed whole while decoding), so
        # the correction carries the hash and the embedding a later classification sees.
        texture = load_texture(args.file, min_size=manager.input_size, pixel_hash=True)
    except TextureError as exc:
        return _error(str(exc))
    result = manager.predict(texture.pixels, top_k=5)
    learner = _learner(writes=True)
    learner.set_model(manager.model_id, None, categories)
    digest = texture.pixel_hash
    embedding = None if result.embedding is None else result.embedding[None]

    def learner_view():
        probs = learner.adjust_probabilities(result.probabilities[None], categories, embedding, [digest])
        return top_k(probs[0], categories, 3)

    before = learner_view()
    previous = learner.store.find(digest)
    record = learner.record_correction(
        args.file,
        args.category,
        result.predictions,
        image=texture.pixels,
        embedding=result.embedding,
        texture_hash=digest,
        metadata={"model_guess": result.predictions[0].category} if result.predictions else None,
    )
    after = learner_view()
    print(f"{args.file}: model ({manager.describe()}) said {_guesses(result.predictions)}")
    if previous is not None:
        print(
            f"  earlier correction #{previous.id} said {previous.corrected_category}; the new answer replaces it"
        )
    elif before[0].category != result.predictions[0].category:
        print(f"  with earlier corrections the learner said {_guesses(before)}")
    verb = "confirmed" if args.category == result.predictions[0].category else "corrected to"
    print(f"  {verb} {args.category} (correction #{record.id}); now: {_guesses(after, 1)}")
    count = len(learner)
    print(f"  the learner knows {count} corrected texture{'' if count == 1 else 's'}")
    return EXIT_OK


# -- learn ---------------------------------------------------------------------------------------


@_reports_store_errors
def run_stats(args: argparse.Namespace) -> int:
    learner = _learner()
    stats = learner.category_statistics()
    stats["database"] = learner.store.path
    if args.json:
        print(json.dumps(stats, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{stats['total']} corrected textures in {learner.store.path}")
    print(
        f"  {stats['corrections']} corrections, {stats['confirmations']} confirmations, "
        f"{stats['with_embeddings']} with embeddings"
    )
    if stats["categories"]:
        width = max(len(c) for c in stats["categories"])
        print(f"\n  {'category':<{width}}  to  from  confirmed")
        for name, c in stats["categories"].items():
            print(f"  {name:<{width}}  {c['corrected_to']:>2}  {c['corrected_from']:>4}  {c['confirmed']:>9}")
    if stats["confusions"]:
        print("\n  the model said → you said:")
        for item in stats["confusions"][:10]:
            print(f"    {item['model']} → {item['user']}: {item['count']}")
    return EXIT_OK


@_reports_store_errors
def run_export(args: argparse.Namespace) -> int:
    try:
        count = _learner().export_history(args.path)
    except StoreError as exc:
        return _error(str(exc))
    print(f"exported {count} corrections to {args.path}")
    return EXIT_OK


@_reports_store_errors
def run_import(args: argparse.Namespace) -> int:
    if not Path(args.path).is_file():
        return _error(f"{args.path}: file not found", EXIT_USAGE)
    try:
        result = _learner(writes=True).import_history(args.path)
    except StoreError as exc:
        return _error(str(exc))
    print(
        f"imported {args.path}: {result.added} added, {result.skipped} already known (same or newer answer), "
        f"{len(result.invalid)} invalid"
    )
    for line in result.invalid[:20]:
        print(f"  skipped {line}", file=sys.stderr)
    return EXIT_OK


@_reports_store_errors
def run_list(args: argparse.Namespace) -> int:
    import time

    for r in _learner().store.history(limit=max(1, args.limit)):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.timestamp))
        flag = "" if r.is_current else " (replaced)"
        print(
            f"#{r.id:<5} {when}  {r.original_category or '?'} → {r.corrected_category}{flag}  {r.texture_path}"
        )
    return EXIT_OK


def _describe_removal(learner: IncrementalLearner, removed: CorrectionRecord) -> None:
    now = learner.lookup(removed.texture_hash)
    state = f"now {now} (an earlier correction)" if now else "no longer corrected"
    print(
        f"removed correction #{removed.id} ({removed.texture_path} → {removed.corrected_category}); {state}"
    )


@_reports_store_errors
def run_undo(args: argparse.Namespace) -> int:
    learner = _learner(writes=True)
    removed = learner.undo_last_correction()
    if removed is None:
        print("nothing to undo")
        return EXIT_OK
    _describe_removal(learner, removed)
    return EXIT_OK


@_reports_store_errors
def run_remove(args: argparse.Namespace) -> int:
    learner = _learner(writes=True)
    removed = learner.remove_correction(args.id)
    if removed is None:
        return _error(f"no correction #{args.id}", EXIT_USAGE)
    _describe_removal(learner, removed)
    return EXIT_OK


@_reports_store_errors
def run_edit(args: argparse.Namespace) -> int:
    bad = _check_category(args.category, _manager(args.model).categories)
    if bad is not None:
        return bad
    updated = _learner(writes=True).edit_correction(args.id, args.category)
    if updated is None:
        return _error(f"no correction #{args.id}", EXIT_USAGE)
    print(f"correction #{updated.id} ({updated.texture_path}) is now {updated.corrected_category}")
    return EXIT_OK


# -- learning curve ------------------------------------------------------------------------------


def simulate_corrections(
    probs: np.ndarray,
    embeddings: np.ndarray | None,
    labels: np.ndarray,
    categories: list[str],
    ks=CURVE_KS,
    *,
    per: str = "predicted",
    hashes: list[str] | None = None,
    model_id: str | None = None,
    settings: LearnerSettings | None = None,
) -> list[dict]:
    """For each k: a fresh learner gets the k most confident wrong guesses per category corrected;
    → rows with top-1 accuracy on the uncorrected files, for the model alone and with the learner
    (confusion correction only, kNN only, both)."""
    settings = settings or LearnerSettings()
    variants = {
        "learner": settings,
        "confusion_only": dataclasses.replace(settings, use_knn=False),
        "knn_only": dataclasses.replace(settings, use_confusion=False),
    }
    predicted = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    group = predicted if per == "predicted" else labels
    wrong = np.flatnonzero(predicted != labels)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")]
    hashes = hashes or [f"row:{i}" for i in range(len(labels))]
    rows = []
    for k in ks:
        taken: dict[int, int] = {}
        chosen = []
        for i in wrong:
            if taken.get(group[i], 0) < k:
                taken[group[i]] = taken.get(group[i], 0) + 1
                chosen.append(int(i))
        records = [
            CorrectionRecord(
                texture_path=f"#{i}",
                texture_hash=hashes[i],
                corrected_category=categories[labels[i]],
                original_category=categories[predicted[i]],
                confidence=float(confidence[i]),
                timestamp=1.0 + n,
                model_id=model_id,
                embedding=None if embeddings is None else embeddings[i],
            )
            for n, i in enumerate(chosen)
        ]
        rest = np.setdiff1d(np.arange(len(labels)), chosen)
        row = {
            "k": k,
            "corrections": len(chosen),
            "remaining": len(rest),
            "model": float(np.mean(predicted[rest] == labels[rest])) if len(rest) else float("nan"),
        }
        for name, variant in variants.items():
            learner = IncrementalLearner(TrainingDataStore(":memory:"), settings=variant, model_id=model_id)
            learner.record_corrections(records)
            hits = 0
            for start in range(0, len(rest), 512):
                part = rest[start : start + 512]
                adjusted = learner.adjust_probabilities(
                    probs[part],
                    categories,
                    None if embeddings is None else embeddings[part],
                    [hashes[i] for i in part],
                )
                hits += int(np.sum(adjusted.argmax(axis=1) == labels[part]))
            row[name] = hits / len(rest) if len(rest) else float("nan")
            learner.store.close()
        rows.append(row)
    return rows


def _labelled_files(root: Path, categories: list[str]):
    from app.scan import scan_textures

    files, problems = scan_textures([root])
    labelled, unlabelled = [], 0
    index = {c: i for i, c in enumerate(categories)}
    for f in files:
        parts = Path(f.path).resolve().relative_to(root.resolve()).parent.parts
        # The deepest folder path that is a category id wins (map/normal/x.png → map/normal).
        label = next(
            (index["/".join(parts[:n])] for n in range(len(parts), 0, -1) if "/".join(parts[:n]) in index),
            None,
        )
        if label is None:
            unlabelled += 1
        else:
            labelled.append((f, label))
    return labelled, unlabelled, problems


def _parse_settings(pairs: list[str]) -> LearnerSettings:
    settings = LearnerSettings()
    fields = {f.name: f for f in dataclasses.fields(LearnerSettings)}
    changes = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in fields:
            raise ValueError(f"unknown learner setting {name!r}; known: {', '.join(fields)}")
        kind = type(getattr(settings, name))
        changes[name] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return dataclasses.replace(settings, **changes)


def run_curve(args: argparse.Namespace) -> int:
    from app.pipeline import classify_files

    root = Path(args.data)
    if not root.is_dir():
        return _error(f"{root}: not a folder", EXIT_USAGE)
    try:
        ks = sorted({int(k) for k in args.k.split(",") if k.strip()})
        settings = _parse_settings(args.set)
    except ValueError as exc:
        return _error(str(exc), EXIT_USAGE)
    manager = _manager(args.model)
    if manager.offline_model is None:
        return _error(f"cannot use model: {manager.offline_error}", EXIT_USAGE)
    categories = manager.categories
    labelled, unlabelled, problems = _labelled_files(root, categories)
    if not labelled:
        return _error(f"{root}: no textures in folders named by the model's categories", EXIT_USAGE)
    probs, embeddings, hashes, labels = [], [], [], []
    errors = 0
    files = [f for f, _ in labelled]
    label_of = {f.path: label for f, label in labelled}
    for batch in classify_files(files, manager, top_k=1, hashes=True, threads=args.threads):
        for result in batch:
            if result.error or result.probabilities is None:
                errors += 1
                continue
            probs.append(result.probabilities)
            embeddings.append(result.embedding)
            hashes.append(result.pixel_hash)
            labels.append(label_of[result.path])
    have_embeddings = all(e is not None for e in embeddings)
    rows = simulate_corrections(
        np.stack(probs),
        np.stack(embeddings) if have_embeddings else None,
        np.array(labels),
        categories,
        ks,
        per=args.per,
        hashes=hashes,
        model_id=manager.model_id,
        settings=settings,
    )
    print(
        f"{len(labels)} files in {len(set(labels))} categories ({errors} unreadable, {unlabelled} outside "
        f"category folders); model {manager.describe()}; corrections per {args.per} category"
        + ("" if have_embeddings else "; the model exports no embedding, so kNN cannot help")
    )
    print("\n| k | corrections | remaining | model alone | + confusion | + kNN | learner |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['k']} | {r['corrections']} | {r['remaining']} | {r['model']:.1%} | "
            f"{r['confusion_only']:.1%} | {r['knn_only']:.1%} | {r['learner']:.1%} |"
        )
    if args.json:
        document = {
            "data": str(root),
            "model": manager.describe(),
            "per": args.per,
            "files": len(labels),
            "settings": dataclasses.asdict(settings),
            "rows": rows,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return EXIT_OK
