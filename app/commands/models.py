"""`texture-sorter import-model`, `export-model` and `models`: share, install and choose classifiers.

Exit status: 0 done, 1 the package or model was refused (the message says why), 2 bad arguments
(including argument files that are missing or unreadable).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ai.errors import PackageError
from ai.packages.exporter import ModelExporter, ModelImporter
from ai.packages.keys import KeyStore
from ai.packages.registry import ModelRecord, ModelRegistry
from ai.packages.schema import RESERVED_NAMES, slugify
from ai.packages.signing import sign_package

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "import-model",
        help="install a .ps2model package",
        description="Check a .ps2model package and install it into your models folder.",
    )
    p.add_argument("package", metavar="FILE", help="the .ps2model file")
    p.add_argument("--replace", action="store_true", help="reinstall when this name and version is installed")
    p.add_argument("--use", action="store_true", help="make it the active model")
    p.set_defaults(func=run_import)

    p = subparsers.add_parser(
        "export-model",
        help="package an ONNX classifier as a .ps2model file",
        description="Write MODEL.onnx and its description as a .ps2model package others can import.",
    )
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("--out", required=True, metavar="FILE", help="package to write (e.g. mine.ps2model)")
    p.add_argument("--name", required=True, help="display name, e.g. 'PS2 racing textures'")
    p.add_argument("--version", required=True, help="model version, e.g. 1.0")
    p.add_argument("--author", default="")
    p.add_argument("--description", default="")
    p.add_argument("--license", default="", help="e.g. CC-BY-4.0")
    p.add_argument("--tags", default="", metavar="A,B", help="comma-separated tags")
    p.add_argument(
        "--categories", metavar="FILE.json", help="JSON list of category ids (default: the model's own)"
    )
    p.add_argument("--training-data", metavar="FILE.json", help="JSON file to ship as training_data.json")
    p.add_argument("--readme", metavar="FILE.md", help="text file to ship as README.md")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--sign", metavar="KEY", help="sign the package with your key (name or id: `keys list`)")
    p.set_defaults(func=run_export)

    p = subparsers.add_parser(
        "models",
        help="list, choose, remove installed models; how well they do on your textures",
        description="list: show installed models (* = active); use NAME[@VERSION]: choose the active "
        "model (newest version if none given; 'default' = built-in); remove NAME@VERSION: uninstall; "
        "stats [NAME]: accuracy of each model's first guesses on the textures you corrected, per "
        "category precision/recall, the most confused pairs and what the learner added.",
    )
    p.add_argument("action", nargs="?", default="list", choices=("list", "use", "remove", "stats"))
    p.add_argument("target", nargs="?", metavar="NAME[@VERSION]")
    p.add_argument("--json", action="store_true", help="list or stats as JSON")
    p.set_defaults(func=run_models)


def _error(message: str, code: int = EXIT_FAILED) -> int:
    print(f"texture-sorter: {message}", file=sys.stderr)
    return code


def run_import(args: argparse.Namespace) -> int:
    if not Path(args.package).is_file():
        return _error(f"{args.package}: file not found", EXIT_USAGE)
    try:
        result = ModelImporter().import_model(args.package, replace=args.replace, activate=args.use)
    except PackageError as exc:
        return _error(f"import refused: {exc}")
    meta = result["metadata"]
    verb = "Reinstalled" if result["replaced"] else "Installed"
    print(
        f"{verb} {meta['name']} {meta['version']} ({meta['categories']} categories) in {result['install_dir']}"
    )
    print(f"The package is {result['signature'].describe()}.")
    if result["upgraded_from"]:
        print(f"Active model upgraded from {result['upgraded_from']} to {meta['version']}.")
    elif result["active"]:
        print("It is now the active model.")
    else:
        print(f"Use it with: texture-sorter models use {result['slug']}@{meta['version']}")
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    if not Path(args.model).is_file():
        return _error(f"{args.model}: file not found", EXIT_USAGE)
    try:
        categories = _read_json_arg(args.categories, "--categories")
        training = _read_json_arg(args.training_data, "--training-data")
        readme = _read_text_arg(args.readme, "--readme")
    except ValueError as exc:
        return _error(str(exc), EXIT_USAGE)
    if categories is not None and not (
        isinstance(categories, list) and all(isinstance(c, str) for c in categories)
    ):
        return _error(f"{args.categories}: must be a JSON list of category ids", EXIT_USAGE)
    tags = [t.strip() for t in args.tags.split(",") if t.strip()]
    keys = KeyStore()
    if args.sign:
        try:
            keys.signing_key(args.sign)  # before anything is written: a typo must not leave an unsigned file
        except PackageError as exc:
            return _error(f"--sign: {exc}", EXIT_USAGE)
    try:
        meta = ModelExporter().export_model(
            args.model,
            args.out,
            args.name,
            args.version,
            author=args.author,
            categories=categories,
            description=args.description,
            license=args.license,
            tags=tags,
            training_data=training,
            readme=readme,
            overwrite=args.force,
        )
        signature = sign_package(args.out, args.sign, keys) if args.sign else None
    except PackageError as exc:
        return _error(f"export failed: {exc}")
    print(
        f"Wrote {args.out}: {meta['name']} {meta['version']}, {meta['categories']} categories, "
        f"sha256 {meta['model_hash'][:12]}…, {signature.describe() if signature else 'unsigned'}"
    )
    return EXIT_OK


def _read_text_arg(path: str | None, option: str) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{option} {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{option} {path}: cannot read it as UTF-8 text ({exc})") from None


def _read_json_arg(path: str | None, option: str):
    text = _read_text_arg(path, option)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{option} {path}: not valid JSON ({exc})") from None


def run_models(args: argparse.Namespace) -> int:
    registry = ModelRegistry()
    if args.action == "stats":
        from app.analytics import run_stats

        return run_stats(registry, args.target, args.json)
    if args.action == "list":
        if args.target:
            return _error("'models list' takes no NAME", EXIT_USAGE)
        return _list(registry, args.json)
    usage = "NAME@VERSION" if args.action == "remove" else "NAME[@VERSION]"
    if not args.target:
        return _error(f"'models {args.action}' needs {usage}", EXIT_USAGE)
    name, at, version = args.target.rpartition("@")
    if not at:
        name, version = args.target, ""
    if not name or (at and not version):
        return _error(f"{args.target!r}: write {usage}, e.g. my-model@1.0", EXIT_USAGE)
    if args.action == "remove" and not version and slugify(name) not in RESERVED_NAMES:
        return _error("'models remove' needs the version too: NAME@VERSION", EXIT_USAGE)
    try:
        if args.action == "use":
            print(f"Active model: {_label(registry.set_active(name, version or None))}")
            return EXIT_OK
        removed, now_active = registry.remove(name, version)
    except PackageError as exc:
        return _error(str(exc))
    print(f"Removed {_label(removed)}")
    if now_active is not None:
        print(f"Active model is now {_label(now_active)}")
    return EXIT_OK


def _list(registry: ModelRegistry, as_json: bool) -> int:
    records = registry.list_models()
    upgrades = registry.upgrades()
    if as_json:
        rows = [
            {**r.to_json(), "newer_version": upgrades[r.key].version if r.key in upgrades else None}
            for r in records
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    table = [("", "NAME", "VERSION", "AUTHOR", "CATEGORIES", "SIZE", "SOURCE")]
    for r in records:
        size = _size(r.size) if r.available else "missing"
        table.append(
            ("*" if r.active else "", r.name, r.version, r.author, str(len(r.categories)), size, r.source)
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for r in records:
        if r.active and r.key in upgrades:
            newer = upgrades[r.key]
            print(
                f"\nNewer version installed: {newer.name} {newer.version}; "
                f"switch with: texture-sorter models use {newer.slug}@{newer.version}"
            )
    return EXIT_OK


def _label(record: ModelRecord) -> str:
    return f"{record.name} {record.version}" + (" (built-in)" if record.builtin else "")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
