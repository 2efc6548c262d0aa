"""The four Debian game-data packages: download, unpack, and list their texture files.

Everything lives under a work folder outside the repository (default /work/data or
$TEXTURE_SORTER_DATA): debs/, unpacked/<package>/. 0 A.D. keeps its art inside zip archives,
which are read member by member instead of being unpacked.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGES = {
    "0ad": "0ad-data",
    "megaglest": "megaglest-data",
    "redeclipse": "redeclipse-data",
    "supertuxkart": "supertuxkart-data",
}
# Where each package keeps its game data, relative to the unpacked package root.
DATA_ROOTS = {
    "0ad": "usr/share/games/0ad/mods",
    "megaglest": "usr/share/games/megaglest",
    "redeclipse": "usr/share/games/redeclipse/data",
    "supertuxkart": "usr/share/games/supertuxkart/data",
}
ZIP_ARCHIVES = {"0ad": ("public/public.zip", "mod/mod.zip")}
TEXTURE_EXTENSIONS = (".dds", ".png", ".tga", ".jpg", ".jpeg", ".bmp")
COPYRIGHT_FILES = {game: f"usr/share/doc/{pkg}/copyright" for game, pkg in PACKAGES.items()}


def default_work_dir() -> Path:
    return Path(os.environ.get("TEXTURE_SORTER_DATA", "/work/data"))


@dataclass(frozen=True)
class SourceFile:
    """One texture of one game: `relpath` is what the label rules see; `location` where to read it."""

    game: str
    relpath: str
    location: str  # a file path, or "<zip path>::<member>"

    @property
    def uid(self) -> str:
        return f"{self.game}:{self.relpath}"


def fetch(work_dir: Path) -> None:
    """apt-get download + dpkg -x each package that is not unpacked yet (needs `apt-get update` once)."""
    debs = work_dir / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for game, package in PACKAGES.items():
        target = work_dir / "unpacked" / package
        if (target / DATA_ROOTS[game]).is_dir():
            log.info("%s already unpacked in %s", package, target)
            continue
        found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            log.info("downloading %s", package)
            subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
            found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            raise RuntimeError(f"apt-get download {package} produced no .deb in {debs} (run apt-get update?)")
        target.mkdir(parents=True, exist_ok=True)
        log.info("unpacking %s", found[-1].name)
        subprocess.run(["dpkg", "-x", str(found[-1]), str(target)], check=True)


def package_versions(work_dir: Path) -> dict[str, str]:
    """Package → version of the .deb the data came from (for the model card)."""
    versions = {}
    for package in PACKAGES.values():
        found = sorted((work_dir / "debs").glob(f"{package}_*.deb"))
        if found:
            versions[package] = found[-1].name.split("_")[1]
    return versions


def iter_sources(work_dir: Path) -> Iterator[SourceFile]:
    """Every texture file of the four games, in a stable order."""
    for game, package in PACKAGES.items():
        root = work_dir / "unpacked" / package / DATA_ROOTS[game]
        if not root.is_dir():
            raise RuntimeError(f"{root} is missing: run the fetch stage first")
        for archive in ZIP_ARCHIVES.get(game, ()):
            with zipfile.ZipFile(root / archive) as zf:
                for name in sorted(zf.namelist()):
                    if name.lower().endswith(TEXTURE_EXTENSIONS):
                        yield SourceFile(game, name, f"{root / archive}::{name}")
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() in TEXTURE_EXTENSIONS and path.is_file():
                yield SourceFile(game, path.relative_to(root).as_posix(), str(path))


@contextmanager
def local_path(source: SourceFile, scratch: Path) -> Iterator[Path]:
    """A real file path for `source` (zip members are copied to `scratch` for the decoder)."""
    if "::" not in source.location:
        yield Path(source.location)
        return
    archive, member = source.location.split("::", 1)
    scratch.mkdir(parents=True, exist_ok=True)
    # Keep the member's full name so that decoders see the real extension chain (.png.cached.dds).
    fd, tmp = tempfile.mkstemp(dir=scratch, suffix="_" + Path(member).name)
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(archive) as zf, zf.open(member) as src:
            shutil.copyfileobj(src, out)
        yield Path(tmp)
    finally:
        os.unlink(tmp)
