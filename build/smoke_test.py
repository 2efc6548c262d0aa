"""Frozen smoke test: build when needed, then drive the frozen executable headless, CLI and GUI.

    python build/smoke_test.py [--rebuild | --no-build] [--onefile] [--keep] [--target windows]

Every step runs the frozen binary with QT_QPA_PLATFORM=offscreen and a throw-away
TEXTURE_SORTER_HOME, checks its exit code and output, checks that it never loaded torch (the list
of loaded modules the build's runtime hook writes), and prints PASS/FAIL; the exit status is 0 only
when every step passed. Needs the dev extra (onnx builds the tiny test model).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BUILD_DIR = Path(__file__).resolve().parent
ROOT = BUILD_DIR.parent
FIXTURES = ROOT / "tests" / "fixtures"

import bundle_rules as rules  # noqa: E402  (build/ is sys.path[0] when run as a script)

from build import build, executable_path, is_up_to_date, output_path  # noqa: E402

GUI_MISSING_TEXT = "the desktop window is not available"


class SmokeFailure(Exception):
    """A step's check failed; the message says what was expected and what came back."""


@dataclass
class StepResult:
    name: str
    passed: bool
    detail: str
    seconds: float


def load_test_model_builder() -> Callable[..., Path]:
    """tests/conftest.py's `build_test_model` (a tiny real ONNX classifier), without a second copy."""
    spec = importlib.util.spec_from_file_location(
        "_texture_sorter_test_conftest", ROOT / "tests" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_test_model


def expected_commands() -> set[str]:
    """Subcommand names the source tree registers (what the frozen --help must list too)."""
    from app.cli import build_parser

    _parser, names = build_parser()
    return names


def fixture_textures() -> list[Path]:
    from ai.textures import is_texture_path

    return sorted(p for p in FIXTURES.rglob("*") if p.is_file() and is_texture_path(p))  # not READMEs or scripts


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_never_loaded(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in rules.NEVER_LOADED)


class FrozenApp:
    """Runs the frozen executable in a clean environment with its own user folders.

    `path()` is how the executable sees a local path and `gui_args` start its GUI headless; the
    Windows smoke test's WineApp (build/windows/smoke.py) changes both.
    """

    gui_args: tuple[str, ...] = ()  # QT_QPA_PLATFORM=offscreen in the environment does it here

    def __init__(self, executable: Path, home: Path):
        self.executable = executable
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TEXTURE_SORTER_"))}
        self.env.update(QT_QPA_PLATFORM="offscreen", TEXTURE_SORTER_HOME=self.path(home))
        self.calls = 0
        self.last_modules: list[str] | None = None

    def path(self, path: Path) -> str:
        """`path` as the executable names it (its command-line arguments and its output)."""
        return str(path)

    def command(self, *args: str) -> list[str]:
        return [str(self.executable), *args]

    def run(self, *args: str, timeout: float = 180, extra_env: dict[str, str] | None = None):
        """Run the executable; fail if it loaded torch or the training stack (see rthook_modules_out.py)."""
        self.calls += 1
        modules_file = self.home.parent / f"modules-{self.calls}.txt"
        env = {**self.env, **(extra_env or {}), rules.MODULES_OUT_ENV: self.path(modules_file)}
        command = " ".join(args) or "(no arguments)"
        try:
            proc = subprocess.run(
                self.command(*args),
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout,
                env=env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            self.stop_all()
            raise SmokeFailure(f"`{command}` still running after {timeout:.0f} s") from exc
        if modules_file.is_file():
            self.last_modules = modules_file.read_text(encoding="utf-8").split()
            loaded = [m for m in self.last_modules if is_never_loaded(m)]
            if loaded:
                raise SmokeFailure(f"`{command}` loaded {loaded[:5]}: the frozen app must never load them")
        else:
            self.last_modules = None
        return proc

    def stop_all(self) -> None:
        """After a timeout: end whatever the timed-out run left behind (the executable itself is killed)."""

    def check(self, *args: str, expect: int = 0, **kwargs) -> subprocess.CompletedProcess:
        proc = self.run(*args, **kwargs)
        if proc.returncode != expect:
            raise SmokeFailure(
                f"`{' '.join(args)}` exited {proc.returncode}, expected {expect}\n"
                f"stdout: {proc.stdout[-1500:]}\nstderr: {proc.stderr[-1500:]}"
            )
        return proc


class SmokeTest:
    def __init__(self, app: FrozenApp, bundle_root: Path | None, work: Path):
        self.app = app
        self.bundle_root = bundle_root  # _internal/ of a onedir build; None for onefile
        self.work = work
        self.tiny_model = work / "tiny.onnx"
        self.package = work / "smoke-tiny.ps2model"

    # --- CLI -------------------------------------------------------------------------------
    def help_lists_all_commands(self) -> str:
        out = self.app.check("--help").stdout
        if self.app.last_modules is None:
            raise SmokeFailure(
                f"the build did not write {rules.MODULES_OUT_ENV}: is the runtime hook bundled?"
            )
        missing = sorted(name for name in expected_commands() if name not in out)
        if missing:
            raise SmokeFailure(f"--help of the frozen app lacks {missing}: command discovery failed frozen")
        return f"{len(expected_commands())} commands listed"

    def version_matches(self) -> str:
        from ai import __version__

        out = self.app.check("--version").stdout
        if __version__ not in out:
            raise SmokeFailure(f"--version printed {out!r}, expected {__version__}")
        return out.strip()

    def _classify(self, *extra: str) -> list[dict]:
        out_file = self.work / f"classify-{len(list(self.work.glob('classify-*')))}.json"
        self.app.check("classify", self.app.path(FIXTURES), "--json", self.app.path(out_file), *extra)
        rows = json.loads(out_file.read_text(encoding="utf-8"))
        expected = {self.app.path(p) for p in fixture_textures()}
        got = {row["path"] for row in rows}
        if got != expected:
            raise SmokeFailure(
                f"classified {len(got)} files, expected {len(expected)}: missing {sorted(expected - got)[:3]}"
            )
        failed = [row for row in rows if row["error"] or not row["predictions"]]
        if failed:
            raise SmokeFailure(f"{len(failed)} files without predictions, e.g. {failed[0]}")
        return rows

    def classify_with_default_model(self) -> str:
        if self.bundle_root is not None and not (self.bundle_root / rules.BUNDLED_MODEL).is_file():
            raise SmokeFailure(f"the default model is not in the build ({rules.BUNDLED_MODEL})")
        rows = self._classify()
        sources = {row["source"] for row in rows}
        if sources != {"offline"}:
            raise SmokeFailure(f"sources {sorted(sources)}: the shipped ONNX model was not used")
        return f"{len(rows)} files classified by the shipped model"

    def classify_with_onnx_model(self) -> str:
        from ai.taxonomy import default_categories

        load_test_model_builder()(self.tiny_model, default_categories())
        rows = self._classify("--model", self.app.path(self.tiny_model), "--no-learn", "--no-rules")
        sources = {row["source"] for row in rows}
        categories = {p["category"] for row in rows for p in row["predictions"]}
        if sources != {"offline"}:
            raise SmokeFailure(f"sources {sorted(sources)}: onnxruntime did not run frozen")
        if not categories <= set(default_categories()):
            raise SmokeFailure(f"unknown categories {sorted(categories - set(default_categories()))}")
        return f"onnxruntime ran {len(rows)} files, {len(categories)} categories seen"

    def sort_dry_run_changes_nothing(self) -> str:
        before = {p: p.stat().st_mtime_ns for p in fixture_textures()}
        out_dir = self.work / "sorted"
        proc = self.app.check("sort", self.app.path(FIXTURES), "--out", self.app.path(out_dir), "--dry-run")
        planned = proc.stdout.count(" -> ")
        if planned != len(before):
            raise SmokeFailure(
                f"the plan names {planned} moves, expected {len(before)}:\n{proc.stdout[-800:]}"
            )
        if out_dir.exists() and any(out_dir.iterdir()):
            raise SmokeFailure(f"--dry-run wrote into {out_dir}")
        after = {p: p.stat().st_mtime_ns for p in fixture_textures()}
        if after != before:
            raise SmokeFailure("--dry-run touched the fixture files")
        return f"{planned} files planned, nothing written"

    def sort_copy_and_undo(self) -> str:
        """`sort --mode copy` puts a copy of every texture under OUT/<category>/; `undo OUT` takes them back."""
        before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in fixture_textures()}
        out_dir = self.work / "sorted-copy"
        self.app.check("sort", self.app.path(FIXTURES), "--out", self.app.path(out_dir), "--mode", "copy")

        def copies() -> list[Path]:
            return [p for p in out_dir.rglob("*") if p.is_file() and ".texture-sorter" not in p.parts]

        copied = copies()
        if sorted(p.name for p in copied) != sorted(p.name for p in before):
            raise SmokeFailure(f"the sort copied {len(copied)} files, expected the {len(before)} fixtures")
        wanted = {sha256_of(p) for p in before}
        if {sha256_of(p) for p in copied} != wanted:
            raise SmokeFailure("a copy differs from its source texture")
        folders = {p.parent for p in copied}
        self.app.check("undo", self.app.path(out_dir))
        left = copies()
        if left:
            raise SmokeFailure(f"undo left {len(left)} copies, e.g. {left[0]}")
        if {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in fixture_textures()} != before:
            raise SmokeFailure("sort or undo touched the source textures")
        return f"{len(copied)} files copied into {len(folders)} folders, undo took every copy back"

    def export_and_import_model(self) -> str:
        if not self.tiny_model.is_file():
            raise SmokeFailure("the tiny ONNX model was not built (the classify step failed first)")
        self.app.check("keys", "generate", "Smoke signer")  # PyNaCl (and cffi's backend) frozen
        self.app.check(
            "export-model",
            self.app.path(self.tiny_model),
            "--out",
            self.app.path(self.package),
            "--name",
            "Smoke tiny",
            "--version",
            "1.0",
            "--author",
            "smoke test",
            "--sign",
            "Smoke signer",
        )
        out = self.app.check("import-model", self.app.path(self.package), "--use").stdout
        if "Installed Smoke tiny 1.0" not in out or "signed by Smoke signer (trusted)" not in out:
            raise SmokeFailure(f"import-model said {out!r}")
        models = json.loads(self.app.check("models", "list", "--json").stdout)
        active = [m for m in models if m.get("active")]
        if [m.get("name") for m in active] != ["Smoke tiny"]:
            raise SmokeFailure(f"active model after import: {active}")
        one = fixture_textures()[0]
        row = json.loads(self.app.check("classify", self.app.path(one), "--json", "-").stdout)[0]
        if row["source"] != "offline":
            raise SmokeFailure(f"classify with the imported model gave source {row['source']!r}")
        return "exported (signed), imported, activated and used"

    def training_needs_torch(self) -> str:
        from ai.training_pytorch import INSTALL_HINT

        data = self.work / "train-data"
        for category in ("a", "b"):
            (data / category).mkdir(parents=True, exist_ok=True)
            shutil.copy(fixture_textures()[0], data / category)
        trained = self.app.path(self.work / "trained.onnx")
        proc = self.app.check("train", self.app.path(data), "--out", trained, expect=1)
        if INSTALL_HINT not in proc.stderr:
            raise SmokeFailure(f"train did not say PyTorch is missing: {proc.stderr!r}")
        return "torch is not in the build; train says how to get it"

    # --- GUI -------------------------------------------------------------------------------
    def gui_shows_main_window(self) -> str:
        try:
            proc = self.app.run(*self.app.gui_args, timeout=60, extra_env={rules.EXIT_AFTER_SHOWN_ENV: "1"})
        except SmokeFailure as exc:
            raise SmokeFailure(
                f"{exc}: the GUI never quit (is {rules.EXIT_AFTER_SHOWN_ENV} honoured?)"
            ) from None
        if GUI_MISSING_TEXT in proc.stderr:
            raise SmokeFailure(f"GUI not available in this build: {proc.stderr.strip()}")
        if proc.returncode != 0:
            raise SmokeFailure(
                f"the GUI exited {proc.returncode}\nstdout: {proc.stdout[-800:]}\nstderr: {proc.stderr[-1500:]}"
            )
        shown = [line for line in proc.stdout.splitlines() if line.startswith(rules.SHOWN_MARKER)]
        if self.app.last_modules is None:
            raise SmokeFailure(
                "the GUI ended without Python's normal exit (os._exit?), so its modules were not checked"
            )
        if not shown:
            raise SmokeFailure(
                f"the GUI exited 0 but never printed {rules.SHOWN_MARKER} "
                f"(is {rules.EXIT_AFTER_SHOWN_ENV} honoured?)\nstdout: {proc.stdout[-800:]}"
            )
        return "main window shown: " + shown[0]

    def training_tab_greyed_out(self) -> str:
        """The frozen GUI's Training tab says PyTorch is not bundled, with its form and Start disabled."""
        env = {rules.EXIT_AFTER_SHOWN_ENV: "training"}
        proc = self.app.run(*self.app.gui_args, timeout=90, extra_env=env)
        said = [line for line in proc.stdout.splitlines() if line.startswith(rules.TRAINING_MARKER)]
        if proc.returncode != 0 or not said:
            raise SmokeFailure(
                f"the GUI exited {proc.returncode} without a {rules.TRAINING_MARKER} line\n"
                f"stdout: {proc.stdout[-800:]}\nstderr: {proc.stderr[-1500:]}"
            )
        state = said[0].removeprefix(rules.TRAINING_MARKER).strip()
        if not state.startswith("form=0 start=0") or "packaged build" not in state:
            raise SmokeFailure(f"the Training tab is usable in the frozen app: {state!r}")
        return state

    def gui_imports_a_package_path(self) -> str:
        """`texture-sorter FILE.ps2model` (a double-click on a package): the GUI installs it and says so."""
        if not self.package.is_file():
            raise SmokeFailure("no package to open (the export-model step failed first)")
        home = self.work / "home-gui-import"
        home.mkdir(exist_ok=True)
        env = {rules.EXIT_AFTER_SHOWN_ENV: "dialog", "TEXTURE_SORTER_HOME": self.app.path(home)}
        proc = self.app.run(*self.app.gui_args, self.app.path(self.package), timeout=90, extra_env=env)
        said = [line for line in proc.stdout.splitlines() if line.startswith(rules.DIALOG_MARKER)]
        if proc.returncode != 0 or not said:
            raise SmokeFailure(
                f"the GUI exited {proc.returncode} without a dialog\nstdout: {proc.stdout[-800:]}\n"
                f"stderr: {proc.stderr[-1500:]}"
            )
        if "Smoke tiny 1.0 is installed" not in said[0]:
            raise SmokeFailure(f"the GUI said {said[0]!r}")
        proc = self.app.check("models", "list", "--json", extra_env={"TEXTURE_SORTER_HOME": self.app.path(home)})
        names = [m.get("name") for m in json.loads(proc.stdout)]
        if "Smoke tiny" not in names:
            raise SmokeFailure(f"models after the GUI import: {names}")
        return said[0].removeprefix(rules.DIALOG_MARKER).strip()

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [(name, getattr(self, method)) for name, method in STEPS]


# (step name, SmokeTest method), in the order they run; later steps use files earlier ones made.
STEPS = [
    ("help lists every command", "help_lists_all_commands"),
    ("version", "version_matches"),
    ("classify (ONNX test model)", "classify_with_onnx_model"),
    ("classify (shipped model)", "classify_with_default_model"),
    ("sort --dry-run", "sort_dry_run_changes_nothing"),
    ("sort copy + undo", "sort_copy_and_undo"),
    ("export-model + import-model", "export_and_import_model"),
    ("train without torch", "training_needs_torch"),
    ("GUI main window", "gui_shows_main_window"),
    ("GUI Training tab greyed out", "training_tab_greyed_out"),
    ("GUI opens a .ps2model", "gui_imports_a_package_path"),
]


def run_smoke(executable: Path, bundle_root: Path | None, work: Path, log=print) -> list[StepResult]:
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    return run_steps(SmokeTest(FrozenApp(executable, home), bundle_root, work).steps(), log)


def run_steps(steps: list[tuple[str, Callable[[], str]]], log=print) -> list[StepResult]:
    """Run each step, timed; a SmokeFailure fails that step only."""
    results = []
    for name, step in steps:
        start = time.perf_counter()
        try:
            detail, passed = step(), True
        except SmokeFailure as exc:
            detail, passed = str(exc), False
        result = StepResult(name, passed, detail, time.perf_counter() - start)
        results.append(result)
        log(f"{'PASS' if passed else 'FAIL'}  {name} ({result.seconds:.1f} s): {detail}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--rebuild", action="store_true", help="build even when the build is up to date")
    when.add_argument("--no-build", action="store_true", help="test the existing build as it is")
    parser.add_argument("--onefile", action="store_true", help="test the onefile build")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (printed) for inspection")
    parser.add_argument(
        "--target",
        choices=("host", "windows"),
        default="host",
        help="host: the build for this machine (default); windows: the Windows build and installer, "
        "under Wine (build/windows/smoke.py)",
    )
    args = parser.parse_args(argv)
    if args.target == "windows":
        if args.onefile:
            parser.error("--target windows tests the onedir app and its installer; leave out --onefile")
        from windows import smoke

        return smoke.main(rebuild=args.rebuild, no_build=args.no_build, keep=args.keep)

    if args.rebuild or (not args.no_build and not is_up_to_date(args.onefile)):
        try:
            print(build(onefile=args.onefile, quiet=True).summary(), flush=True)
        except subprocess.CalledProcessError as exc:
            print(f"smoke test: the build failed (exit {exc.returncode})", file=sys.stderr)
            return 1
    executable = executable_path(args.onefile)
    if not executable.is_file():
        print(f"smoke test: no build at {executable}; run python build/build.py", file=sys.stderr)
        return 1
    bundle_root = None if args.onefile else output_path(False) / "_internal"
    work = Path(tempfile.mkdtemp(prefix="texture-sorter-smoke-"))
    print(f"smoke test of {executable}", flush=True)
    try:
        results = run_smoke(executable, bundle_root, work)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    failed = sum(not r.passed for r in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
