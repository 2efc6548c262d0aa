"""Duplicate groups of a sort: exact duplicates (same decoded pixels) and near duplicates / LODs.

Exact groups join files whose `pixel_hash` is equal. Near groups also join files whose
perceptual hashes differ in at most `threshold` bits (mip levels, resized and re-padded dumps)
and PCSX2-style mip files (`name-mip1.png` belongs with `name.png`). Groups are the connected
components of those links; each has a representative, its largest member.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ai.errors import TextureError
from ai.textures import decode_memory, load_texture
from ai.textures.hashing import pixel_hash
from ai.textures.phash import FLAT_HASH, as_hash_array, pairs_within, perceptual_hash
from app.results import FileResult

log = logging.getLogger(__name__)

# Bits two perceptual hashes may differ by and still count as one texture. Measured on mips,
# resized, padded and re-encoded copies of real textures (tests/app/test_sort_dedupe.py): 4 is the
# largest value that merged no two distinct fixture textures (6 merged a skin with its mask).
DEFAULT_NEAR_THRESHOLD = 4
DEDUPE_MODES = ("off", "exact", "near")

_MIP_SUFFIX = re.compile(r"^(?P<base>.+)-mip(?P<level>\d+)$", re.IGNORECASE)
_GROUP_NAME_CHARS = re.compile(r"[^\w.\-]+", re.UNICODE)


@dataclass
class DuplicateGroup:
    id: str
    kind: str  # "exact": identical pixels; "near": same picture at other sizes/paddings (maybe exact too)
    members: list[str]  # paths, representative first
    reasons: list[str] = field(default_factory=list)  # what linked them: "pixels", "perceptual", "mip-name"

    @property
    def representative(self) -> str:
        return self.members[0]

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "representative": self.representative,
            "members": list(self.members),
            "linked_by": list(self.reasons),
        }

    @classmethod
    def from_json(cls, data: dict) -> DuplicateGroup:
        return cls(data["id"], data["kind"], list(data["members"]), list(data.get("linked_by", [])))


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:  # path compression keeps later finds O(1)
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)
        return True


def mip_base_name(path: str) -> tuple[str, int] | None:
    """('name.png', level) for a PCSX2-style mip file 'name-mipN.png'; None otherwise."""
    stem, ext = os.path.splitext(os.path.basename(path))
    match = _MIP_SUFFIX.match(stem)
    if not match:
        return None
    return (match.group("base") + ext).casefold(), int(match.group("level"))


def _pixels(result: FileResult) -> int:
    info = result.info
    return int(info.width) * int(info.height) if info is not None else 0


def _representative_key(result: FileResult):
    # Largest picture first; then the base level of a mip chain; then the bigger file; then path order.
    mip = mip_base_name(result.path)
    return (-_pixels(result), mip[1] if mip else 0, -int(result.size or 0), len(result.path), result.path)


def find_groups(
    results: Sequence[FileResult], mode: str = "near", *, threshold: int = DEFAULT_NEAR_THRESHOLD
) -> list[DuplicateGroup]:
    """Duplicate groups (two or more members) among `results`; results with an error are ignored."""
    if mode not in DEDUPE_MODES:
        raise ValueError(f"unknown dedupe mode {mode!r}; expected one of {', '.join(DEDUPE_MODES)}")
    items = [r for r in results if not r.error]
    if mode == "off" or len(items) < 2:
        return []
    uf = _UnionFind(len(items))
    reasons: dict[int, set[str]] = {}

    def link(a: int, b: int, why: str) -> None:
        uf.union(a, b)
        reasons.setdefault(a, set()).add(why)
        reasons.setdefault(b, set()).add(why)

    first_by_pixels: dict[str, int] = {}
    for i, r in enumerate(items):
        if r.pixel_hash:
            j = first_by_pixels.setdefault(r.pixel_hash, i)
            if j != i:
                link(j, i, "pixels")
    exact_only = mode == "exact"
    if not exact_only:
        hashed = [i for i, r in enumerate(items) if r.perceptual_hash not in (None, FLAT_HASH)]
        array = as_hash_array([items[i].perceptual_hash for i in hashed])
        for a, b in pairs_within(array, threshold):
            link(hashed[a], hashed[b], "perceptual")
        by_name: dict[str, list[int]] = {}
        for i, r in enumerate(items):
            key = mip_base_name(r.path)
            by_name.setdefault(key[0] if key else os.path.basename(r.path).casefold(), []).append(i)
        for members in by_name.values():
            # Only a mip file ties names together; two plain files sharing a name are not the same texture.
            if len(members) > 1 and any(mip_base_name(items[m].path) for m in members):
                for m in members[1:]:
                    link(members[0], m, "mip-name")

    components: dict[int, list[int]] = {}
    for i in range(len(items)):
        components.setdefault(uf.find(i), []).append(i)
    groups = []
    for members in components.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda i: _representative_key(items[i]))
        why = sorted(set().union(*(reasons.get(i, set()) for i in members)))
        kind = "exact" if why == ["pixels"] else "near"
        groups.append((members, why, kind))
    groups.sort(key=lambda g: items[g[0][0]].path)
    out = []
    for n, (members, why, kind) in enumerate(groups, start=1):
        out.append(
            DuplicateGroup(_group_id(n, items[members[0]].path), kind, [items[i].path for i in members], why)
        )
    return out


def _group_id(n: int, representative: str) -> str:
    """A folder-safe id that says which texture the group is about: '0007-5a3c1e2f-00005a49'."""
    stem = os.path.splitext(os.path.basename(representative))[0]
    stem = _GROUP_NAME_CHARS.sub("_", stem).strip("._")[:48] or "group"
    return f"{n:04d}-{stem}"


def lacks_hashes(result: FileResult, dedupe: str) -> bool:
    """Whether a classified file lacks a hash that `dedupe` compares (perceptual ones only for "near")."""
    if dedupe == "off" or result.error:
        return False
    return not result.pixel_hash or (dedupe == "near" and result.perceptual_hash is None)


def fill_missing_hashes(
    results: Sequence[FileResult],
    dedupe: str,
    known: MutableMapping[str, tuple[str | None, int | None]] | None = None,
    threads: int = 2,
) -> list[FileResult]:
    """`results` with the hashes `dedupe` compares, decoding again the files classified without them.

    The GUI classifies with pixel hashes only (the learner's need); the perceptual hash is paid for
    here, once per file, when a sort asks for near duplicates. `known` (path → hashes) carries
    the work over between plans. A file that no longer decodes is logged and left ungrouped.
    """
    known = {} if known is None else known

    def hash_file(path: str) -> tuple[str, tuple[str | None, int | None]]:
        try:
            with decode_memory() as hold:  # the full picture is needed: reserved until hashed
                pixels = load_texture(path, hold=hold).pixels
                return path, (pixel_hash(pixels), perceptual_hash(pixels))
        except (TextureError, OSError) as exc:
            log.warning("%s: not checked for duplicates: %s", path, getattr(exc, "reason", exc))
            return path, (None, None)

    todo = [r.path for r in results if lacks_hashes(r, dedupe) and r.path not in known]
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="hash") as pool:
            known.update(pool.map(hash_file, todo))
    filled = []
    for r in results:
        if lacks_hashes(r, dedupe) and r.path in known:
            pixels, perceptual = known[r.path]
            r = dataclasses.replace(
                r,
                pixel_hash=r.pixel_hash or pixels,
                perceptual_hash=r.perceptual_hash if r.perceptual_hash is not None else perceptual,
            )
        filled.append(r)
    return filled
