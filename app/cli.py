"""`texture-sorter` command line: subcommands are discovered in app.commands; no arguments opens the GUI."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

import app.commands
from ai import __version__
from app.logsetup import setup_logging

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def build_parser() -> tuple[argparse.ArgumentParser, set[str]]:
    """The parser and the names of its subcommands."""
    parser = argparse.ArgumentParser(
        prog="texture-sorter",
        description="Sort folders of game textures into categories.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to the console")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(app.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"app.commands.{module_info.name}")
        module.register(subparsers)
    return parser, set(subparsers.choices)


def _launch_gui(paths: list[str]) -> int:
    try:
        from app.ui.main import run_gui
    except ImportError as exc:
        print(f"texture-sorter: the desktop window is not available ({exc}); see --help", file=sys.stderr)
        return EXIT_FAILED
    return run_gui(paths)


def _printable_streams() -> None:
    """A file name that is not UTF-8 is printed escaped (\\udce9) instead of stopping the command.

    Python keeps such names with surrogate escapes; a strict UTF-8 console (PYTHONIOENCODING=utf-8,
    Windows pipes) would raise UnicodeEncodeError at the first print. A console already writing
    the raw bytes (surrogateescape, the C locale) is left as it is.
    """
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    _printable_streams()
    if not argv:
        # The window, at once: building the parser imports every subcommand (about 0.9 s here).
        setup_logging()
        return _launch_gui(argv)
    parser, known = build_parser()
    # `texture-sorter PATH` (or a double-clicked file) opens the GUI on it.
    if argv[0] not in known and not argv[0].startswith("-"):
        setup_logging()
        return _launch_gui(argv)
    args = parser.parse_args(argv)
    setup_logging(verbose=args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or EXIT_OK)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
