"""What an Ed25519 library adds to a frozen app: PyNaCl against cryptography, by building three tiny apps.

    python build/measure_signing.py [--work DIR]

Needs PyInstaller, PyNaCl and cryptography in this interpreter (e.g. a scratch venv:
`pip install pyinstaller pynacl cryptography`). Each app signs and verifies one message; the bare
app does the same hashing without a signature library. Onedir sizes are compared; PyNaCl is
also built with binaries stripped, as build/texture_sorter.spec strips its libsodium.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

APPS = {
    "bare": "import hashlib\nprint(hashlib.sha256(b'x').hexdigest()[:8])\n",
    "pynacl": (
        "import hashlib\nfrom nacl.signing import SigningKey\n"
        "k = SigningKey.generate(); k.verify_key.verify(k.sign(b'x'))\nprint(hashlib.sha256(b'x').hexdigest()[:8])\n"
    ),
    "cryptography": (
        "import hashlib\nfrom cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey\n"
        "k = Ed25519PrivateKey.generate(); k.public_key().verify(k.sign(b'x'), b'x')\n"
        "print(hashlib.sha256(b'x').hexdigest()[:8])\n"
    ),
}


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build(work: Path, name: str, *, strip: bool) -> int:
    script = work / f"app_{name}.py"  # not "cryptography.py": it would shadow the package
    script.write_text(APPS[name], encoding="utf-8")
    tag = f"{name}{'-stripped' if strip else ''}"
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--onedir",
           "--distpath", str(work / "dist" / tag), "--workpath", str(work / "work" / tag),
           "--specpath", str(work / "spec" / tag), str(script)]  # fmt: skip
    if name != "bare":  # both libraries load cffi's backend from C, where PyInstaller does not look
        cmd[-1:-1] = ["--hidden-import", "_cffi_backend"]
    if strip:
        cmd[-1:-1] = ["--strip"]
    subprocess.run(cmd, check=True)
    app = work / "dist" / tag / script.stem / script.stem
    subprocess.run([str(app)], check=True, capture_output=True)  # it must run, not just build
    return folder_size(app.parent)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="build folder (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="measure-signing-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        sizes = {name: build(work, name, strip=False) for name in APPS}
        stripped = {name: build(work, name, strip=True) for name in ("bare", "pynacl")}
    print(f"{'app':<24}{'onedir bytes':>14}{'added':>14}")
    for name, size in sizes.items():
        print(f"{name:<24}{size:>14,}{size - sizes['bare']:>14,}")
    for name, size in stripped.items():
        print(f"{name + ' (stripped)':<24}{size:>14,}{size - stripped['bare']:>14,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
