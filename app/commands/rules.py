"""`texture-sorter rules …`: the user's filename/path rules (list, add, remove, mode, import, test).

Exit status: 0 done, 1 the saved or imported rules file is broken (the message says why),
2 bad arguments (unknown category, invalid pattern, missing file, no such rule).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ai.learning.user_rules import (
    COMBINE_MODES,
    UserRule,
    UserRulesError,
    load_rules_file,
    load_user_rules,
    save_user_rules,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "rules",
        help="filename/path rules: list, add, remove, mode, import, test",
        description="Rules map path patterns (glob, or re:REGEX) to categories, e.g. '*_nm.*' map/normal. "
        f"Modes: {', '.join(COMBINE_MODES)} (prior = a strong hint blended with the image model).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser("list", help="show the rules in order")
    a.set_defaults(func=run_rules_list)
    a = actions.add_parser("add", help="add a rule (at the end, or at position N)")
    a.add_argument("pattern", metavar="PATTERN")
    a.add_argument("category", metavar="CATEGORY")
    a.add_argument("--at", type=int, metavar="N", help="insert as rule N (1 = first)")
    a.add_argument("--model", metavar="FILE.onnx", help="check CATEGORY against this model")
    a.set_defaults(func=run_rules_add)
    a = actions.add_parser("remove", help="remove rule N")
    a.add_argument("number", type=int, metavar="N")
    a.set_defaults(func=run_rules_remove)
    a = actions.add_parser("mode", help="how rules combine with the image model")
    a.add_argument("mode", choices=COMBINE_MODES)
    a.set_defaults(func=run_rules_mode)
    a = actions.add_parser("import", help="replace the rules with a JSON or TOML file's")
    a.add_argument("path", metavar="FILE")
    a.set_defaults(func=run_rules_import)
    a = actions.add_parser("test", help="show which rule matches each path")
    a.add_argument("paths", nargs="+", metavar="PATH")
    a.set_defaults(func=run_rules_test)


def _error(message: str, code: int = EXIT_FAILED) -> int:
    print(f"texture-sorter: {message}", file=sys.stderr)
    return code


def _categories(model: str | None) -> list[str]:
    from ai.model_manager import ModelManager

    return ModelManager.create_default({"model_path": model} if model else {}).categories


def _rules_or_error():
    try:
        return load_user_rules(), None
    except UserRulesError as exc:
        return None, _error(f"{exc} (fix or import a rules file)")


def run_rules_list(args: argparse.Namespace) -> int:
    ruleset, failed = _rules_or_error()
    if ruleset is None:
        return failed
    print(
        f"mode: {ruleset.mode} (prior strength {ruleset.prior_strength:g}, "
        f"content wins above {ruleset.uncertain_below:.0%})"
    )
    if not ruleset.rules:
        print("no rules yet; add one with: texture-sorter rules add '*_nm.*' map/normal")
    for n, rule in enumerate(ruleset.rules, start=1):
        print(f"{n:>3}. {rule.pattern}  →  {rule.category}" + ("" if rule.enabled else "  (disabled)"))
    return EXIT_OK


def _save(ruleset) -> int:
    try:
        path = save_user_rules(ruleset)
    except UserRulesError as exc:
        return _error(str(exc), EXIT_USAGE)
    print(f"saved {len(ruleset.rules)} rules to {path}")
    return EXIT_OK


def run_rules_add(args: argparse.Namespace) -> int:
    ruleset, failed = _rules_or_error()
    if ruleset is None:
        return failed
    categories = _categories(args.model)
    if args.category not in categories:
        listing = "\n  ".join(categories)
        return _error(f"unknown category {args.category!r}; valid ids:\n  {listing}", EXIT_USAGE)
    rule = UserRule(args.pattern, args.category)
    try:
        rule.compile()
    except ValueError as exc:
        return _error(str(exc), EXIT_USAGE)
    position = len(ruleset.rules) if args.at is None else min(max(args.at, 1), len(ruleset.rules) + 1) - 1
    ruleset.rules.insert(position, rule)
    return _save(ruleset)


def run_rules_remove(args: argparse.Namespace) -> int:
    ruleset, failed = _rules_or_error()
    if ruleset is None:
        return failed
    if not 1 <= args.number <= len(ruleset.rules):
        return _error(f"no rule {args.number}; there are {len(ruleset.rules)}", EXIT_USAGE)
    removed = ruleset.rules.pop(args.number - 1)
    print(f"removed {removed.pattern} → {removed.category}")
    return _save(ruleset)


def run_rules_mode(args: argparse.Namespace) -> int:
    ruleset, failed = _rules_or_error()
    if ruleset is None:
        return failed
    ruleset.mode = args.mode
    return _save(ruleset)


def run_rules_import(args: argparse.Namespace) -> int:
    if not Path(args.path).is_file():
        return _error(f"{args.path}: file not found", EXIT_USAGE)
    try:
        ruleset = load_rules_file(args.path)
    except UserRulesError as exc:
        return _error(str(exc))
    return _save(ruleset)


def run_rules_test(args: argparse.Namespace) -> int:
    ruleset, failed = _rules_or_error()
    if ruleset is None:
        return failed
    for path in args.paths:
        rule = ruleset.match(path)
        number = ruleset.rules.index(rule) + 1 if rule else None
        print(f"{path}: " + (f"rule {number} ({rule.pattern}) → {rule.category}" if rule else "no rule"))
    return EXIT_OK
