"""The Windows onedir build on Linux: PyInstaller run by the checked Windows CPython under Wine, then audited.

The build's Wine prefix, ~/.cache/texture-sorter-build/windows/prefix, holds C:\\Py311 (cpython.py;
its signatures are checked before it first runs) with the wheels of requirements.txt installed; it
is remade when the lock file, the CPython pin or Wine changes. PyInstaller runs the same spec as on
Linux (build/texture_sorter.spec, rules in build/bundle_rules.py) and writes
build/dist/windows/texture-sorter/. The audit then names the source of every program and library
in the build, a wheel (by the sha256 its RECORD lists) or the signed CPython, and fails the build
on any other (a Wine DLL, a stray system file).
"""

from __future__ import annotations

import base64
import csv
import json
import shutil
import time
from pathlib import Path

import bundle_rules as rules

from build import ROOT, SPEC, WINDOWS_DIST, WORK, BuildResult, tree_size
from windows import cpython, toolchain

WINDOWS_WORK = WORK / "windows"
# Outside the checkout: a Wine prefix links drive Z: to / and its user folders to $HOME, and tools
# that walk the checkout (setuptools building it) would follow those links through the whole disk.
PREFIX = toolchain.CACHE / "prefix"
PYTHON_DIR = "Py311"  # C:\Py311 in the prefix
PYTHON = f"C:\\{PYTHON_DIR}\\python.exe"
STAMP = toolchain.CACHE / "prefix.json"
SIGNATURES = toolchain.CACHE / "cpython-signatures.json"
# PyInstaller's Windows warnings about the Universal CRT (api-ms-win-*.dll): part of Windows 10 and
# later, never bundled on Windows either. Shown as one count instead of a hundred lines.
UCRT_WARNING = "could not resolve 'api-ms-win-"
BUDGET_MB = 180.0


class AuditError(Exception):
    """A binary in the build came from neither a wheel nor the checked CPython."""


def python_root() -> Path:
    return PREFIX / "drive_c" / PYTHON_DIR


def site_packages() -> Path:
    return python_root() / "Lib" / "site-packages"


def _wanted_stamp(wine_version: str) -> dict:
    return {
        "lock": toolchain.sha256_file(toolchain.LOCK_FILE),
        "cpython": cpython.SDIST_SHA256,
        "wine": wine_version,
    }


def ensure_prefix(wine_version: str, log=print) -> toolchain.Wine:
    """The build prefix with the checked CPython and the locked wheels (remade only when stale)."""
    wine = toolchain.Wine(PREFIX)
    wanted = _wanted_stamp(wine_version)
    if STAMP.is_file() and json.loads(STAMP.read_text(encoding="utf-8")) == wanted and SIGNATURES.is_file():
        return wine
    sdist = toolchain.fetch_sdist(cpython.SDIST_PROJECT, cpython.SDIST_FILE, cpython.SDIST_SHA256, log)
    wheels = toolchain.ensure_wheels(log=log)
    log(f"windows: making the Wine prefix {PREFIX} …")
    shutil.rmtree(PREFIX, ignore_errors=True)
    STAMP.unlink(missing_ok=True)
    wine.boot()
    root = cpython.unpack(sdist, python_root())
    signatures = cpython.verify(root)  # before anything in it runs
    cpython.write_record(signatures, SIGNATURES)
    log(f"windows: CPython {cpython.PYTHON_VERSION}: {len(signatures)} signed files checked")
    proc = wine.run(
        [PYTHON, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--require-hashes",
         "--no-warn-script-location", "--disable-pip-version-check",
         "--find-links", toolchain.windows_path(wheels), "-r", toolchain.windows_path(toolchain.LOCK_FILE)],
    )  # fmt: skip
    if proc.returncode != 0:
        raise toolchain.ToolchainError(
            f"pip install under Wine failed:\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}"
        )
    STAMP.write_text(json.dumps(wanted), encoding="utf-8")
    return wine


