"""Entry point of the frozen app: runs `texture-sorter` (app.cli.main) inside the PyInstaller bundle."""

from __future__ import annotations

import os
import sys

# Qt's own option for the platform plugin (bundle_rules.QT_PLATFORM_OPTION; this file is frozen
# alone, so the name is repeated here).
QT_PLATFORM_OPTION = "-platform"


def take_qt_platform(argv: list[str]) -> tuple[str | None, list[str]]:
    """`-platform NAME …` at the start of the arguments → (NAME, the other arguments)."""
    if len(argv) >= 2 and argv[0] == QT_PLATFORM_OPTION:
        return argv[1], argv[2:]
    return None, argv


def _main() -> int:
    # The windowed Windows build has no console: sys.stdout/stderr are None there, and a print()
    # or a log line would raise. Send them to the null device instead (the log file still works).
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 (lives as long as the process)
    # `TextureSorter.exe -platform offscreen [PATH]`, as any Qt program takes it: Wine passes no
    # QT_* variable on to Windows programs, so this is how the smoke test starts the GUI headless.
    platform, rest = take_qt_platform(sys.argv[1:])
    if platform is not None:
        os.environ["QT_QPA_PLATFORM"] = platform
        sys.argv[1:] = rest
    # Code that restarts the app as `sys.executable -m app.cli …` (serve-bench starts a server that
    # way) gets the same behaviour from the frozen executable, whose sys.executable is itself.
    if sys.argv[1:3] == ["-m", "app.cli"]:
        del sys.argv[1:3]
    # Model packages are checked by `sys.executable -m ai.packages.model_check …` in a child.
    if sys.argv[1:3] == ["-m", "ai.packages.model_check"]:
        from ai.packages.model_check import main as check_model

        return check_model(sys.argv[3:])
    from app.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
