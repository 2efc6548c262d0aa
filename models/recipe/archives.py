"""Texture files inside game archives: zip-based (.pk3, .wz) and OpenClonk's c4group, plus SGI images.

UFO:AI keeps its art in .pk3 zips, Warzone 2100 in .wz zips and OpenClonk in c4group files
(a gzip stream with its magic bytes changed, holding a scrambled header, an entry table and
nested groups). TORCS and FlightGear store many textures as SGI `.rgb`/`.rgba`/`.bw` images, which
Pillow reads but the app's decoder does not; the fetch stage converts them to PNG once.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

C4_MAGIC = b"\x1e\x8c"
C4_HEADER = 204
C4_ENTRY = 316
C4_ID = b"RedWolf Design GrpFolder"
SGI_EXTENSIONS = (".rgb", ".rgba", ".sgi", ".bw")


def _unscramble(block: bytes) -> bytes:
    """C4Group header scrambling: every byte XOR 237, then bytes 0 and 2 of each triple swapped."""
    out = bytearray(b ^ 237 for b in block)
    for i in range(0, len(out) - 2, 3):
        out[i], out[i + 2] = out[i + 2], out[i]
    return bytes(out)


def _c4_walk(raw: bytes, base: int, prefix: str) -> Iterator[tuple[str, int, int]]:
    header = _unscramble(raw[base : base + C4_HEADER])
    if not header.startswith(C4_ID):
        raise ValueError(f"not a c4group at offset {base}")
    (entries,) = struct.unpack("<i", header[36:40])
    table = base + C4_HEADER
    data = table + C4_ENTRY * entries
    for k in range(entries):
        entry = raw[table + C4_ENTRY * k : table + C4_ENTRY * (k + 1)]
        name = entry[:260].split(b"\0", 1)[0].decode("latin-1")
        _packed, child, size, _reserved, offset = struct.unpack("<iiiii", entry[260:280])
        if child:
            yield from _c4_walk(raw, data + offset, f"{prefix}{name}/")
        else:
            yield f"{prefix}{name}", data + offset, size


def iter_c4group(path: Path) -> Iterator[tuple[str, bytes]]:
    """(member path, bytes) of every file in an OpenClonk group file, nested groups flattened."""
    stream = bytearray(path.read_bytes())
    if stream[:2] != C4_MAGIC:
        raise ValueError(f"{path} is not a packed c4group")
    stream[:2] = b"\x1f\x8b"
    raw = gzip.decompress(bytes(stream))
    for name, offset, size in _c4_walk(raw, 0, f"{path.name}/"):
        yield name, raw[offset : offset + size]


def iter_zip(path: Path) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            if not name.endswith("/"):
                yield name, zf.read(name)


def is_c4group(path: Path) -> bool:
    with open(path, "rb") as fp:
        return fp.read(2) == C4_MAGIC


def extract_textures(archive: Path, out_dir: Path, extensions: tuple[str, ...]) -> int:
    """Write every member of `archive` whose name ends with `extensions` under out_dir; returns the count."""
    members = iter_c4group(archive) if is_c4group(archive) else iter_zip(archive)
    count = 0
    for name, data in members:
        if not name.lower().endswith(extensions) or ".." in Path(name).parts:
            continue
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        count += 1
    return count


def sgi_to_png(source: Path, target: Path) -> bool:
    """Convert one SGI image to an RGBA PNG; False when Pillow cannot read it."""
    try:
        with Image.open(source) as image:
            image.load()
            rgba = image.convert("RGBA")
    except (OSError, ValueError, SyntaxError):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    rgba.save(target, compress_level=1)
    return True
