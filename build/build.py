"""One build command for the frozen app: `python build/build.py [--onefile] [--clean] [--target windows]`.

Runs build/texture_sorter.spec and prints where the build went, its size against the budget and how
long it took. The figures are also written to build/dist/build-<kind>.json (the figures the README
records).

On Linux with a C compiler the build runs in its own environment, build/env (made once, remade when
pyproject.toml changes): the app's dependencies and PyInstaller, with numpy recompiled without
BLAS (OpenBLAS is 28 MB of the bundle; the app multiplies only small matrices). The compiled numpy
wheel is kept in ~/.cache/texture-sorter-build, so only the first build pays for it (minutes).
`--numpy-blas keep` (the default elsewhere) builds from the running environment instead,
installing PyInstaller into it when missing.

Outputs: onedir → build/dist/texture-sorter/ ; onefile → build/dist/onefile/texture-sorter[.exe].

`--target windows` builds the Windows app and its installer: on Linux under Wine (build/windows/,
which installs Wine and a checked Windows CPython by itself), on Windows natively (then Inno
Setup's `iscc` must be on PATH). Outputs: build/dist/windows/texture-sorter/ (TextureSorter.exe,
texture-sorter.exe, _internal/) and build/dist/installer/TextureSorter-<version>-setup.exe.
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
import venv
from dataclasses import asdict, dataclass
from pathlib import Path

BUILD_DIR = Path(__file__).resolve().parent
ROOT = BUILD_DIR.parent
SPEC = BUILD_DIR / "texture_sorter.spec"
DIST = BUILD_DIR / "dist"
WINDOWS_DIST = DIST / "windows"  # --target windows: the onedir Windows app
WORK = BUILD_DIR / "work"
PYINSTALLER_REQUIREMENT = "pyinstaller>=6.10,<7"
FROZEN_ENV = BUILD_DIR / "env"
WHEEL_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "texture-sorter-build" / "wheels"
)
NUMPY_COMPILE_FAILED = "kept OpenBLAS: compiling numpy failed"
NUMPY_WITHOUT_BLAS = (
    "-Csetup-args=-Dallow-noblas=true",
    "-Csetup-args=-Dblas=none",
    "-Csetup-args=-Dlapack=none",
)
# Budgets from issue 9 (MB = 10^6 bytes, as file managers and `du --si` show them).
SIZE_BUDGET_MB = {"onedir": 180.0, "onefile": 90.0}
# Files whose change makes an existing build stale.
SOURCE_DIRS = ("ai", "app", "resources", "models")
SOURCE_SUFFIXES = {".py", ".json", ".onnx", ".qss", ".png", ".svg", ".ico", ".md", ".spec"}

import bundle_rules as rules  # noqa: E402  (build/ is sys.path[0] when run as a script)


@dataclass
class BuildResult:
    kind: str  # "onedir" or "onefile"
    path: str  # the onedir folder or the onefile executable
    executable: str  # what to run
    seconds: float
    size_bytes: int
    budget_mb: float

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6

    def summary(self) -> str:
        verdict = "within" if self.size_mb <= self.budget_mb else "OVER"
        return (
            f"{self.kind} build: {self.path}\n"
            f"  size {self.size_mb:.1f} MB ({verdict} the {self.budget_mb:.0f} MB budget), "
            f"built in {self.seconds:.1f} s"
        )


def output_path(onefile: bool) -> Path:
    """The onedir folder, or the onefile executable."""
    if onefile:
        suffix = ".exe" if sys.platform.startswith("win") else ""
        name = rules.WINDOWS_GUI_NAME if suffix else rules.BUNDLE_NAME
        return DIST / "onefile" / f"{name}{suffix}"
    return DIST / rules.BUNDLE_NAME


def executable_path(onefile: bool) -> Path:
    """The executable that runs the CLI (on Windows the console one; onefile has only the GUI one)."""
    if onefile:
        return output_path(True)
    suffix = ".exe" if sys.platform.startswith("win") else ""
    name = rules.WINDOWS_CLI_NAME if suffix else rules.BUNDLE_NAME
    return output_path(False) / f"{name}{suffix}"


def tree_size(path: Path) -> int:
    """Bytes in the files under `path` (links count as nothing: they add no bytes to a download)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(folder, name))
            if not os.path.islink(os.path.join(folder, name)):
                total += st.st_size
    return total


def newest_source_mtime() -> float:
    newest = max(p.stat().st_mtime for p in BUILD_DIR.glob("*.py"))
    newest = max(newest, SPEC.stat().st_mtime)
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts and path.is_file():
                newest = max(newest, path.stat().st_mtime)
    return newest


