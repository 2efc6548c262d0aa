"""The Debian game-data packages: download, unpack, and list their texture files.

Everything lives under a work folder outside the repository (default /work/data or
$TEXTURE_SORTER_DATA): debs/, unpacked/<package>/, extracted/<game>/. 0 A.D. keeps its art in
zip archives, which are read member by member; the archives of UFO:AI (.pk3), Warzone 2100 (.wz)
and OpenClonk (c4group) and the SGI images of TORCS and FlightGear are extracted or converted to
PNG once by the fetch stage (see archives.py).
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

from models.recipe import archives

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Part:
    """Where one package keeps a game's textures: `root` inside the unpacked package; `archives`
    are files under root whose members are textures (globs allowed)."""

    package: str
    root: str
    archives: tuple[str, ...] = ()


# Game id → its packages. The order is the order of every table; the first four are v1's games.
GAME_PARTS: dict[str, tuple[Part, ...]] = {
    "0ad": (Part("0ad-data", "usr/share/games/0ad/mods"),),
    "megaglest": (Part("megaglest-data", "usr/share/games/megaglest"),),
    "redeclipse": (Part("redeclipse-data", "usr/share/games/redeclipse/data"),),
    "supertuxkart": (Part("supertuxkart-data", "usr/share/games/supertuxkart/data"),),
    "ufoai": (
        Part("ufoai-data", "usr/share/games/ufoai/base", ("0models.pk3", "0pics.pk3")),
        Part("ufoai-textures", "usr/share/games/ufoai/base", ("0textures.pk3",)),
    ),
    "flightgear": (
        Part("flightgear-data-base", "usr/share/games/flightgear"),
        Part("flightgear-data-ai", "usr/share/games/flightgear"),
        Part("flightgear-data-models", "usr/share/games/flightgear"),
    ),
    "wesnoth": (Part("wesnoth-1.16-data", "usr/share/games/wesnoth/1.16/data"),),
    "torcs": (Part("torcs-data", "usr/share/games/torcs"),),
    "minetest": (Part("minetest-data", "usr/share/games/minetest/games"),),
    "freedroidrpg": (Part("freedroidrpg-data", "usr/share/freedroidrpg/data"),),
    "scorched3d": (Part("scorched3d-data", "usr/share/games/scorched3d/data"),),
    "hedgewars": (Part("hedgewars-data", "usr/share/games/hedgewars/Data"),),
    "endlesssky": (Part("endless-sky-data", "usr/share/games/endless-sky/images"),),
    "naev": (Part("naev-data", "usr/share/naev/dat"),),
    "openclonk": (Part("openclonk-data", "usr/share/games/openclonk", ("*.ocd", "*.ocg", "*.ocf")),),
    "warzone2100": (Part("warzone2100-data", "usr/share/games/warzone2100", ("base.wz", "mp.wz")),),
    "widelands": (Part("widelands-data", "usr/share/games/widelands/data"),),
    "unknownhorizons": (Part("unknown-horizons", "usr/share/unknown-horizons/content"),),
    "supertux": (Part("supertux-data", "usr/share/games/supertux2"),),
}
GAMES = tuple(GAME_PARTS)
PACKAGES = {part.package: game for game, parts in GAME_PARTS.items() for part in parts}
# 0 A.D.'s zips are large and read member by member; every other archive is extracted once.
MEMBER_ZIPS = {"0ad": ("public/public.zip", "mod/mod.zip")}
TEXTURE_EXTENSIONS = (".dds", ".png", ".tga", ".jpg", ".jpeg", ".bmp")
ALL_EXTENSIONS = TEXTURE_EXTENSIONS + archives.SGI_EXTENSIONS


def default_work_dir() -> Path:
    return Path(os.environ.get("TEXTURE_SORTER_DATA", "/work/data"))


def copyright_file(work_dir: Path, package: str) -> Path:
    return work_dir / "unpacked" / package / "usr/share/doc" / package / "copyright"


@dataclass(frozen=True)
class SourceFile:
    """One texture of one game: `relpath` is what the label rules see; `location` where to read it."""

    game: str
    relpath: str
    location: str  # a file path, or "<zip path>::<member>"

    @property
    def uid(self) -> str:
        return f"{self.game}:{self.relpath}"


def _download(debs: Path, package: str) -> Path:
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        log.info("downloading %s", package)
        subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        raise RuntimeError(f"apt-get download {package} produced no .deb in {debs} (run apt-get update?)")
    return found[-1]


def fetch(work_dir: Path) -> None:
    """apt-get download + dpkg -x each package not unpacked yet (needs `apt-get update` once),
    then extract the archives and convert the SGI images of each game not extracted yet."""
    debs = work_dir / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for game, parts in GAME_PARTS.items():
        for part in parts:
            target = work_dir / "unpacked" / part.package
            if (target / part.root).is_dir() and copyright_file(work_dir, part.package).exists():
                continue
            deb = _download(debs, part.package)
            target.mkdir(parents=True, exist_ok=True)
            log.info("unpacking %s", deb.name)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
        _extract(work_dir, game)


def _extract(work_dir: Path, game: str) -> None:
    out = work_dir / "extracted" / game
    done = out / ".done"
    if done.exists():
        return
    count = 0
    for part in GAME_PARTS[game]:
        root = work_dir / "unpacked" / part.package / part.root
        for pattern in part.archives:
            for archive in sorted(root.glob(pattern)):
                if archive.is_file():
                    count += archives.extract_textures(archive, out, ALL_EXTENSIONS)
    for source in _walk_files(work_dir, game):
        if source.suffix.lower() in archives.SGI_EXTENSIONS:
            rel = _relpath(work_dir, game, source)
            count += archives.sgi_to_png(source, out / (rel + ".png"))
    out.mkdir(parents=True, exist_ok=True)
    done.write_text(f"{count}\n")
    log.info("%s: %d files extracted or converted", game, count)


def _walk_files(work_dir: Path, game: str) -> Iterator[Path]:
    for part in GAME_PARTS[game]:
        root = work_dir / "unpacked" / part.package / part.root
        if not root.is_dir():
            raise RuntimeError(f"{root} is missing: run the fetch stage first")
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() in ALL_EXTENSIONS and path.is_file():
                yield path


def _relpath(work_dir: Path, game: str, path: Path) -> str:
    for part in GAME_PARTS[game]:
        root = work_dir / "unpacked" / part.package / part.root
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    raise ValueError(path)


def package_versions(work_dir: Path) -> dict[str, str]:
    """Package → version of the .deb the data came from (for the model card)."""
    versions = {}
    for package in PACKAGES:
        found = sorted((work_dir / "debs").glob(f"{package}_*.deb"))
        if found:
            versions[package] = found[-1].name.split("_")[1].replace("%3a", ":")
    return versions


def iter_sources(work_dir: Path, games: tuple[str, ...] = GAMES) -> Iterator[SourceFile]:
    """Every texture file of the games, in a stable order."""
    for game in games:
        parts = GAME_PARTS[game]
        for archive in MEMBER_ZIPS.get(game, ()):
            path = work_dir / "unpacked" / parts[0].package / parts[0].root / archive
            with zipfile.ZipFile(path) as zf:
                for name in sorted(zf.namelist()):
                    if name.lower().endswith(TEXTURE_EXTENSIONS):
                        yield SourceFile(game, name, f"{path}::{name}")
        extracted = work_dir / "extracted" / game
        for path in _walk_files(work_dir, game):
            rel = _relpath(work_dir, game, path)
            if path.suffix.lower() in archives.SGI_EXTENSIONS:
                converted = extracted / (rel + ".png")
                if converted.exists():
                    yield SourceFile(game, rel, str(converted))
            else:
                yield SourceFile(game, rel, str(path))
        if any(part.archives for part in parts):
            for path in sorted(extracted.rglob("*")):
                if path.suffix.lower() in TEXTURE_EXTENSIONS and path.is_file():
                    rel = path.relative_to(extracted).as_posix()
                    if not (rel.endswith(".png") and rel[:-4].lower().endswith(archives.SGI_EXTENSIONS)):
                        yield SourceFile(game, rel, str(path))


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
