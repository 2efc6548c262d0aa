"""Start-up time of the frozen app: process start to a visible main window (or to `--help` done).

    python build/measure.py [--runs 5] [--cli] [--drop-caches] [--onefile] [--dev] [--platform offscreen]

GUI mode starts the executable with TEXTURE_SORTER_EXIT_AFTER_SHOWN=1; the GUI prints
`TEXTURE_SORTER_SHOWN <unix time>` when its main window is first shown and quits. The figure is
that time minus the moment just before the process was spawned. `--cli` times `texture-sorter
--help` to exit instead (imports every subcommand). `--drop-caches` (root, Linux) empties the page
cache before each run, so every run is a true cold start; without it only the first run is cold.
`--dev` times the program from this checkout with the running Python (`python -m app.cli`, a
development install) instead of a build; its budget is DEV_START_BUDGET_S.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUILD_DIR = Path(__file__).resolve().parent

import bundle_rules as rules  # noqa: E402  (build/ is sys.path[0] when run as a script)

from build import DIST, executable_path  # noqa: E402

START_BUDGET_S = 1.5
DEV_START_BUDGET_S = 2.0  # from source: Python compiles nothing (the .pyc files exist) but finds more files
DEV_COMMAND = [sys.executable, "-m", "app.cli"]


class MeasureError(Exception):
    pass


def drop_page_cache() -> None:
    subprocess.run(["sync"], check=True)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as exc:
        raise MeasureError(
            f"cannot drop the page cache ({exc}); run as root on Linux or leave out --drop-caches"
        ) from None


def time_gui_start(command: list[str], env: dict[str, str], timeout: float = 60) -> float:
    """Seconds from spawning the program to its SHOWN line's timestamp."""
    env = {**env, rules.EXIT_AFTER_SHOWN_ENV: "1"}
    start = time.time()
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise MeasureError(f"no {rules.SHOWN_MARKER} line within {timeout:.0f} s") from None
    for line in out.splitlines():
        if line.startswith(rules.SHOWN_MARKER):
            return float(line.split()[1]) - start
    if "the desktop window is not available" in err:
        raise MeasureError(f"GUI not available in this build: {err.strip()}")
    raise MeasureError(
        f"the GUI exited {proc.returncode} without a {rules.SHOWN_MARKER} line (is {rules.EXIT_AFTER_SHOWN_ENV} "
        f"honoured?)\nstderr: {err[-1000:]}"
    )


def time_cli_help(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([*command, "--help"], check=True, capture_output=True, env=env, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(command: list[str], runs: int, cli: bool, drop_caches: bool, platform: str) -> list[float]:
    """Start times on an empty profile (a fresh TEXTURE_SORTER_HOME)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TEXTURE_SORTER_"))}
    if command == DEV_COMMAND:
        env["PYTHONPATH"] = str(BUILD_DIR.parent)  # this checkout, also without an editable install
    times = []
    with tempfile.TemporaryDirectory(prefix="texture-sorter-measure-") as home:
        env.update(QT_QPA_PLATFORM=platform, TEXTURE_SORTER_HOME=home)
        for _ in range(runs):
            if drop_caches:
                drop_page_cache()
            times.append(time_cli_help(command, env) if cli else time_gui_start(command, env))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cli", action="store_true", help="time `--help` instead of the main window")
    parser.add_argument("--drop-caches", action="store_true", help="cold page cache before every run (root)")
    parser.add_argument("--onefile", action="store_true", help="measure the onefile build")
    parser.add_argument("--dev", action="store_true", help="measure `python -m app.cli` from this checkout")
    parser.add_argument(
        "--platform", default="offscreen", help="QT_QPA_PLATFORM for the GUI (default offscreen)"
    )
    args = parser.parse_args(argv)
    if args.dev:
        command, kind, budget = DEV_COMMAND, "dev", DEV_START_BUDGET_S
    else:
        executable = executable_path(args.onefile)
        if not executable.is_file():
            print(f"measure: no build at {executable}; run python build/build.py first", file=sys.stderr)
            return 1
        command, kind, budget = [str(executable)], "onefile" if args.onefile else "onedir", START_BUDGET_S
    what = "`--help` to exit" if args.cli else "start to visible main window"
    try:
        times = measure(command, args.runs, args.cli, args.drop_caches, args.platform)
    except MeasureError as exc:
        print(f"measure: {exc}", file=sys.stderr)
        return 1
    cache = "cold cache every run" if args.drop_caches else "first run cold-ish, then warm cache"
    print(f"{kind} {what}, {args.runs} runs ({cache}): " + ", ".join(f"{t:.2f}" for t in times) + " s")
    print(f"  first {times[0]:.2f} s, median {statistics.median(times):.2f} s, max {max(times):.2f} s")
    if not args.cli:
        verdict = "within" if max(times) <= budget else "OVER"
        print(f"  {verdict} the {budget} s budget (max)")
    report = DIST / f"start-{kind}-{'cli' if args.cli else 'gui'}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({"what": what, "cache": cache, "seconds": times}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