def is_up_to_date(onefile: bool = False) -> bool:
    """Whether a build exists that is newer than every source, resource and build file."""
    exe = executable_path(onefile)
    return exe.is_file() and exe.stat().st_mtime >= newest_source_mtime()


def ensure_pyinstaller() -> None:
    if importlib.util.find_spec("PyInstaller") is not None:
        return
    print(f"build: installing {PYINSTALLER_REQUIREMENT} into {sys.prefix}", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", PYINSTALLER_REQUIREMENT], check=True)


def default_numpy_blas() -> str:
    """'drop' where numpy can be recompiled without BLAS here (Linux with a C compiler), else 'keep'."""
    return "drop" if sys.platform.startswith("linux") and shutil.which("cc") else "keep"


def _env_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if sys.platform.startswith("win") else "bin/python")


def numpy_without_blas_wheel(python: Path, version: str) -> Path:
    """numpy `version` compiled without BLAS/LAPACK (its own fallback loops), from the wheel cache."""
    # build/env is made from this interpreter, so its tag is ours (cp311, …).
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    found = sorted(WHEEL_CACHE.glob(f"numpy-{version}-{tag}-*.whl"))
    if found:
        return found[0]
    print(f"build: compiling numpy {version} without BLAS (once, several minutes) …", flush=True)
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WHEEL_CACHE) as tmp:
        cmd = [str(python), "-m", "pip", "wheel", "--no-deps", "--no-binary", "numpy", f"numpy=={version}"]
        subprocess.run([*cmd, "-w", tmp, *NUMPY_WITHOUT_BLAS], check=True)
        wheel = next(Path(tmp).glob("numpy-*.whl"))
        return Path(shutil.move(str(wheel), WHEEL_CACHE / wheel.name))


