"""`texture-sorter sort | undo | resume`: classify a folder and copy/move it into category folders.

`sort` plans first (shown with --dry-run, saved with --plan-out), then applies the plan with a
journal; `undo OUT` reverses the last sort into OUT; `resume OUT` finishes an interrupted sort
(or, with --rollback, reverses what it had done).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from ai.errors import SortError
from app.argtypes import fraction, positive_int
from app.sorting.apply import iter_apply
from app.sorting.dedupe import DEDUPE_MODES, DEFAULT_NEAR_THRESHOLD
from app.sorting.journal import unfinished_sorts
from app.sorting.outcomes import OutcomeStream, SortSummary, run_to_summary
from app.sorting.plan import (
    DEFAULT_UNSORTED,
    DUPLICATE_POLICIES,
    LAYOUTS,
    SortPlan,
    build_plan,
    write_manifest,
)
from app.sorting.resume import iter_resume
from app.sorting.undo import iter_rollback, iter_undo

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_SHOWN_PROBLEMS = 20


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sort",
        help="sort textures into category folders (copy or move)",
        description=(
            "Classify every texture under PATH and copy or move it to OUT/<category>/. Nothing is ever "
            "overwritten or renamed: a name taken in a folder goes to a numbered _clash-N subfolder. "
            "Every operation is journaled in OUT/.texture-sorter/, so `undo` and `resume` always work."
        ),
    )
    p.add_argument("path", metavar="PATH", help="folder of textures (searched recursively)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (may be inside PATH)")
    p.add_argument(
        "--mode", choices=("copy", "move"), default="copy", help="copy (default) or move the files"
    )
    p.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    p.add_argument("--plan-out", metavar="FILE", help="save the plan (with duplicate groups) as JSON")
    p.add_argument(
        "--min-confidence", type=fraction, default=0.0, metavar="X",
        help="below this confidence (0-1) a file goes to the unsorted folder instead of a guess",
    )  # fmt: skip
    p.add_argument("--unsorted-name", default=DEFAULT_UNSORTED, metavar="NAME", help="unsorted folder name")
    p.add_argument("--layout", choices=LAYOUTS, default="category",
                   help="category (default); category-format (map/normal/BC5/); structure (source folders "
                        "under each category); flat (one folder per category, map-normal/)")  # fmt: skip
    p.add_argument("--keep-structure", action="store_true", help="same as --layout structure")
    p.add_argument(
        "--dedupe",
        choices=DEDUPE_MODES,
        default="off",
        help="group exact duplicates (same pixels) or near duplicates (mips, resized, padded copies)",
    )
    p.add_argument("--duplicates", choices=DUPLICATE_POLICIES, default="separate",
                   help="separate: one per group sorted, the rest to OUT/_duplicates/<group>/; together: a "
                        "whole group in the category of its largest member")  # fmt: skip
    p.add_argument(
        "--near-threshold", type=int, default=DEFAULT_NEAR_THRESHOLD, metavar="BITS",
        help=f"hash bits near duplicates may differ by (default {DEFAULT_NEAR_THRESHOLD}; higher finds more, "
        "and more look-alikes)",
    )  # fmt: skip
    p.add_argument("--manifest-only", action="store_true",
                   help="write OUT/texture-sorter-manifest.csv and .json; touch no texture")  # fmt: skip
    p.add_argument("--model", metavar="FILE.onnx", help="use this ONNX model instead of the active one")
    p.add_argument("--threads", type=positive_int, metavar="N", help="worker threads (default: cores, 2–16)")
    p.set_defaults(func=run_sort)

    u = subparsers.add_parser(
        "undo",
        help="undo the last sort into a folder",
        description="Move every file of the last sort into DIR back, and delete the copies it made "
        "(only copies still exactly as written; anything else is kept and reported).",
    )
    u.add_argument("out", metavar="DIR", help="the output folder of the sort")
    u.set_defaults(func=run_undo)

    r = subparsers.add_parser(
        "resume",
        help="finish (or roll back) a sort that was interrupted",
        description="Finish an interrupted sort into DIR where it stopped, or with --rollback put back "
        "everything it had done.",
    )
    r.add_argument("out", metavar="DIR", help="the output folder of the interrupted sort")
    r.add_argument(
        "--rollback", action="store_true", help="undo the interrupted sort instead of finishing it"
    )
    r.set_defaults(func=run_resume)


def _err(message: str) -> None:
    print(f"texture-sorter: {message}", file=sys.stderr)


def _progress_bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="file", file=sys.stderr, disable=not sys.stderr.isatty(),
                dynamic_ncols=True, leave=False)  # fmt: skip


def run_sort(args: argparse.Namespace) -> int:
    source = os.path.abspath(args.path)
    out = os.path.abspath(args.out)
    if not os.path.exists(source):
        _err(f"{source}: no such file or folder")
        return EXIT_USAGE
    if args.keep_structure and args.layout not in ("category", "structure"):
        _err("--keep-structure cannot be combined with --layout " + args.layout)
        return EXIT_USAGE
    layout = "structure" if args.keep_structure else args.layout
    touches_files = not (args.dry_run or args.manifest_only)
    if touches_files and os.path.isdir(out):
        try:
            pending = unfinished_sorts(out)
        except SortError as exc:
            _err(str(exc))
            return EXIT_FAILED
        if pending:
            _err(f"a sort into {out} was interrupted. Finish it with `texture-sorter resume {out}` "
                 f"or undo it with `texture-sorter resume --rollback {out}`.")  # fmt: skip
            return EXIT_FAILED

    started = time.perf_counter()
    results = _classify(args, source, out)
    if results is None:
        return EXIT_USAGE
    root = source if os.path.isdir(source) else os.path.dirname(source)
    try:
        plan = build_plan(
            results, out, source_root=root, mode=args.mode, layout=layout, min_confidence=args.min_confidence,
            unsorted_name=args.unsorted_name, dedupe=args.dedupe, duplicates=args.duplicates,
            near_threshold=args.near_threshold,
        )  # fmt: skip
    except SortError as exc:
        _err(str(exc))
        return EXIT_USAGE
    _print_plan(plan, verbose=args.dry_run)
    if args.plan_out:
        plan.save(args.plan_out)
        print(f"plan written to {args.plan_out}")
    if args.manifest_only:
        csv_path, json_path = write_manifest(plan)
        print(f"manifest written: {csv_path}, {json_path} (no texture was touched)")
        return EXIT_OK
    if args.dry_run:
        print("dry run: nothing was changed")
        return EXIT_OK
    summary = _drive(iter_apply(plan), plan.out_dir, "sorting")
    if summary is None:
        return EXIT_FAILED
    summary.elapsed_s = time.perf_counter() - started
    _print_summary(summary, "sorted")
    print(f"undo with: texture-sorter undo {plan.out_dir}")
    return EXIT_FAILED if summary.counts["error"] else EXIT_OK


def _classify(args, source: str, out: str):
    from ai.model_manager import ModelManager
    from app.pipeline import classify_folder

    manager = ModelManager.create_default({"model_path": args.model} if args.model else {})
    if args.model and manager.offline_model is None:
        _err(f"cannot use model: {manager.offline_error}")
        return None
    results = []
    bar = _progress_bar(0, "classifying")
    try:

        def progress(p) -> None:
            bar.total = p.total
            bar.n = p.done
            bar.refresh()

        hashes = args.dedupe != "off"
        for batch in classify_folder([source], manager, exclude=[out], threads=args.threads, hashes=hashes,
                                     progress=progress):  # fmt: skip
            results.extend(batch)
    finally:
        bar.close()
    errors = sum(1 for r in results if r.error)
    print(f"classified {len(results) - errors} textures with {manager.rules_notice() or manager.describe()}"
          + (f"; {errors} could not be read" if errors else ""))  # fmt: skip
    return results


def _print_plan(plan: SortPlan, *, verbose: bool) -> None:
    verb = "move" if plan.mode == "move" else "copy"
    print(f"plan: {verb} {len(plan.entries)} files into {plan.out_dir} ({plan.layout} layout)")
    for folder, n in sorted(plan.counts().items(), key=lambda kv: (-kv[1], kv[0]))[: 30 if verbose else 12]:
        print(f"  {n:6d}  {folder}/")
    if plan.groups:
        members = sum(len(g.members) for g in plan.groups)
        print(f"  {len(plan.groups)} duplicate groups ({members} files; {plan.dedupe}, {plan.duplicates})")
    for skipped in plan.skipped[:_SHOWN_PROBLEMS]:
        print(f"  left in place: {skipped.path}: {skipped.reason}")
    if len(plan.skipped) > _SHOWN_PROBLEMS:
        print(f"  … and {len(plan.skipped) - _SHOWN_PROBLEMS} more left in place")
    if verbose:
        for entry in plan.entries:
            print(f"  {entry.source} -> {entry.dest}")


def _drive(outcomes: OutcomeStream, out_dir: str, desc: str) -> SortSummary | None:
    """Run a sort/undo/resume to the end with a progress bar; None (after a message) if it could not."""
    bar = _progress_bar(0, desc)

    def progress(done: int, total: int, _path: str) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        return run_to_summary(outcomes, out_dir, progress=progress)
    except SortError as exc:
        _err(str(exc))
        return None
    except KeyboardInterrupt:
        _err(f"interrupted. Finish with `texture-sorter resume {out_dir}` or undo with "
             f"`texture-sorter resume --rollback {out_dir}`.")  # fmt: skip
        raise
    finally:
        bar.close()


def _print_summary(summary: SortSummary, what: str) -> None:
    print(f"{what}: {summary.describe()}")
    for problem in summary.problems[:_SHOWN_PROBLEMS]:
        print(f"  {problem.status}: {problem.source}: {problem.reason}")
    if len(summary.problems) > _SHOWN_PROBLEMS:
        print(f"  … and {len(summary.problems) - _SHOWN_PROBLEMS} more (see the log)")


def run_undo(args: argparse.Namespace) -> int:
    out = os.path.abspath(args.out)
    summary = _drive(iter_undo(out), out, "undoing")
    if summary is None:
        return EXIT_FAILED
    _print_summary(summary, f"undid sort {summary.sort_id}")
    return EXIT_FAILED if summary.counts["error"] else EXIT_OK


def run_resume(args: argparse.Namespace) -> int:
    out = os.path.abspath(args.out)
    try:
        pending = unfinished_sorts(out)
    except SortError as exc:
        _err(str(exc))
        return EXIT_FAILED
    if not pending:
        print(f"nothing to resume in {out}")
        return EXIT_OK
    outcomes = iter_rollback(out) if args.rollback else iter_resume(out)
    summary = _drive(outcomes, out, "rolling back" if args.rollback else "resuming")
    if summary is None:
        return EXIT_FAILED
    _print_summary(summary, "rolled back" if args.rollback else "resumed")
    return EXIT_FAILED if summary.counts["error"] else EXIT_OK
