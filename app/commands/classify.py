"""`texture-sorter classify`: print or write per-file top-k categories for folders or files."""

from __future__ import annotations

import argparse
import sys
import time

from app.argtypes import positive_int
from app.context import create_manager
from app.pipeline import DEFAULT_BATCH, classify_folder
from app.results import json_text


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "classify",
        help="classify textures and print the top categories",
        description="Classify every texture under PATH (folders are searched recursively).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="texture files or folders")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", metavar="FILE", help="write a JSON array of results to FILE ('-' = stdout)")
    out.add_argument("--jsonl", metavar="FILE", help="write one JSON object per line to FILE ('-' = stdout)")
    p.add_argument("--top-k", type=positive_int, default=3, metavar="N", help="guesses per file (default 3)")
    p.add_argument("--model", metavar="FILE.onnx", help="use this ONNX model instead of the active one")
    p.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="workers, each decoding a batch then running the model (default: cores, 2–16)",
    )
    p.add_argument("--batch", type=positive_int, default=DEFAULT_BATCH, metavar="N", help="model batch size")
    p.add_argument("--providers", metavar="LIST", help="onnxruntime providers, e.g. cuda,cpu or dml,cpu")
    p.add_argument("--no-learn", action="store_true", help="ignore your corrections")
    p.add_argument("--no-rules", action="store_true", help="ignore your filename rules")
    p.add_argument("--online", action="store_true", help="also ask the configured online classifier")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    manager = create_manager(
        args.model,
        providers=args.providers,
        learn=not args.no_learn,
        rules=not args.no_rules,
        online=args.online,
    )
    if args.model and manager.offline_model is None:
        print(f"texture-sorter: cannot use model: {manager.offline_error}", file=sys.stderr)
        return 2
    target = args.json or args.jsonl
    stream = None
    if target:
        stream = sys.stdout if target == "-" else open(target, "w", encoding="utf-8")  # noqa: SIM115
    human = sys.stderr if target == "-" else sys.stdout
    files = errors = 0
    first = True
    started = time.perf_counter()
    try:
        if args.json:
            stream.write("[")
        for batch in classify_folder(
            args.paths, manager, top_k=args.top_k, batch_size=args.batch, threads=args.threads
        ):
            for result in batch:
                files += 1
                if result.error:
                    errors += 1
                    print(f"error: {result.path}: {result.error}", file=sys.stderr)
                if stream is not None:
                    text = json_text(result.to_json())
                    if args.json:
                        stream.write(("\n  " if first else ",\n  ") + text)
                    else:
                        stream.write(text + "\n")
                    first = False
                elif not result.error:
                    guesses = ", ".join(f"{p.category} {p.confidence:.0%}" for p in result.predictions)
                    print(f"{result.path}: {guesses}", file=human)
        if args.json:
            stream.write("\n]\n" if not first else "]\n")
    finally:
        if stream is not None and stream is not sys.stdout:
            stream.close()
        elif stream is sys.stdout:
            stream.flush()
    elapsed = max(time.perf_counter() - started, 1e-9)
    # A fallback to the pixel rules is the summary's news, not a detail in parentheses.
    model = manager.rules_notice() or manager.describe()
    print(
        f"{_count(files, 'file')}, {_count(errors, 'error')}, {files / elapsed:.1f} files/s ({model})",
        file=sys.stderr if target == "-" else human,
    )
    return 0


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