def installed_versions() -> dict[str, str]:
    """{distribution: version} installed in the build prefix (what the bundle is made of)."""
    versions = {}
    for meta in site_packages().glob("*.dist-info/METADATA"):
        fields = dict(
            line.split(": ", 1) for line in meta.read_text(encoding="utf-8", errors="replace").splitlines()[:20]
            if ": " in line
        )  # fmt: skip
        versions[fields.get("Name", meta.parent.name)] = fields.get("Version", "?")
    return dict(sorted(versions.items(), key=lambda kv: kv[0].lower()))


def _record_digests() -> dict[str, str]:
    """sha256 hex → 'wheel NAME VERSION' for every file the installed wheels' RECORDs list."""
    digests = {}
    for record in site_packages().glob("*.dist-info/RECORD"):
        name, version = record.parent.name.removesuffix(".dist-info").rsplit("-", 1)
        with record.open(encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                if len(row) >= 2 and row[1].startswith("sha256="):
                    raw = base64.urlsafe_b64decode(row[1][7:] + "==")
                    digests[raw.hex()] = f"wheel {name} {version}: {row[0]}"
    return digests


def audit(onedir: Path) -> list[dict[str, str]]:
    """Where each program and library of the build came from; AuditError names any without a source."""
    wheels = _record_digests()
    signed = {s.file: s for s in cpython.read_record(SIGNATURES)}
    runtime = {toolchain.sha256_file(python_root() / name): sig for name, sig in signed.items()}
    bootloader = installed_versions().get("pyinstaller", "?")
    entries, unknown = [], []
    for path in sorted(onedir.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in cpython.PE_SUFFIXES:
            continue
        relative = path.relative_to(onedir).as_posix()
        digest = toolchain.sha256_file(path)
        if path.parent == onedir and path.name in rules.executable_names("win32"):
            # PyInstaller's bootloader (run.exe / runw.exe in its wheel) with the icon, the version
            # resource and the app's archive added: its bytes are the build's own.
            origin = f"PyInstaller {bootloader} bootloader (pyinstaller wheel) + this build's archive"
        elif digest in wheels:
            origin = wheels[digest]
        elif digest in runtime:
            origin = runtime[digest].origin + f": {runtime[digest].file}"
        else:
            unknown.append(relative)
            continue
        entries.append({"file": relative, "sha256": digest, "origin": origin})
    if unknown:
        raise AuditError(f"{len(unknown)} binaries of unknown origin in the build: {unknown[:8]}")
    return entries


def freeze(clean: bool = False, quiet: bool = False, log=print) -> BuildResult:
    """Build build/dist/windows/texture-sorter/ under Wine; raise ToolchainError/AuditError on failure."""
    start = time.perf_counter()
    wine_version = toolchain.ensure_system_packages(log)
    wine = ensure_prefix(wine_version, log)
    setup_s = time.perf_counter() - start
    onedir = WINDOWS_DIST / rules.BUNDLE_NAME
    cmd = [PYTHON, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN" if quiet else "INFO",
           "--distpath", toolchain.windows_path(WINDOWS_DIST),
           "--workpath", toolchain.windows_path(WINDOWS_WORK / "pyinstaller"),
           *(["--clean"] if clean else []), toolchain.windows_path(SPEC)]  # fmt: skip
    WINDOWS_DIST.mkdir(parents=True, exist_ok=True)
    log(f"windows: PyInstaller under Wine ({wine_version}) …")
    wine.stream(cmd, cwd=ROOT, quiet_lines=(UCRT_WARNING,))
    wine.wait()
    provenance = audit(onedir)
    versions = {"python": cpython.PYTHON_VERSION, "wine": wine_version, **installed_versions()}
    (WINDOWS_DIST / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    (WINDOWS_DIST / "versions.json").write_text(json.dumps(versions, indent=2) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - start
    result = BuildResult(
        kind="windows onedir",
        path=str(onedir),
        executable=str(onedir / f"{rules.WINDOWS_CLI_NAME}.exe"),
        seconds=round(seconds, 1),
        size_bytes=tree_size(onedir),
        budget_mb=BUDGET_MB,
    )
    figures = {**result.__dict__, "setup_seconds": round(setup_s, 1), "binaries": len(provenance)}
    (WINDOWS_DIST / "build-windows.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return result
