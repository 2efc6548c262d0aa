"""The Windows smoke test under Wine: every frozen-app step of build/smoke_test.py, then the installer's.

    python build/smoke_test.py --target windows [--rebuild | --no-build] [--keep]

It runs in a fresh Wine prefix that has no Python, as a user's Windows has none: the console
texture-sorter.exe does the CLI steps and the GUI steps (`-platform offscreen`: Wine passes no QT_*
variable on), whose classify answers must match the Linux source run's top-1 per file; the
windowed TextureSorter.exe starts and quits; the GUI's start time is measured. Then the setup.exe
installs silently (Start menu, .ps2model association), the installed app runs, opens a package and
records a correction, and the silent uninstall removes the app but keeps that data (and deletes
it with /DELETEUSERDATA).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bundle_rules as rules
from smoke_test import (
    FIXTURES,
    FrozenApp,
    SmokeFailure,
    SmokeTest,
    expected_commands,
    fixture_textures,
    sha256_of,
)

from build import ROOT, WINDOWS_DIST, newest_source_mtime
from windows import installer, toolchain

APP_FOLDER = "Game Texture Sorter"  # DefaultDirName's last part in installer/texture_sorter.iss
START_RUNS = 3


class WineApp(FrozenApp):
    """A frozen Windows executable run with `wine` in one prefix."""

    gui_args = (rules.QT_PLATFORM_OPTION, "offscreen")

    def __init__(self, executable: Path, home: Path | None, wine: toolchain.Wine):
        self.wine = wine
        super().__init__(executable, home or wine.prefix)
        self.env = wine.env({} if home is None else {"TEXTURE_SORTER_HOME": self.path(home)})

    def path(self, path: Path) -> str:
        return toolchain.windows_path(path)

    def command(self, *args: str) -> list[str]:
        return ["wine", str(self.executable), *args]

    def stop_all(self) -> None:
        # Killing `wine` leaves the Windows program and its children running in the prefix, and
        # every later `wineserver -w` would wait for them.
        self.wine.kill()


def linux_top1(work: Path) -> dict[str, str]:
    """{fixture path: top-1 category} of the app run from source on Linux (this Python)."""
    out = work / "classify-linux.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TEXTURE_SORTER_"))}
    env.update(QT_QPA_PLATFORM="offscreen", TEXTURE_SORTER_HOME=str(work / "home-linux"))
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "classify", str(FIXTURES), "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SmokeFailure(f"the Linux run of classify failed:\n{proc.stderr[-1500:]}")
    return {
        row["path"]: row["predictions"][0]["category"] for row in json.loads(out.read_text(encoding="utf-8"))
    }


class WindowsSmokeTest(SmokeTest):
    def __init__(self, onedir: Path, setup_exe: Path, work: Path):
        self.onedir = onedir
        self.setup_exe = setup_exe
        self.wine = toolchain.Wine(work / "prefix")  # a fresh user's Windows: no Python in it
        self.wine.boot()
        home = work / "home"
        home.mkdir(parents=True, exist_ok=True)
        cli = onedir / f"{rules.WINDOWS_CLI_NAME}.exe"
        super().__init__(WineApp(cli, home, self.wine), onedir / "_internal", work)
        self.start_times: list[float] = []
        self.prog_id = "TextureSorter.ps2model"  # what the install step finds in the registry

    # --- the frozen app ---------------------------------------------------------------------
    def top1_matches_linux(self) -> str:
        # Its own user folder: the export/import step made the tiny test model the active one.
        home = self.work / "home-top1"
        out = self.work / "classify-win.json"
        self.app.check("classify", self.app.path(FIXTURES), "--json", self.app.path(out),
                       extra_env={"TEXTURE_SORTER_HOME": self.app.path(home)})  # fmt: skip
        rows = json.loads(out.read_text(encoding="utf-8"))
        windows = {row["path"]: row["predictions"][0]["category"] for row in rows if row["predictions"]}
        linux = {self.app.path(Path(path)): top for path, top in linux_top1(self.work).items()}
        differ = sorted(path for path in linux if windows.get(path) != linux[path])
        if differ or len(windows) != len(linux):
            first = differ[0] if differ else "-"
            raise SmokeFailure(
                f"top-1 differs from the Linux run for {len(differ)} of {len(linux)} files (Windows "
                f"answered {len(windows)}), e.g. {first}: Windows {windows.get(first)}, Linux {linux.get(first)}"
            )
        return f"top-1 equal for all {len(linux)} files"

    def windowed_exe_starts(self) -> str:
        gui = WineApp(self.onedir / f"{rules.WINDOWS_GUI_NAME}.exe", self.app.home, self.wine)
        proc = gui.run(*gui.gui_args, timeout=90, extra_env={rules.EXIT_AFTER_SHOWN_ENV: "1"})
        if proc.returncode != 0 or not gui.last_modules or "app.ui.main_window" not in gui.last_modules:
            raise SmokeFailure(
                f"{gui.executable.name} exited {proc.returncode} without opening its main window"
            )
        return f"{gui.executable.name} opened its main window and quit (no console: nothing printed)"

    def gui_start_time(self) -> str:
        """Process start → main window shown, under Wine (the first run pays for a cold page cache)."""
        times = []
        for _ in range(START_RUNS):
            start = time.time()
            proc = self.app.run(*self.app.gui_args, timeout=90, extra_env={rules.EXIT_AFTER_SHOWN_ENV: "1"})
            shown = [line for line in proc.stdout.splitlines() if line.startswith(rules.SHOWN_MARKER)]
            if not shown:
                raise SmokeFailure(f"no {rules.SHOWN_MARKER} line (exit {proc.returncode})")
            times.append(float(shown[0].split()[1]) - start)
        self.start_times = times
        return f"{', '.join(f'{t:.2f}' for t in times)} s (median {statistics.median(times):.2f} s)"

    # --- the installer ----------------------------------------------------------------------
    def _local_appdata(self) -> Path:
        return self.wine.users_dirs()[0] / "AppData" / "Local"

    def _install_dir(self) -> Path:
        return self._local_appdata() / "Programs" / APP_FOLDER

    def _user_data(self) -> Path:
        return self._local_appdata() / "texture-sorter"

    def _reg_value(self, key: str) -> str | None:
        proc = self.wine.run(["reg", "query", key, "/ve"])
        for line in proc.stdout.splitlines():
            if "REG_SZ" in line:
                value = line.split("REG_SZ", 1)[1].strip()
                return None if value == "(value not set)" else value
        return None

    def _install(self) -> None:
        log = self.work / "install.log"
        proc = self.wine.run([self.app.path(self.setup_exe), "/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART",
                              f"/LOG={self.app.path(log)}"], timeout=300)  # fmt: skip
        self.wine.wait()
        if proc.returncode != 0:
            tail = (
                log.read_text(encoding="utf-8", errors="replace")[-1500:]
                if log.is_file()
                else proc.stderr[-800:]
            )
            raise SmokeFailure(f"{self.setup_exe.name} /VERYSILENT exited {proc.returncode}:\n{tail}")

    def _uninstall(self, *extra: str) -> None:
        uninstaller = self._install_dir() / "unins000.exe"
        if not uninstaller.is_file():
            raise SmokeFailure(f"no uninstaller at {uninstaller}")
        proc = self.wine.run(
            [self.app.path(uninstaller), "/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART", *extra]
        )
        self.wine.wait()  # the uninstaller starts a copy of itself from %TEMP% and returns at once
        if proc.returncode != 0:
            raise SmokeFailure(f"unins000.exe exited {proc.returncode}: {proc.stderr[-800:]}")

    def installer_installs_silently(self) -> str:
        self._install()
        folder = self._install_dir()
        missing = [
            name for name in (*rules.executable_names("win32"), "_internal") if not (folder / name).exists()
        ]
        if missing:
            raise SmokeFailure(f"the install in {folder} lacks {missing}")
        links = list(
            (
                self.wine.users_dirs()[0] / "AppData" / "Roaming" / "Microsoft" / "Windows" / "Start Menu"
            ).rglob("*.lnk")
        )
        if not [link for link in links if link.stem == rules.APP_TITLE]:
            raise SmokeFailure(
                f"no Start-menu entry '{rules.APP_TITLE}.lnk' (found {[p.name for p in links]})"
            )
        prog_id = self._reg_value(f"HKCU\\Software\\Classes\\{rules.PACKAGE_EXTENSION}")
        command = (
            self._reg_value(f"HKCU\\Software\\Classes\\{prog_id}\\shell\\open\\command") if prog_id else None
        )
        if not command or f"{rules.WINDOWS_GUI_NAME}.exe" not in command or '"%1"' not in command:
            raise SmokeFailure(
                f"{rules.PACKAGE_EXTENSION} → {prog_id!r} → {command!r}: not opened by the app"
            )
        self.prog_id = prog_id
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
        return f"{size:.0f} MB in {folder.relative_to(self.wine.prefix)}; Start menu; {rules.PACKAGE_EXTENSION} → {command}"

    def installed_app_runs(self) -> str:
        """The installed app, with the user's real data folder: --help, open a package, record a correction."""
        cli = WineApp(self._install_dir() / f"{rules.WINDOWS_CLI_NAME}.exe", None, self.wine)
        out = cli.check("--help").stdout
        missing = sorted(name for name in expected_commands() if name not in out)
        if missing:
            raise SmokeFailure(f"the installed app's --help lacks {missing}")
        if not self.package.is_file():
            raise SmokeFailure("no package to open (the export-model step failed first)")
        proc = cli.run(
            *cli.gui_args,
            cli.path(self.package),
            timeout=90,
            extra_env={rules.EXIT_AFTER_SHOWN_ENV: "dialog"},
        )
        if "is installed" not in proc.stdout:
            raise SmokeFailure(
                f"the installed app did not install the package: {proc.stdout[-500:]}{proc.stderr[-800:]}"
            )
        cli.check("correct", cli.path(fixture_textures()[0]), "surface/metal")
        stats = json.loads(cli.check("learn", "stats", "--json").stdout)
        if "surface/metal" not in json.dumps(stats):
            raise SmokeFailure(f"the correction is not in the learner's stats: {stats}")
        return f"--help, a .ps2model installed, a correction recorded in {self._user_data().relative_to(self.wine.prefix)}"

    def uninstall_keeps_user_data(self) -> str:
        data = self._user_data()
        kept = {p: sha256_of(p) for p in data.rglob("*") if p.is_file() and p.suffix != ".log"}
        if not any(p.name == "training.sqlite3" for p in kept):
            raise SmokeFailure(f"no corrections database in {data} to keep (the step before failed?)")
        self._uninstall()
        left = [name for name in rules.executable_names("win32") if (self._install_dir() / name).exists()]
        if left:
            raise SmokeFailure(f"the uninstall left {left}")
        # The extension's key itself stays (other programs may list themselves there), empty.
        prog_id_key = f"HKCU\\Software\\Classes\\{self.prog_id}"
        if self._reg_value(f"HKCU\\Software\\Classes\\{rules.PACKAGE_EXTENSION}") or (
            self.wine.run(["reg", "query", prog_id_key]).returncode == 0
        ):
            raise SmokeFailure(
                f"the uninstall left the {rules.PACKAGE_EXTENSION} association ({prog_id_key})"
            )
        lost = [p.name for p, digest in kept.items() if not p.is_file() or sha256_of(p) != digest]
        if lost:
            raise SmokeFailure(f"the uninstall changed or deleted the user's {lost}")
        return f"app and association removed; {len(kept)} user files kept unchanged (corrections, model, settings)"

    def uninstall_deletes_user_data_when_asked(self) -> str:
        self._install()
        self._uninstall("/DELETEUSERDATA")
        if self._user_data().exists():
            raise SmokeFailure(f"/DELETEUSERDATA left {self._user_data()}")
        return "reinstalled, then /DELETEUSERDATA removed the user's folder"

    def steps(self):
        return super().steps() + [(name, getattr(self, method)) for name, method in WINDOWS_STEPS]


