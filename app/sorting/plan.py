"""Sort plans: where every classified file goes, decided (and shown, saved) before anything moves.

A plan maps each source file to `OUT/<category id>/…/<name>` by a layout preset, sends low
confidence to `OUT/_unsorted/`, places duplicate groups, and resolves name clashes into numbered
sibling folders (`_clash-2/name.png`): names are never changed, because emulators find
replacement textures by file name. Plans are plain data and round-trip through JSON.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from ai.errors import SortError
from app.results import FileResult
from app.sorting.dedupe import DEDUPE_MODES, DEFAULT_NEAR_THRESHOLD, DuplicateGroup, find_groups

log = logging.getLogger(__name__)

PLAN_VERSION = 1
STATE_DIR_NAME = ".texture-sorter"  # same name app.scan skips
MODES = ("copy", "move")
LAYOUTS = ("category", "category-format", "structure", "flat")
DUPLICATE_POLICIES = ("separate", "together")
DEFAULT_UNSORTED = "_unsorted"
DUPLICATES_DIR = "_duplicates"
CLASH_PREFIX = "_clash-"
MANIFEST_NAME = "texture-sorter-manifest"

_CLASH_DIR = re.compile(r"^_clash-(\d+)$")
# Characters no common file system accepts in a folder name, plus control characters.
_BAD_FOLDER_CHARS = re.compile(r'[<>:"|?*\\\x00-\x1f]')


@dataclass
class PlanEntry:
    source: str  # absolute path of the file as it is now
    dest: str  # absolute planned destination; apply may move it to a later _clash-N folder
    category: str | None  # the predicted category (also for unsorted and duplicate entries)
    confidence: float
    size: int
    mtime: float  # source size and mtime at classification: a changed file is skipped at apply
    role: str = "sorted"  # "sorted" | "unsorted" | "duplicate"
    group: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class SkippedFile:
    path: str
    reason: str


@dataclass
class SortPlan:
    out_dir: str
    source_root: str
    mode: str = "copy"
    layout: str = "category"
    min_confidence: float = 0.0
    unsorted_name: str = DEFAULT_UNSORTED
    dedupe: str = "off"
    duplicates: str = "separate"
    entries: list[PlanEntry] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    groups: list[DuplicateGroup] = field(default_factory=list)
    created: float = field(default_factory=time.time)

    def counts(self) -> Counter:
        """Files per destination folder relative to OUT (the dry-run summary)."""
        return Counter(_rel_folder(self.out_dir, e.dest) for e in self.entries)

    def to_json(self) -> dict:
        return {
            "version": PLAN_VERSION,
            "out_dir": self.out_dir,
            "source_root": self.source_root,
            "mode": self.mode,
            "layout": self.layout,
            "min_confidence": self.min_confidence,
            "unsorted_name": self.unsorted_name,
            "dedupe": self.dedupe,
            "duplicates": self.duplicates,
            "created": self.created,
            "entries": [e.to_json() for e in self.entries],
            "skipped": [asdict(s) for s in self.skipped],
            "groups": [g.to_json() for g in self.groups],
        }

    @classmethod
    def from_json(cls, data: dict) -> SortPlan:
        if not isinstance(data, dict) or data.get("version") != PLAN_VERSION:
            raise SortError(f"not a texture-sorter plan (version {PLAN_VERSION})")
        try:
            return cls(
                out_dir=data["out_dir"],
                source_root=data["source_root"],
                mode=data["mode"],
                layout=data["layout"],
                min_confidence=float(data["min_confidence"]),
                unsorted_name=data["unsorted_name"],
                dedupe=data["dedupe"],
                duplicates=data["duplicates"],
                created=float(data.get("created", 0.0)),
                entries=[PlanEntry(**e) for e in data["entries"]],
                skipped=[SkippedFile(**s) for s in data.get("skipped", [])],
                groups=[DuplicateGroup.from_json(g) for g in data.get("groups", [])],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SortError(f"plan is damaged: {exc}") from exc

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the plan as JSON (atomically: a crash leaves the old file or the new one)."""
        write_atomic(path, json.dumps(self.to_json(), indent=1).encode("utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SortPlan:
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise SortError(f"{os.fspath(path)}: cannot read plan: {exc}") from exc
        try:
            return cls.from_json(data)
        except SortError as exc:
            raise SortError(f"{os.fspath(path)}: {exc}") from exc


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace `path` (a file this program owns) with `data` via a synced temporary file."""
    path = os.fspath(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass  # never created or already gone; the original error is what matters
        raise


def is_inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def safe_folder_parts(category: str) -> list[str]:
    """Folder names for a category id: '/' nests, and nothing can climb out of OUT or be invalid."""
    parts = []
    for part in category.replace("\\", "/").split("/"):
        part = _BAD_FOLDER_CHARS.sub("_", part).strip().rstrip(".")
        if part in ("", ".", ".."):
            continue
        parts.append(part)
    return parts or ["_unnamed"]


def format_folder(result: FileResult) -> str:
    """Second-level folder of the category-format layout.

    DDS: the stored pixel format (`BC1`, `BC5`, `B8G8R8A8` …), which decides how a texture may be
    replaced. Other files: `alpha` or `opaque`, with `-4bit`/`-8bit` for indexed colour (PS2 CLUTs).
    """
    info = result.info
    if info is None:
        return "unknown"
    if str(info.format).upper() == "DDS" and info.pixel_format:
        return safe_folder_parts(info.pixel_format)[0]
    folder = "alpha" if info.has_alpha else "opaque"
    pixel_format = str(info.pixel_format or "").upper()
    if pixel_format.startswith(("P8", "PA", "PSMT")) and info.bit_depth:  # palette: P8, PSMT4/CLUT32 …
        folder += f"-{int(info.bit_depth)}bit"
    return folder


class _Reservations:
    """Destinations taken by this plan or already on disk; clashes go to `_clash-N` siblings."""

    def __init__(self):
        self._taken: set[str] = set()

    def _is_free(self, path: str) -> bool:
        # Case-folded: on Windows and macOS 'A.png' and 'a.png' are the same file.
        return path.casefold() not in self._taken and not os.path.lexists(path)

    def reserve(self, folder: str, name: str) -> str:
        path = os.path.join(folder, name)
        n = 1
        while not self._is_free(path):
            n += 1
            path = os.path.join(folder, f"{CLASH_PREFIX}{n}", name)
        self._taken.add(path.casefold())
        return path


def next_clash_path(dest: str) -> str:
    """The next `_clash-N` destination for a planned one that turned out to be taken."""
    folder, name = os.path.split(dest)
    match = _CLASH_DIR.match(os.path.basename(folder))
    base, n = (os.path.dirname(folder), int(match.group(1))) if match else (folder, 1)
    while True:
        n += 1
        candidate = os.path.join(base, f"{CLASH_PREFIX}{n}", name)
        if not os.path.lexists(candidate):
            return candidate


def build_plan(
    results: Iterable[FileResult],
    out_dir: str | os.PathLike[str],
    *,
    source_root: str | os.PathLike[str],
    mode: str = "copy",
    layout: str = "category",
    min_confidence: float = 0.0,
    unsorted_name: str = DEFAULT_UNSORTED,
    dedupe: str = "off",
    duplicates: str = "separate",
    near_threshold: int = DEFAULT_NEAR_THRESHOLD,
) -> SortPlan:
    """Plan where each classified file goes; touches nothing on disk.

    Files with a classification error, files inside OUT, and links leading out of the source
    tree are listed in `plan.skipped` with the reason and stay where they are.
    """
    for value, allowed, what in (
        (mode, MODES, "mode"),
        (layout, LAYOUTS, "layout"),
        (dedupe, DEDUPE_MODES, "dedupe"),
        (duplicates, DUPLICATE_POLICIES, "duplicates"),
    ):
        if value not in allowed:
            raise SortError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")
    unsorted_parts = safe_folder_parts(unsorted_name)
    out = os.path.realpath(os.fspath(out_dir))
    root = os.path.realpath(os.fspath(source_root))
    if is_inside(root, out):
        raise SortError(f"{out}: the output folder is, or contains, the source folder {root}")

    plan = SortPlan(
        out_dir=out,
        source_root=root,
        mode=mode,
        layout=layout,
        min_confidence=float(min_confidence),
        unsorted_name=os.path.join(*unsorted_parts),
        dedupe=dedupe,
        duplicates=duplicates,
    )
    kept: list[tuple[FileResult, str]] = []
    seen: set[str] = set()
    for result in results:
        real = os.path.realpath(result.path)
        reason = None
        if result.error:
            reason = f"not classified: {result.error}"
        elif not is_inside(real, root):
            reason = "a link leading out of the source folder"
        elif is_inside(real, out):
            reason = "inside the output folder"
        elif real in seen:
            reason = f"same file as {real} (linked twice)"
        elif not result.predictions:
            reason = "no prediction"
        if reason:
            plan.skipped.append(SkippedFile(result.path, reason))
            continue
        seen.add(real)
        kept.append((result, real))

    plan.groups = find_groups([r for r, _ in kept], dedupe, threshold=near_threshold)
    by_path = {r.path: (r, real) for r, real in kept}
    group_of: dict[str, DuplicateGroup] = {p: g for g in plan.groups for p in g.members}

    reservations = _Reservations()
    for result, real in kept:
        group = group_of.get(result.path)
        leader = by_path[group.representative][0] if group else result
        role = "sorted"
        if group is not None and duplicates == "separate" and group.representative != result.path:
            role = "duplicate"
            # A group folder only where it gathers several copies: the one copy of a pair (most exact
            # duplicates) goes straight into _duplicates/; the manifest names its group either way.
            folder = os.path.join(out, DUPLICATES_DIR, *([group.id] if len(group.members) > 2 else []))
        else:
            # Together: a whole group follows the category (and confidence) of its largest member.
            if leader.confidence < plan.min_confidence:
                role = "unsorted"
                top = unsorted_parts
            else:
                top = safe_folder_parts(leader.category)
            folder = os.path.join(out, *_layout_parts(plan, top, result, real, root))
        dest = reservations.reserve(folder, os.path.basename(real))
        plan.entries.append(
            PlanEntry(
                source=real,
                dest=dest,
                category=result.category,
                confidence=float(result.confidence),
                size=int(result.size),
                mtime=float(result.mtime),
                role=role,
                group=group.id if group else None,
            )
        )
    log.info(
        "planned %d files (%d skipped, %d groups) into %s",
        len(plan.entries),
        len(plan.skipped),
        len(plan.groups),
        out,
    )
    return plan


def _layout_parts(plan: SortPlan, top: list[str], result: FileResult, real: str, root: str) -> list[str]:
    if plan.layout == "flat":
        return ["-".join(top)]
    if plan.layout == "category-format":
        return [*top, format_folder(result)]
    if plan.layout == "structure":
        rel = os.path.relpath(os.path.dirname(real), root)
        return [*top, *([] if rel == os.curdir else rel.split(os.sep))]
    return top


def _rel_folder(out: str, dest: str) -> str:
    rel = os.path.relpath(os.path.dirname(dest), out)
    return "." if rel == os.curdir else rel.replace(os.sep, "/")


def write_manifest(plan: SortPlan) -> tuple[str, str]:
    """Manifest-only mode: write OUT/texture-sorter-manifest.csv and .json; no texture is touched.

    Each row: the file's current path, its category (or the unsorted folder name when below the
    confidence threshold), the confidence and its duplicate group. Returns both paths.
    """
    os.makedirs(plan.out_dir, exist_ok=True)
    rows = []
    for e in plan.entries:
        category = plan.unsorted_name if e.role == "unsorted" else e.category
        rows.append(
            {
                "path": e.source,
                "category": category,
                "confidence": round(e.confidence, 6),
                "group": e.group or "",
            }
        )
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=["path", "category", "confidence", "group"])
    writer.writeheader()
    writer.writerows(rows)
    csv_path = os.path.join(plan.out_dir, MANIFEST_NAME + ".csv")
    json_path = os.path.join(plan.out_dir, MANIFEST_NAME + ".json")
    # utf-8-sig: spreadsheet programs read non-ASCII file names right only with the BOM.
    write_atomic(csv_path, text.getvalue().encode("utf-8-sig", errors="surrogateescape"))
    document = {
        "source_root": plan.source_root,
        "files": [{**r, "group": r["group"] or None} for r in rows],
        "groups": [g.to_json() for g in plan.groups],
        "skipped": [asdict(s) for s in plan.skipped],
    }
    write_atomic(json_path, json.dumps(document, indent=1).encode("utf-8"))
    return csv_path, json_path
