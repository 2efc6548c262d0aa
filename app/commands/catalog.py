"""`texture-sorter catalog`: follow model catalogs, list and install their models, check for updates, publish one.

Exit status: 0 done (also when a catalog was offline and its cached copy was used: a note says
so), 1 refused or failed (the message names the catalog or package and the reason), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys

from ai.errors import PackageError
from ai.packages.catalog import CatalogEntry
from ai.packages.library import CatalogStatus, ModelLibrary
from ai.packages.publish import publish
from ai.packages.schema import version_key

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "catalog",
        help="model catalogs: add, list, install, updates, publish",
        description="Model catalogs are static index.json files (on a web server, a shared folder or "
        "file://) listing .ps2model packages. add URL|PATH: follow one; list [--refresh]: their models; "
        "install NAME[@VERSION]: download, check and install; updates: newer versions of installed "
        "models; publish DIR PACKAGE...: write or update DIR/index.json for upload; remove URL|PATH.",
    )
    p.add_argument("action", choices=("add", "remove", "list", "install", "updates", "publish"))
    p.add_argument("targets", nargs="*", metavar="ARG", help="URL|PATH, NAME[@VERSION] or DIR PACKAGE...")
    p.add_argument("--refresh", action="store_true", help="list: read the catalogs again (default: cached copy)")
    p.add_argument("--use", action="store_true", help="install: make it the active model")
    p.add_argument("--replace", action="store_true", help="install: reinstall that version if installed")
    p.add_argument("--install", action="store_true", help="updates: install every update found")
    p.add_argument("--auto", choices=("on", "off"), help="updates: turn the daily check at start-up on or off")
    p.add_argument("--name", help="publish: the catalog's name (default: the folder's, or the index's)")
    p.add_argument("--description", help="publish: the catalog's description")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="network timeout in seconds")
    p.add_argument("--json", action="store_true", help="list/updates: JSON output")
    p.set_defaults(func=run)


def _error(message: str, code: int = EXIT_FAILED) -> int:
    print(f"texture-sorter: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    library = ModelLibrary(timeout=args.timeout)
    handler = {"add": _add, "remove": _remove, "list": _list, "install": _install, "updates": _updates,
               "publish": _publish}[args.action]  # fmt: skip
    try:
        return handler(library, args)
    except PackageError as exc:
        return _error(str(exc))


def _one_target(args) -> str | None:
    if len(args.targets) != 1:
        return None
    return args.targets[0] or None


def _add(library: ModelLibrary, args) -> int:
    source = _one_target(args)
    if source is None:
        return _error("'catalog add' needs one URL or path", EXIT_USAGE)
    index = library.add(source)
    print(f"Added {index.name} ({index.url}): {len(index.entries)} models.")
    for problem in index.problems:
        print(f"  note: {problem}", file=sys.stderr)
    return EXIT_OK


def _remove(library: ModelLibrary, args) -> int:
    source = _one_target(args)
    if source is None:
        return _error("'catalog remove' needs one URL or path", EXIT_USAGE)
    print(f"No longer following {library.remove(source)}.")
    return EXIT_OK


def _report(statuses: list[CatalogStatus]) -> None:
    for status in statuses:
        if status.error:
            print(f"note: {status.describe()}", file=sys.stderr)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} KB"


def entry_status(entry: CatalogEntry, installed: dict[str, list[str]]) -> str:
    have = installed.get(entry.slug, [])
    if entry.version in have:
        return "installed"
    if not entry.compatible:
        return f"needs Texture Sorter {entry.min_app_version}"
    if have:
        newest = max(have, key=version_key)
        return f"update (have {newest})" if version_key(entry.version) > version_key(newest) else f"older (have {newest})"
    return ""


def _list(library: ModelLibrary, args) -> int:
    if args.targets:
        return _error("'catalog list' takes no arguments", EXIT_USAGE)
    statuses = library.statuses(refresh=args.refresh)
    if not statuses:
        print("You follow no catalogs yet; add one with: texture-sorter catalog add URL|PATH")
        return EXIT_OK
    _report(statuses)
    installed = library.installed_versions()
    entries = library.entries(statuses)
    if args.json:
        rows = [{**e.to_json(), "catalog": e.catalog, "status": entry_status(e, installed),
                 "signature_claim": library.claimed_signature(e).to_json()} for e in entries]  # fmt: skip
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    table = [("NAME", "VERSION", "AUTHOR", "CATEGORIES", "SIZE", "SIGNATURE", "STATUS")]
    for e in sorted(entries, key=lambda e: (e.slug, version_key(e.version))):
        claim = library.claimed_signature(e)
        signature = {"trusted": f"trusted: {claim.name}", "unknown": "unknown key", "unsigned": "unsigned"}[claim.state]
        table.append((e.name, e.version, e.author, str(len(e.categories)), _size(e.size), signature,
                      entry_status(e, installed)))  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


class _Bar:
    """A tqdm bar on stderr for one download (tqdm is already a dependency for the CLI)."""

    def __init__(self, label: str, total: int):
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="B", unit_scale=True, desc=label, file=sys.stderr, leave=False,
                        disable=not sys.stderr.isatty())  # fmt: skip

    def __call__(self, done: int, total: int) -> None:
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def _install_entry(library: ModelLibrary, entry: CatalogEntry, *, activate=False, replace=False) -> dict:
    bar = _Bar(f"{entry.name} {entry.version}", entry.size)
    try:
        result = library.install(entry, progress=bar, activate=activate, replace=replace)
    finally:
        bar.close()
    verb = "Reinstalled" if result["replaced"] else "Installed"
    print(f"{verb} {entry.name} {entry.version} from {entry.catalog_name or entry.catalog}: "
          f"{result['signature'].describe()}.")  # fmt: skip
    if result.get("upgraded_from"):
        print(f"Active model upgraded from {result['upgraded_from']} to {entry.version}; "
              f"{result['upgraded_from']} stays installed until you remove it.")  # fmt: skip
    elif result.get("active"):
        print("It is now the active model.")
    else:
        print(f"Use it with: texture-sorter models use {result['slug']}@{entry.version}")
    return result


def _install(library: ModelLibrary, args) -> int:
    target = _one_target(args)
    if target is None:
        return _error("'catalog install' needs NAME[@VERSION]", EXIT_USAGE)
    name, at, version = target.rpartition("@")
    if not at:
        name, version = target, ""
    if not name or (at and not version):
        return _error(f"{target!r}: write NAME[@VERSION], e.g. wood-expert@2.0", EXIT_USAGE)
    entry = library.find(name, version or None, refresh=True)
    _install_entry(library, entry, activate=args.use, replace=args.replace)
    return EXIT_OK


def _updates(library: ModelLibrary, args) -> int:
    if args.auto:
        library.set_auto_check(args.auto == "on")
        print(f"The daily update check at start-up is {args.auto}.")
        if not args.install and not args.targets:
            return EXIT_OK
    updates, statuses = library.check_for_updates()
    _report(statuses)
    if args.json:
        print(json.dumps([{"name": u.entry.name, "installed": u.installed.version, "available": u.entry.version,
                           "catalog": u.entry.catalog} for u in updates], indent=2, ensure_ascii=False))  # fmt: skip
    elif not updates:
        print("Your installed models are up to date." if statuses else "You follow no catalogs yet.")
    for update in updates:
        if not args.json:
            print(f"{update.entry.name}: {update.installed.version} → {update.entry.version} "
                  f"({update.entry.catalog_name})")  # fmt: skip
        if args.install:
            _install_entry(library, update.entry)
    if updates and not args.install and not args.json:
        print("Install with: texture-sorter catalog updates --install (or catalog install NAME)")
    return EXIT_OK


def _publish(library: ModelLibrary, args) -> int:
    if len(args.targets) < 2:
        return _error("'catalog publish' needs DIR and at least one PACKAGE", EXIT_USAGE)
    folder, packages = args.targets[0], args.targets[1:]
    index, added = publish(folder, packages, name=args.name, description=args.description, trust=library.trust)
    for entry in added:
        claim = library.claimed_signature(entry)
        print(f"Listed {entry.name} {entry.version} ({_size(entry.size)}, {claim.describe()})")
    print(f"Wrote {index.url} ({index.name}: {len(index.entries)} packages). Upload the folder as it is.")
    return EXIT_OK