WINDOWS_STEPS = [
    ("classify top-1 equals the Linux run", "top1_matches_linux"),
    ("windowed TextureSorter.exe starts", "windowed_exe_starts"),
    ("GUI start time under Wine", "gui_start_time"),
    ("setup.exe /VERYSILENT", "installer_installs_silently"),
    ("installed app: --help, .ps2model, correction", "installed_app_runs"),
    ("uninstall keeps the user's data", "uninstall_keeps_user_data"),
    ("uninstall /DELETEUSERDATA", "uninstall_deletes_user_data_when_asked"),
]


def is_up_to_date(version: str) -> bool:
    """Whether the Windows build and its installer are newer than every source and the lock file."""
    outputs = [
        WINDOWS_DIST / rules.BUNDLE_NAME / f"{rules.WINDOWS_CLI_NAME}.exe",
        installer.installer_path(version),
    ]
    newest = max(newest_source_mtime(), toolchain.LOCK_FILE.stat().st_mtime,
                 max(p.stat().st_mtime for p in Path(__file__).parent.glob("*.py")))  # fmt: skip
    return all(p.is_file() and p.stat().st_mtime >= newest for p in outputs)


def main(rebuild: bool, no_build: bool, keep: bool) -> int:
    """`smoke_test.py --target windows`: build when needed, then every step; 0 only when all passed."""
    from smoke_test import run_steps

    from build import app_version, build_for_windows

    version = app_version()
    stale = rebuild or (not no_build and not is_up_to_date(version))
    if stale and build_for_windows(clean=False, quiet=True) != 0:
        print("smoke test: the Windows build failed", file=sys.stderr)
        return 1
    onedir = WINDOWS_DIST / rules.BUNDLE_NAME
    setup_exe = installer.installer_path(version)
    for needed in (onedir / f"{rules.WINDOWS_CLI_NAME}.exe", setup_exe):
        if not needed.is_file():
            print(f"smoke test: no {needed}; run python build/build.py --target windows", file=sys.stderr)
            return 1
    try:
        toolchain.ensure_system_packages()
    except toolchain.ToolchainError as exc:
        print(f"smoke test: {exc}", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="texture-sorter-smoke-windows-"))
    print(f"smoke test of {onedir} and {setup_exe.name} under Wine", flush=True)
    start = time.perf_counter()
    try:
        smoke = WindowsSmokeTest(onedir, setup_exe, work)
        results = run_steps(smoke.steps())
    finally:
        toolchain.Wine(work / "prefix").wait()
        if keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    failed = sum(not r.passed for r in results)
    figures = {
        "seconds": round(time.perf_counter() - start, 1),
        "gui_start_s": [round(t, 2) for t in smoke.start_times],
        "steps": {r.name: round(r.seconds, 1) for r in results},
        "versions": json.loads((WINDOWS_DIST / "versions.json").read_text(encoding="utf-8")),
    }
    (WINDOWS_DIST / "smoke-windows.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0