def frozen_env_python() -> Path:
    """build/env's Python with the app's dependencies, PyInstaller and numpy without BLAS."""
    python = _env_python(FROZEN_ENV)
    stamp = FROZEN_ENV / "texture-sorter-build.json"
    wanted = {
        "pyproject": hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest(),
        "pyinstaller": PYINSTALLER_REQUIREMENT,
        "numpy": list(NUMPY_WITHOUT_BLAS),
    }
    recorded = json.loads(stamp.read_text(encoding="utf-8")) if stamp.is_file() else {}
    if python.is_file() and recorded in (wanted, {**wanted, "numpy": NUMPY_COMPILE_FAILED}):
        return python
    print(f"build: making the build environment {FROZEN_ENV} …", flush=True)
    venv.create(FROZEN_ENV, with_pip=True, clear=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, str(ROOT), PYINSTALLER_REQUIREMENT], check=True)
    # Only the dependencies stay: the spec freezes ai/ and app/ from this checkout, never a copy.
    subprocess.run([str(python), "-m", "pip", "uninstall", "--yes", "--quiet", "texture-sorter"], check=True)
    version = subprocess.run(
        [str(python), "-c", "import numpy; print(numpy.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        wheel = numpy_without_blas_wheel(python, version)
    except subprocess.CalledProcessError:
        # The build still works, with OpenBLAS (+28 MB); delete build/env to try again.
        print("build: warning: numpy could not be compiled without BLAS; keeping OpenBLAS", file=sys.stderr)
        wanted["numpy"] = NUMPY_COMPILE_FAILED
    else:
        subprocess.run([*pip, "--force-reinstall", "--no-deps", str(wheel)], check=True)
    stamp.write_text(json.dumps(wanted), encoding="utf-8")
    return python


def build(
    onefile: bool = False,
    clean: bool = False,
    quiet: bool = False,
    numpy_blas: str | None = None,
    dist: Path = DIST,
) -> BuildResult:
    """Run PyInstaller on the spec; raise CalledProcessError when it (or making build/env) fails.

    `dist` is where the onedir folder goes (WINDOWS_DIST for a native `--target windows` build).
    """
    if (numpy_blas or default_numpy_blas()) == "drop":
        python = str(frozen_env_python())
    else:
        ensure_pyinstaller()
        python = sys.executable
    kind = "onefile" if onefile else "onedir"
    cmd = [
        python,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN" if quiet else "INFO",
        "--distpath",
        str(DIST / "onefile" if onefile else dist),
        "--workpath",
        str(WORK / kind),
    ]
    if clean:
        cmd.append("--clean")
    cmd += [str(SPEC), "--"] + (["--onefile"] if onefile else [])
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    out = output_path(onefile) if dist == DIST else dist / rules.BUNDLE_NAME
    result = BuildResult(
        kind=kind,
        path=str(out),
        executable=str(executable_path(onefile) if dist == DIST else out / f"{rules.WINDOWS_CLI_NAME}.exe"),
        seconds=round(seconds, 1),
        size_bytes=tree_size(out),
        budget_mb=SIZE_BUDGET_MB[kind],
    )
    (DIST / f"build-{kind}.json").write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
    return result


def largest_parts(path: Path, count: int = 8) -> list[tuple[int, str]]:
    """The biggest files of a onedir build, to see where the megabytes go."""
    sizes = [
        (p.stat().st_size, str(p.relative_to(path)))
        for p in path.rglob("*")
        if p.is_file() and not p.is_symlink()
    ]
    return sorted(sizes, reverse=True)[:count]


def app_version() -> str:
    sys.path.insert(0, str(ROOT))
    from ai import __version__

    return __version__


def build_for_windows(clean: bool, quiet: bool) -> int:
    """`--target windows`: the onedir app and the installer (under Wine on Linux, natively on Windows)."""
    if sys.platform.startswith("win"):
        result = build(clean=clean, quiet=quiet, numpy_blas="keep", dist=WINDOWS_DIST)
        print(result.summary())
        iscc = shutil.which("iscc")
        if not iscc:
            print("build: Inno Setup's iscc is not on PATH; the installer was not built", file=sys.stderr)
            return 1
        iss = ROOT / "installer" / "texture_sorter.iss"
        subprocess.run([iscc, "/Q", f"/DAppVersion={app_version()}", str(iss)], check=True)
        print(f"installer: {DIST / 'installer' / f'TextureSorter-{app_version()}-setup.exe'}")
        return 0
    from windows import cpython, freeze, installer, toolchain

    try:
        with toolchain.exclusive():
            result = freeze.freeze(clean=clean, quiet=quiet)
            print(result.summary())
            for size, name in largest_parts(Path(result.path)):
                print(f"  {size / 1e6:7.1f} MB  {name}")
            figures = installer.build_installer(app_version())
    except (toolchain.ToolchainError, cpython.SignatureError, freeze.AuditError) as exc:
        print(f"build: the Windows build failed: {exc}", file=sys.stderr)
        return 1
    size_mb = figures["size_bytes"] / 1e6
    verdict = "within" if size_mb <= figures["budget_mb"] else "OVER"
    print(f"installer: {figures['path']}\n  size {size_mb:.1f} MB ({verdict} the "
          f"{figures['budget_mb']:.0f} MB budget), compiled in {figures['seconds']:.1f} s")  # fmt: skip
    print("run it: python build/smoke_test.py --target windows --no-build")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--onefile", action="store_true", help="one self-extracting executable instead of a folder"
    )
    parser.add_argument("--clean", action="store_true", help="drop PyInstaller's caches first")
    parser.add_argument("--quiet", action="store_true", help="only PyInstaller's warnings")
    parser.add_argument(
        "--numpy-blas",
        choices=("drop", "keep"),
        default=default_numpy_blas(),
        help="drop: build in build/env with numpy compiled without BLAS (default on Linux with a C "
        "compiler); keep: build from the running environment",
    )
    parser.add_argument(
        "--target",
        choices=("host", "windows"),
        default="host",
        help="host: an app for this machine (default); windows: the Windows app and installer "
        "(on Linux under Wine, installing what it needs as root)",
    )
    args = parser.parse_args(argv)
    if args.target == "windows":
        if args.onefile:
            parser.error("--target windows builds the onedir app and its installer; leave out --onefile")
        try:
            return build_for_windows(args.clean, args.quiet)
        except subprocess.CalledProcessError as exc:
            print(f"build: {' '.join(map(str, exc.cmd[:4]))} … failed (exit {exc.returncode})", file=sys.stderr)
            return 1
    try:
        result = build(onefile=args.onefile, clean=args.clean, quiet=args.quiet, numpy_blas=args.numpy_blas)
    except subprocess.CalledProcessError as exc:
        print(f"build: {' '.join(map(str, exc.cmd[:4]))} … failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    print(result.summary())
    if not args.onefile:
        for size, name in largest_parts(Path(result.path)):
            print(f"  {size / 1e6:7.1f} MB  {name}")
    if not args.onefile and not (Path(result.path) / "_internal" / rules.BUNDLED_MODEL).is_file():
        print(f"build: warning: the build has no default model ({rules.BUNDLED_MODEL})", file=sys.stderr)
    print(f"run it: {result.executable} --help")
    return 0


if __name__ == "__main__":
    sys.exit(main())
